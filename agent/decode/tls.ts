// TLS: record headers, the handshake stream a ClientHello arrives in (possibly
// spread over several records), and the ClientHello itself (RFC 8446 4.1.2,
// RFC 5246 7.4.1.2). Only what a client reveals in clear is read: SNI, ALPN,
// supported versions, signature algorithms, ECH presence, and what JA4 needs.
// Byte views in the results point into the input: valid only as long as it is.

import { Buffer } from 'node:buffer';
import { DecodeError, need, type Decoded } from './decode-error.js';
import {
  EXT_ALPN,
  EXT_ENCRYPTED_CLIENT_HELLO,
  EXT_SERVER_NAME,
  EXT_SIGNATURE_ALGORITHMS,
  EXT_SUPPORTED_VERSIONS,
  SNI_NAME_TYPE_HOST_NAME,
  TLS_CONTENT_HANDSHAKE,
  TLS_HANDSHAKE_CLIENT_HELLO,
  isGrease,
} from './tls-tables.js';
import { ja4 } from './ja4.js';
import type { ClientHelloInfo } from '../observation.js';

export const TLS_RECORD_HEADER_LEN = 5;
export const TLS_HANDSHAKE_HEADER_LEN = 4;
/** RFC 8446 5.2: a record never carries more than 2^14 + 256 bytes; 5.1's plaintext limit is 2^14. We accept up to 2^14 + 2048 (RFC 5246's ciphertext limit). */
export const MAX_TLS_RECORD_LEN = 16384 + 2048;
/** Largest ClientHello (handshake header included) we assemble; real ones are 0.2–2 KB. */
export const MAX_CLIENT_HELLO_LEN = 16384;
/** RFC 8446 4.1.2: legacy_session_id<0..32>. */
export const MAX_SESSION_ID_LEN = 32;
/** RFC 6066 3 / RFC 1035: a host name is at most 255 bytes (253 in text form, plus slack for a trailing dot). */
export const MAX_SERVER_NAME_LEN = 255;

export interface TlsRecordHeader {
  contentType: number;
  /** Record-layer version, e.g. 0x0301. */
  version: number;
  /** Length of the record body that follows the 5-byte header. */
  length: number;
}

/** The 5-byte TLS record header at `offset`. */
export function decodeTlsRecordHeader(view: Uint8Array, offset: number): Decoded<TlsRecordHeader> {
  need(view, offset, TLS_RECORD_HEADER_LEN, 'tls.truncated_record');
  const contentType = view[offset];
  if (contentType < 20 || contentType > 24) throw new DecodeError('tls.bad_record_type', `content type ${contentType}`);
  const major = view[offset + 1];
  const minor = view[offset + 2];
  if (major !== 3 || minor > 4) throw new DecodeError('tls.bad_record_version', `version ${major}.${minor}`);
  const length = (view[offset + 3] << 8) | view[offset + 4];
  if (length > MAX_TLS_RECORD_LEN) throw new DecodeError('tls.bad_record_length', `record length ${length}`);
  if (length === 0 && contentType === TLS_CONTENT_HANDSHAKE) throw new DecodeError('tls.bad_record_length', 'empty handshake record');
  return { value: { contentType, version: (major << 8) | minor, length }, bytes: TLS_RECORD_HEADER_LEN };
}

/** True when `view` starts like a TLS handshake record (0x16 0x03 0x00–0x04): how a TLS client stream is recognised on any port. */
export function looksLikeTlsHandshakeRecord(view: Uint8Array, offset: number): boolean {
  return view.length - offset >= 3 && view[offset] === TLS_CONTENT_HANDSHAKE && view[offset + 1] === 3 && view[offset + 2] <= 4;
}

export interface HandshakeAssembly {
  /** Handshake-layer bytes (record bodies concatenated), from the first handshake type byte. */
  data: Uint8Array;
  /** 4 + the declared length of the first handshake message, or -1 while its header is not all there. */
  messageLength: number;
  /** `data` holds the whole first handshake message (and nothing after it). */
  complete: boolean;
  /** Why assembly stopped for good (a DecodeError reason), or null. `data` still holds what came before. */
  error: string | null;
}

