// QUIC long-header packets (RFC 9000 17.2) and the removal of Initial packet
// protection (RFC 9001 5, RFC 9369 3.3 for QUIC v2). Initial keys derive from
// the client's Destination Connection ID alone, so any observer can open them:
// that is how a ClientHello sent over QUIC becomes readable on a gateway.
// Limits: versions 1 and 2 only; AES-128-GCM (the only Initial AEAD).

import { createCipheriv, createDecipheriv, createHmac, type Cipher } from 'node:crypto';
import { DecodeError, type Decoded } from './decode-error.js';
import { readVarint, varintLength } from './quic-varint.js';

export const QUIC_V1 = 0x00000001;
export const QUIC_V2 = 0x6b3343cf;
/** RFC 9000 17.2: connection IDs of versions 1 and 2 are at most 20 bytes. */
export const MAX_CID_LENGTH = 20;
/** Derived Initial keys kept, by version and DCID (Chromium sends several Initials with one DCID). */
export const KEY_CACHE_MAX = 4096;
/** AES-128-GCM authentication tag. */
export const AEAD_TAG_LENGTH = 16;
/** Header protection sample (RFC 9001 5.4.2). */
export const HP_SAMPLE_LENGTH = 16;

export type LongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry';

/** Long-header packet types by the two type bits, per version (RFC 9000 17.2, RFC 9369 3.2). */
const V1_TYPES: readonly LongPacketType[] = ['initial', '0rtt', 'handshake', 'retry'];
const V2_TYPES: readonly LongPacketType[] = ['retry', 'initial', '0rtt', 'handshake'];

interface VersionParams {
  salt: Buffer;
  keyLabel: string;
  ivLabel: string;
  hpLabel: string;
  types: readonly LongPacketType[];
}

const VERSIONS = new Map<number, VersionParams>([
  [QUIC_V1, { salt: Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex'), keyLabel: 'quic key', ivLabel: 'quic iv', hpLabel: 'quic hp', types: V1_TYPES }],
  [QUIC_V2, { salt: Buffer.from('0dede3def700a6db819381be6e269dcbf9bd2ed9', 'hex'), keyLabel: 'quicv2 key', ivLabel: 'quicv2 iv', hpLabel: 'quicv2 hp', types: V2_TYPES }],
]);

/** True for the QUIC versions whose Initials we can open. */
export function isKnownQuicVersion(version: number): boolean {
  return VERSIONS.has(version);
}

/** A long-header packet's cleartext fields. Byte views point into the datagram. */
export interface LongHeader {
  version: number;
  type: LongPacketType;
  dcid: Uint8Array;
  scid: Uint8Array;
  /** Initial only (empty otherwise). */
  token: Uint8Array;
  /** Offset of the (protected) packet number; -1 for Retry. */
  pnOffset: number;
  /** Offset just past this packet (the next coalesced packet starts here). */
  end: number;
}

/**
 * Cleartext part of the long-header packet at `offset`; `bytes` is the whole
 * packet (header, packet number and protected payload), so coalesced packets are
 * walked by adding it. Retry packets run to the end of the datagram.
 */
export function decodeLongHeader(view: Uint8Array, offset: number): Decoded<LongHeader> {
  if (offset + 7 > view.length) throw new DecodeError('quic.truncated', 'long header');
  const first = view[offset]!;
  if ((first & 0x80) === 0) throw new DecodeError('quic.not_long_header');
  const version = ((view[offset + 1]! << 24) | (view[offset + 2]! << 16) | (view[offset + 3]! << 8) | view[offset + 4]!) >>> 0;
  if (version === 0) throw new DecodeError('quic.version_negotiation');
  const params = VERSIONS.get(version);
  if (params === undefined) throw new DecodeError('quic.unknown_version', version.toString(16));
  if ((first & 0x40) === 0) throw new DecodeError('quic.no_fixed_bit');
  const type = params.types[(first >> 4) & 0x03]!;
  let p = offset + 5;
  const dcidLen = view[p++]!;
  if (dcidLen > MAX_CID_LENGTH) throw new DecodeError('quic.bad_cid_length', `dcid ${dcidLen}`);
  if (p + dcidLen + 1 > view.length) throw new DecodeError('quic.truncated', 'dcid');
  const dcid = view.subarray(p, p + dcidLen);
  p += dcidLen;
  const scidLen = view[p++]!;
  if (scidLen > MAX_CID_LENGTH) throw new DecodeError('quic.bad_cid_length', `scid ${scidLen}`);
  if (p + scidLen > view.length) throw new DecodeError('quic.truncated', 'scid');
  const scid = view.subarray(p, p + scidLen);
  p += scidLen;
  if (type === 'retry') {
    return { value: { version, type, dcid, scid, token: view.subarray(p, p), pnOffset: -1, end: view.length }, bytes: view.length - offset };
  }
  let token = view.subarray(p, p);
  if (type === 'initial') {
    const tokenLen = readVarint(view, p, view.length, 'quic.truncated');
    p += varintLength(view[p]!);
    if (p + tokenLen > view.length) throw new DecodeError('quic.truncated', 'token');
    token = view.subarray(p, p + tokenLen);
    p += tokenLen;
  }
  const length = readVarint(view, p, view.length, 'quic.truncated');
  p += varintLength(view[p]!);
  if (p + length > view.length) throw new DecodeError('quic.truncated', `length ${length} past datagram end`);
  return { value: { version, type, dcid, scid, token, pnOffset: p, end: p + length }, bytes: p + length - offset };
}

// ---- key derivation (RFC 9001 5.1, 5.2; RFC 8446 7.1 HKDF-Expand-Label) ----

/** HKDF-Extract with SHA-256 (RFC 5869 2.2). */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt).update(ikm).digest();
}

