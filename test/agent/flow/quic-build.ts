// Test-side QUIC Initial protection (RFC 9001 5.3, 5.4): builds client Initial
// packets the way a client does, so the table can be fed CRYPTO frames split and
// ordered at will. Checked against RFC 9001 A.2 in quic-initials.test.ts.
import { createCipheriv } from 'node:crypto';
import { QUIC_V1, QUIC_V2, deriveInitialSecrets } from '../../../agent/decode/quic-initial.js';
import type { L4Packet } from '../../../agent/packet.js';

export function varint(v: number): Buffer {
  if (v < 0x40) return Buffer.from([v]);
  if (v < 0x4000) return Buffer.from([0x40 | (v >> 8), v & 0xff]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((0x80000000 | v) >>> 0);
  return b;
}

export function cryptoFrame(offset: number, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x06]), varint(offset), varint(data.length), data]);
}

export interface InitialOptions {
  version?: number;
  dcid: Uint8Array;
  scid?: Uint8Array;
  /** DCID whose client keys protect the packet (default: dcid). */
  keyDcid?: Uint8Array;
  pn: number;
  pnLen?: number;
  token?: Uint8Array;
  /** Pad the payload with PADDING so the packet is at least this long (default 1200). */
  minSize?: number;
  /** Long-header type bits to write (default: Initial of the version). */
  typeBits?: number;
}

export function protectInitial(frames: Uint8Array, o: InitialOptions): Buffer {
  const version = o.version ?? QUIC_V1;
  const pnLen = o.pnLen ?? 4;
  const scid = o.scid ?? Buffer.alloc(0);
  const token = o.token ?? Buffer.alloc(0);
  const typeBits = o.typeBits ?? (version === QUIC_V2 ? 0b01 : 0b00);
  const s = deriveInitialSecrets(version, o.keyDcid ?? o.dcid, 'client');
  const headNoLen = Buffer.concat([
    Buffer.from([0xc0 | (typeBits << 4) | (pnLen - 1)]),
    Buffer.from([(version >>> 24) & 0xff, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff]),
    Buffer.from([o.dcid.length]),
    o.dcid,
    Buffer.from([scid.length]),
    scid,
    varint(token.length),
    token,
  ]);
  const minSize = o.minSize ?? 1200;
  let payload = Buffer.from(frames);
  // header + 2-byte length + pn + payload + tag ≥ minSize, and pn + payload ≥ 4 + 16 for the sample
  let pad = Math.max(0, minSize - (headNoLen.length + 2 + pnLen + payload.length + 16));
  if (payload.length + pad < 4 - pnLen) pad = 4 - pnLen - payload.length; // room for the header protection sample
  payload = Buffer.concat([payload, Buffer.alloc(pad)]);
  const length = pnLen + payload.length + 16;
  const pnBytes = Buffer.alloc(pnLen);
  for (let i = 0; i < pnLen; i++) pnBytes[pnLen - 1 - i] = Math.floor(o.pn / 256 ** i) & 0xff;
  const header = Buffer.concat([headNoLen, Buffer.from([0x40 | (length >> 8), length & 0xff]), pnBytes]);
  const nonce = Buffer.from(s.iv);
  for (let i = 0; i < 8; i++) nonce[11 - i] ^= Math.floor(o.pn / 256 ** i) & 0xff;
  const c = createCipheriv('aes-128-gcm', s.key, nonce);
  c.setAAD(header);
  const ct = Buffer.concat([c.update(payload), c.final(), c.getAuthTag()]);
  const pnOffset = header.length - pnLen;
  const sample = ct.subarray(4 - pnLen, 4 - pnLen + 16);
  const hp = createCipheriv('aes-128-ecb', s.hp, null);
  hp.setAutoPadding(false);
  const mask = hp.update(sample);
  const out = Buffer.concat([header, ct]);
  out[0] ^= mask[0]! & 0x0f;
  for (let i = 0; i < pnLen; i++) out[pnOffset + i] ^= mask[1 + i]!;
  return out;
}

export function udp(payload: Uint8Array, o: { src?: number[]; dst?: number[]; srcPort?: number; dstPort?: number; ts?: number } = {}): L4Packet {
  const src = Uint8Array.from(o.src ?? [10, 0, 0, 2]);
  const ts = o.ts ?? 1700000000;
  return {
    tsSec: Math.floor(ts),
    tsNsec: Math.round((ts % 1) * 1e9),
    ipVersion: src.length === 16 ? 6 : 4,
    src,
    dst: Uint8Array.from(o.dst ?? [192, 0, 2, 7]),
    transport: 'udp',
    srcPort: o.srcPort ?? 50000,
    dstPort: o.dstPort ?? 443,
    seq: 0,
    ack: 0,
    flags: 0,
    payload,
  };
}