/**
 * Reassembles the first handshake message (the ClientHello) from a client's TCP
 * byte stream prefix, which starts at a record header: concatenates the bodies of
 * consecutive handshake records (type 22) until the message is whole. Never throws.
 * When the first record holds the whole message, `data` is a view (no copy).
 */
export function assembleHandshake(stream: Uint8Array): HandshakeAssembly {
  let off = 0;
  let parts: Uint8Array[] | null = null;
  let first: Uint8Array | null = null;
  let total = 0;
  let messageLength = -1;
  let error: string | null = null;
  while (off + TLS_RECORD_HEADER_LEN <= stream.length) {
    let rec: TlsRecordHeader;
    try {
      rec = decodeTlsRecordHeader(stream, off).value;
    } catch (e) {
      error = (e as DecodeError).reason;
      break;
    }
    if (rec.contentType !== TLS_CONTENT_HANDSHAKE) {
      error = 'tls.unexpected_record';
      break;
    }
    const bodyStart = off + TLS_RECORD_HEADER_LEN;
    const bodyEnd = Math.min(bodyStart + rec.length, stream.length);
    const body = stream.subarray(bodyStart, bodyEnd);
    if (first === null) first = body;
    else (parts ??= [first]).push(body);
    total += body.length;
    if (messageLength < 0 && total >= TLS_HANDSHAKE_HEADER_LEN) {
      const hdr = first.length >= TLS_HANDSHAKE_HEADER_LEN ? first : concat(parts ?? [first], TLS_HANDSHAKE_HEADER_LEN);
      if (hdr[0] !== TLS_HANDSHAKE_CLIENT_HELLO) {
        error = 'tls.not_client_hello';
        break;
      }
      messageLength = TLS_HANDSHAKE_HEADER_LEN + ((hdr[1] << 16) | (hdr[2] << 8) | hdr[3]);
      if (messageLength > MAX_CLIENT_HELLO_LEN) {
        error = 'tls.hello_too_large';
        break;
      }
    }
    if (messageLength >= 0 && total >= messageLength) break;
    if (bodyEnd < bodyStart + rec.length) break; // this record is not all there yet
    off = bodyStart + rec.length;
  }
  let data: Uint8Array = first === null ? new Uint8Array(0) : parts === null ? first : concat(parts, total);
  const complete = error === null && messageLength >= 0 && data.length >= messageLength;
  if (complete) data = data.subarray(0, messageLength);
  return { data, messageLength, complete, error };
}

function concat(parts: Uint8Array[], limit: number): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(Math.min(n, limit));
  let at = 0;
  for (const p of parts) {
    if (at >= out.length) break;
    const take = Math.min(p.length, out.length - at);
    out.set(take === p.length ? p : p.subarray(0, take), at);
    at += take;
  }
  return out;
}

export interface TlsExtension {
  type: number;
  /** Extension body (a view into the input). */
  data: Uint8Array;
}

export interface ClientHello {
  legacyVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  /** In wire order, GREASE included. */
  cipherSuites: number[];
  compressionMethods: Uint8Array;
  /** In wire order, GREASE included. */
  extensions: TlsExtension[];
  /** First host_name of the server_name extension, as Latin-1 text (one char per byte, nothing lost); null when absent. */
  serverName: string | null;
  /** The name holds bytes that are not host-name characters (NUL, controls, spaces, non-ASCII …). */
  serverNameMalformed: boolean;
  /** ALPN protocol names in order (Latin-1 text). */
  alpn: string[];
  /** Raw first ALPN protocol name (JA4 needs the bytes), null without ALPN values. */
  alpnFirstRaw: Uint8Array | null;
  /** supported_versions values in order, GREASE included; empty when the extension is absent. */
  supportedVersions: number[];
  hasSupportedVersions: boolean;
  /** signature_algorithms values in order, GREASE included. */
  signatureAlgorithms: number[];
  /** encrypted_client_hello (0xfe0d) present. */
  ech: boolean;
}