/** TLS 1.3 HKDF-Expand-Label with an empty context, SHA-256, length ≤ 32 (one HMAC block). */
export function hkdfExpandLabel(secret: Uint8Array, label: string, length: number): Buffer {
  const full = 'tls13 ' + label;
  const info = Buffer.alloc(2 + 1 + full.length + 1 + 1);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  info.write(full, 3, 'latin1');
  info[3 + full.length] = 0; // empty context
  info[4 + full.length] = 0x01; // HKDF-Expand counter T(1)
  return createHmac('sha256', secret).update(info).digest().subarray(0, length);
}

/** Raw Initial secrets and keys for one side, as the RFC appendices list them. */
export interface InitialSecrets {
  initialSecret: Buffer;
  secret: Buffer;
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
}

/** Derives the Initial keys of `side` for `dcid` (the client's first Destination Connection ID). */
export function deriveInitialSecrets(version: number, dcid: Uint8Array, side: 'client' | 'server'): InitialSecrets {
  const params = VERSIONS.get(version);
  if (params === undefined) throw new DecodeError('quic.unknown_version', version.toString(16));
  const initialSecret = hkdfExtract(params.salt, dcid);
  const secret = hkdfExpandLabel(initialSecret, side === 'client' ? 'client in' : 'server in', 32);
  return {
    initialSecret,
    secret,
    key: hkdfExpandLabel(secret, params.keyLabel, 16),
    iv: hkdfExpandLabel(secret, params.ivLabel, 12),
    hp: hkdfExpandLabel(secret, params.hpLabel, 16),
  };
}

/** Ready-to-use Initial keys: the AEAD key, the IV and a reusable header-protection cipher. */
export interface InitialKeys {
  /** AES-128-GCM key (a Buffer opens faster than a KeyObject in Node 20). */
  key: Buffer;
  iv: Buffer;
  /** AES-128-ECB without padding: every update() of one block yields that block's encryption. */
  hpCipher: Cipher;
}

export function initialKeys(version: number, dcid: Uint8Array, side: 'client' | 'server'): InitialKeys {
  const s = deriveInitialSecrets(version, dcid, side);
  const hpCipher = createCipheriv('aes-128-ecb', s.hp, null);
  hpCipher.setAutoPadding(false);
  return { key: s.key, iv: s.iv, hpCipher };
}

const keyCache = new Map<string, InitialKeys>();
let keyCacheHits = 0;
let keyCacheMisses = 0;