/**
 * A ClientHello handshake message at `offset` (its type byte, 0x01). Every length
 * is checked against the message bounds; anything inconsistent throws DecodeError
 * `tls.*`. `bytes` is 4 + the declared message length.
 */
export function decodeClientHello(view: Uint8Array, offset: number): Decoded<ClientHello> {
  need(view, offset, TLS_HANDSHAKE_HEADER_LEN, 'tls.truncated_hello');
  if (view[offset] !== TLS_HANDSHAKE_CLIENT_HELLO) throw new DecodeError('tls.not_client_hello', `handshake type ${view[offset]}`);
  const len = (view[offset + 1] << 16) | (view[offset + 2] << 8) | view[offset + 3];
  need(view, offset + TLS_HANDSHAKE_HEADER_LEN, len, 'tls.truncated_hello');
  const end = offset + TLS_HANDSHAKE_HEADER_LEN + len;
  let p = offset + TLS_HANDSHAKE_HEADER_LEN;

  if (end - p < 2 + 32 + 1) throw new DecodeError('tls.bad_hello', 'too short for version, random and session id');
  const legacyVersion = (view[p] << 8) | view[p + 1];
  const random = view.subarray(p + 2, p + 34);
  p += 34;
  const sidLen = view[p++];
  if (sidLen > MAX_SESSION_ID_LEN || p + sidLen > end) throw new DecodeError('tls.bad_session_id', `session id length ${sidLen}`);
  const sessionId = view.subarray(p, p + sidLen);
  p += sidLen;

  if (p + 2 > end) throw new DecodeError('tls.bad_cipher_suites', 'no cipher suites length');
  const csLen = (view[p] << 8) | view[p + 1];
  p += 2;
  if (csLen < 2 || csLen % 2 !== 0 || p + csLen > end) throw new DecodeError('tls.bad_cipher_suites', `cipher suites length ${csLen}`);
  const cipherSuites: number[] = new Array(csLen / 2);
  for (let i = 0; i < csLen; i += 2) cipherSuites[i / 2] = (view[p + i] << 8) | view[p + i + 1];
  p += csLen;

  if (p + 1 > end) throw new DecodeError('tls.bad_compression', 'no compression methods length');
  const cmLen = view[p++];
  if (cmLen < 1 || p + cmLen > end) throw new DecodeError('tls.bad_compression', `compression methods length ${cmLen}`);
  const compressionMethods = view.subarray(p, p + cmLen);
  p += cmLen;

  const hello: ClientHello = { ...emptyHello(), legacyVersion, random, sessionId, cipherSuites, compressionMethods };

  // RFC 5246 7.4.1.2: the extensions block may be absent altogether (old clients).
  if (p < end) {
    if (p + 2 > end) throw new DecodeError('tls.bad_extensions', 'truncated extensions length');
    const extLen = (view[p] << 8) | view[p + 1];
    p += 2;
    if (p + extLen !== end) throw new DecodeError('tls.bad_extensions', `extensions length ${extLen}, ${end - p} bytes left`);
    while (p < end) {
      if (p + 4 > end) throw new DecodeError('tls.bad_extensions', 'truncated extension header');
      const type = (view[p] << 8) | view[p + 1];
      const len = (view[p + 2] << 8) | view[p + 3];
      p += 4;
      if (p + len > end) throw new DecodeError('tls.bad_extensions', `extension 0x${type.toString(16)} length ${len} overruns`);
      const data = view.subarray(p, p + len);
      hello.extensions.push({ type, data });
      applyExtension(hello, type, data, false);
      p += len;
    }
  }
  return { value: hello, bytes: end - offset };
}

// Fills the fields of `hello` an extension carries; throws DecodeError on a malformed
// body. Duplicates (forbidden by RFC 8446 4.2) keep the first occurrence.
function applyExtension(hello: ClientHello, type: number, data: Uint8Array, _partial: boolean): void {
  switch (type) {
    case EXT_SERVER_NAME:
      if (hello.serverName === null) parseServerName(hello, data);
      return;
    case EXT_ALPN:
      if (hello.alpnFirstRaw === null && hello.alpn.length === 0) parseAlpn(hello, data);
      return;
    case EXT_SUPPORTED_VERSIONS:
      if (!hello.hasSupportedVersions) parseSupportedVersions(hello, data);
      return;
    case EXT_SIGNATURE_ALGORITHMS:
      if (hello.signatureAlgorithms.length === 0) parseSignatureAlgorithms(hello, data);
      return;
    case EXT_ENCRYPTED_CLIENT_HELLO:
      hello.ech = true;
      return;
    default:
      return;
  }
}

// RFC 6066 3: ServerNameList = server_name_list<1..2^16-1>, each NameType(1) + opaque<1..2^16-1>.
function parseServerName(hello: ClientHello, d: Uint8Array): void {
  // An empty extension body is what a server sends back; a client must send a list.
  if (d.length < 2) throw new DecodeError('tls.bad_server_name', 'no list length');
  const listLen = (d[0] << 8) | d[1];
  if (listLen + 2 !== d.length) throw new DecodeError('tls.bad_server_name', `list length ${listLen} in ${d.length} bytes`);
  let p = 2;
  while (p < d.length) {
    if (p + 3 > d.length) throw new DecodeError('tls.bad_server_name', 'truncated entry');
    const nameType = d[p];
    const nameLen = (d[p + 1] << 8) | d[p + 2];
    p += 3;
    if (p + nameLen > d.length) throw new DecodeError('tls.bad_server_name', `name length ${nameLen} overruns`);
    if (nameType === SNI_NAME_TYPE_HOST_NAME && hello.serverName === null) {
      if (nameLen === 0 || nameLen > MAX_SERVER_NAME_LEN) throw new DecodeError('tls.bad_server_name', `host name length ${nameLen}`);
      const raw = d.subarray(p, p + nameLen);
      hello.serverName = latin1(raw);
      hello.serverNameMalformed = !isHostNameBytes(raw, 0, raw.length);
    }
    p += nameLen;
  }
}

// RFC 7301 3.1: ProtocolNameList = protocol_name_list<2..2^16-1>, each opaque<1..2^8-1>.
function parseAlpn(hello: ClientHello, d: Uint8Array): void {
  if (d.length < 2) throw new DecodeError('tls.bad_alpn', 'no list length');
  const listLen = (d[0] << 8) | d[1];
  if (listLen + 2 !== d.length) throw new DecodeError('tls.bad_alpn', `list length ${listLen} in ${d.length} bytes`);
  let p = 2;
  while (p < d.length) {
    const n = d[p++];
    if (p + n > d.length) throw new DecodeError('tls.bad_alpn', `protocol length ${n} overruns`);
    const raw = d.subarray(p, p + n);
    if (hello.alpnFirstRaw === null) hello.alpnFirstRaw = raw;
    hello.alpn.push(latin1(raw));
    p += n;
  }
}

// RFC 8446 4.2.1: ClientHello form, versions<2..254>.
function parseSupportedVersions(hello: ClientHello, d: Uint8Array): void {
  if (d.length < 1) throw new DecodeError('tls.bad_supported_versions', 'empty');
  const n = d[0];
  if (n % 2 !== 0 || n + 1 !== d.length) throw new DecodeError('tls.bad_supported_versions', `length ${n} in ${d.length} bytes`);
  for (let i = 1; i < d.length; i += 2) hello.supportedVersions.push((d[i] << 8) | d[i + 1]);
  hello.hasSupportedVersions = true;
}