/** Client Initial keys for `dcid`, from a bounded LRU cache. */
export function clientInitialKeys(version: number, dcid: Uint8Array): InitialKeys {
  const id = (version === QUIC_V1 ? '1' : version.toString(16)) + ':' + Buffer.from(dcid.buffer, dcid.byteOffset, dcid.length).toString('latin1');
  let keys = keyCache.get(id);
  if (keys !== undefined) {
    keyCacheHits++;
    keyCache.delete(id); // refresh recency
    keyCache.set(id, keys);
    return keys;
  }
  keyCacheMisses++;
  keys = initialKeys(version, dcid, 'client');
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(id, keys);
  return keys;
}

export function clearInitialKeyCache(): void {
  keyCache.clear();
  keyCacheHits = 0;
  keyCacheMisses = 0;
}

export function initialKeyCacheStats(): { size: number; hits: number; misses: number } {
  return { size: keyCache.size, hits: keyCacheHits, misses: keyCacheMisses };
}

// ---- packet protection removal ----

/**
 * RFC 9000 A.3: the full packet number closest to `largest + 1` whose low
 * `pnBits` bits are `truncated`. Use largest = -1 when nothing was received yet.
 */
export function decodePacketNumber(largest: number, truncated: number, pnBits: number): number {
  const expected = largest + 1;
  const win = 2 ** pnBits;
  const hwin = win / 2;
  // candidate = (expected & ~(win - 1)) | truncated, in arithmetic that is safe above 2^32
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

export interface QuicInitial {
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  token: Uint8Array;
  /** Full packet number (decoded without history, as for a first Initial). */
  pn: number;
  /** Decrypted frames (a fresh buffer, owned by the caller). */
  payload: Uint8Array;
}

/**
 * Opens the Initial packet at `offset` (one of possibly several coalesced in a
 * datagram); `bytes` is the whole packet. By default the client keys of the
 * packet's own DCID are used (right for a client's first flight); pass `keys`
 * for a client that already switched to a server-chosen DCID, or for tests.
 */
export function decodeQuicInitial(view: Uint8Array, offset: number, keys?: InitialKeys): Decoded<QuicInitial> {
  const { value: h, bytes } = decodeLongHeader(view, offset);
  if (h.type !== 'initial') throw new DecodeError('quic.not_initial', h.type);
  const sampleOffset = h.pnOffset + 4;
  if (sampleOffset + HP_SAMPLE_LENGTH > h.end) throw new DecodeError('quic.bad_length', `packet too short for a header protection sample`);
  const k = keys ?? clientInitialKeys(h.version, h.dcid);
  const mask: Buffer = k.hpCipher.update(view.subarray(sampleOffset, sampleOffset + HP_SAMPLE_LENGTH));
  const first = view[offset]! ^ (mask[0]! & 0x0f);
  const pnLen = (first & 0x03) + 1;
  const headerLen = h.pnOffset + pnLen - offset;
  const header = Buffer.allocUnsafe(headerLen);
  header.set(view.subarray(offset, h.pnOffset + pnLen));
  header[0] = first;
  let truncated = 0;
  const pnAt = h.pnOffset - offset;
  for (let i = 0; i < pnLen; i++) {
    const b = header[pnAt + i]! ^ mask[1 + i]!;
    header[pnAt + i] = b;
    truncated = truncated * 256 + b;
  }
  const pn = decodePacketNumber(-1, truncated, pnLen * 8);
  const nonce = Buffer.from(k.iv);
  // nonce = iv XOR pn, pn left-padded to the IV length (RFC 9001 5.3)
  let rest = pn;
  for (let i = nonce.length - 1; i >= nonce.length - 8 && rest > 0; i--) {
    nonce[i] = nonce[i]! ^ (rest % 256);
    rest = Math.floor(rest / 256);
  }
  const ctStart = h.pnOffset + pnLen;
  const ctEnd = h.end - AEAD_TAG_LENGTH;
  let payload: Buffer;
  try {
    const d = createDecipheriv('aes-128-gcm', k.key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    d.setAAD(header);
    d.setAuthTag(view.subarray(ctEnd, h.end));
    const out = d.update(view.subarray(ctStart, ctEnd));
    d.final();
    payload = out;
  } catch {
    throw new DecodeError('quic.undecryptable');
  }
  return { value: { version: h.version, dcid: h.dcid, scid: h.scid, token: h.token, pn, payload }, bytes };
}