// RFC 8446 4.2.3: supported_signature_algorithms<2..2^16-2>.
function parseSignatureAlgorithms(hello: ClientHello, d: Uint8Array): void {
  if (d.length < 2) throw new DecodeError('tls.bad_signature_algorithms', 'no list length');
  const n = (d[0] << 8) | d[1];
  if (n % 2 !== 0 || n + 2 !== d.length) throw new DecodeError('tls.bad_signature_algorithms', `length ${n} in ${d.length} bytes`);
  for (let i = 2; i < d.length; i += 2) hello.signatureAlgorithms.push((d[i] << 8) | d[i + 1]);
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** Letters, digits, '-', '.', '_' (seen in real names although not LDH). */
function isHostNameByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f;
}

function isHostNameBytes(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isHostNameByte(b[i])) return false;
  return true;
}

/** The observation view of a whole ClientHello, JA4 included. */
export function clientHelloInfo(ch: ClientHello, transport: 'tcp' | 'quic'): ClientHelloInfo {
  const info: ClientHelloInfo = {
    serverName: ch.serverName,
    alpn: ch.alpn.slice(),
    supportedVersions: versionsOf(ch.hasSupportedVersions, ch.supportedVersions, ch.legacyVersion),
    ja4: ja4(ch, transport),
    ech: ch.ech,
    complete: true,
  };
  if (ch.serverNameMalformed) info.serverNameMalformed = true;
  return info;
}

function versionsOf(has: boolean, versions: number[], legacy: number): number[] {
  if (has) {
    const out = versions.filter((v) => !isGrease(v));
    if (out.length > 0) return out;
  }
  return legacy >= 0 ? [legacy] : [];
}

/**
 * What a PREFIX of a ClientHello handshake message (from its type byte; e.g. the
 * first TCP segment when the second was lost, or a QUIC CRYPTO stream before a gap)
 * reveals: every extension that lies whole inside the prefix is read (SNI if its
 * extension is whole). A prefix of a valid hello yields exactly the values the whole
 * hello has, never others. Returns null when the bytes present contradict a
 * ClientHello's structure. Never throws. `complete` is false and `ja4` null.
 */
export function partialClientHelloInfo(stream: Uint8Array): ClientHelloInfo | null {
  if (stream.length < 1 || stream[0] !== TLS_HANDSHAKE_CLIENT_HELLO) return null;
  const hello = emptyHello();
  let legacy = -1;
  const n = stream.length;
  // Declared end of the message, when its header is here.
  const end = n >= 4 ? TLS_HANDSHAKE_HEADER_LEN + ((stream[1] << 16) | (stream[2] << 8) | stream[3]) : Infinity;
  const info = (): ClientHelloInfo => {
    const out: ClientHelloInfo = {
      serverName: hello.serverName,
      alpn: hello.alpn,
      supportedVersions: versionsOf(hello.hasSupportedVersions, hello.supportedVersions, legacy),
      ja4: null,
      ech: hello.ech,
      complete: false,
    };
    if (hello.serverNameMalformed) out.serverNameMalformed = true;
    return out;
  };
  let p = TLS_HANDSHAKE_HEADER_LEN;
  if (p + 2 > n) return info();
  legacy = (stream[p] << 8) | stream[p + 1];
  p += 34; // version + random
  if (p + 1 > n) return info();
  const sidLen = stream[p++];
  if (sidLen > MAX_SESSION_ID_LEN) return null;
  p += sidLen;
  if (p + 2 > n) return info();
  const csLen = (stream[p] << 8) | stream[p + 1];
  if (csLen < 2 || csLen % 2 !== 0) return null;
  p += 2 + csLen;
  if (p + 1 > n) return info();
  const cmLen = stream[p++];
  if (cmLen < 1) return null;
  p += cmLen;
  if (p > end) return null;
  if (p === end) return info(); // no extensions at all
  if (p + 2 > n) return info();
  const extLen = (stream[p] << 8) | stream[p + 1];
  p += 2;
  if (end !== Infinity && p + extLen !== end) return null;
  const extEnd = p + extLen;
  while (p + 4 <= n && p < extEnd) {
    const type = (stream[p] << 8) | stream[p + 1];
    const len = (stream[p + 2] << 8) | stream[p + 3];
    p += 4;
    if (p + len > extEnd) return null;
    if (p + len > n) break; // this extension runs past the prefix
    try {
      applyExtension(hello, type, stream.subarray(p, p + len), true);
    } catch {
      return null; // a whole extension that does not parse: not a hello we can trust
    }
    p += len;
  }
  return info();
}

function emptyHello(): ClientHello {
  return {
    legacyVersion: -1,
    random: new Uint8Array(0),
    sessionId: new Uint8Array(0),
    cipherSuites: [],
    compressionMethods: new Uint8Array(0),
    extensions: [],
    serverName: null,
    serverNameMalformed: false,
    alpn: [],
    alpnFirstRaw: null,
    supportedVersions: [],
    hasSupportedVersions: false,
    signatureAlgorithms: [],
    ech: false,
  };
}

/** Shortest name findServerNameInFragment accepts ("a.io" is 4). */
export const MIN_FRAGMENT_SERVER_NAME_LEN = 4;

/**
 * Finds a server_name extension in a chunk cut from the MIDDLE of a ClientHello
 * (e.g. the CRYPTO frames of a QUIC Initial after a gap), where nothing before it
 * can be parsed. A candidate at byte i must satisfy all of:
 *   type 0x0000; ext_len = list_len + 2; list_len = name_len + 3; name_type 0;
 *   the name whole inside the chunk; MIN_FRAGMENT_SERVER_NAME_LEN ≤ name_len ≤ 253;
 *   only letters, digits, '-', '_' and '.'; at least one dot; no empty label, no
 *   label over 63 bytes; does not start with '-' or '.'.
 * Why false positives are negligible: the two length equalities plus the zero bytes
 * fix 5 bytes given name_len (≈2^-40 per offset for random bytes), and the name
 * must then be ≥4 host-name characters with a dot (≤ (65/256)^4 more). The bytes
 * around an SNI in a real ClientHello are other extensions: key shares and random
 * data are uniformly random; structured extensions (groups, sigalgs, versions) are
 * short lists of 2-byte values that cannot carry a dotted name. Returns the first
 * match, as Latin-1 text, or null.
 */
export function findServerNameInFragment(frag: Uint8Array): string | null {
  const n = frag.length;
  for (let i = 0; i + 9 + MIN_FRAGMENT_SERVER_NAME_LEN <= n; i++) {
    if (frag[i] !== 0 || frag[i + 1] !== 0 || frag[i + 6] !== SNI_NAME_TYPE_HOST_NAME) continue;
    const extLen = (frag[i + 2] << 8) | frag[i + 3];
    const listLen = (frag[i + 4] << 8) | frag[i + 5];
    const nameLen = (frag[i + 7] << 8) | frag[i + 8];
    if (extLen !== listLen + 2 || listLen !== nameLen + 3) continue;
    if (nameLen < MIN_FRAGMENT_SERVER_NAME_LEN || nameLen > 253) continue;
    const start = i + 9;
    if (start + nameLen > n) continue;
    if (plausibleHostName(frag, start, start + nameLen)) return latin1(frag.subarray(start, start + nameLen));
  }
  return null;
}

function plausibleHostName(b: Uint8Array, start: number, end: number): boolean {
  let labelLen = 0;
  let dots = 0;
  if (b[start] === 0x2d || b[start] === 0x2e) return false;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c === 0x2e) {
      if (labelLen === 0) return false;
      dots++;
      labelLen = 0;
      continue;
    }
    if (!isHostNameByte(c)) return false;
    if (++labelLen > 63) return false;
  }
  // A trailing dot (absolute name) is allowed: then the last label is empty.
  return dots > 0 && (labelLen > 0 || dots > 1);
}
