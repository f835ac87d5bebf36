// Small tools for making captures from the fixtures: read a classic pcap
// (Ethernet, as tcpdump writes it here), rewrite addresses, and recompute the
// IPv4 header and TCP/UDP checksums so that the result is a valid capture.
// Used by bench/make-gateway-capture.ts and test/tools/make-demo-capture.ts.
import { readFileSync } from 'node:fs';

export interface Pkt { ts: number; data: Uint8Array }

/** Classic pcap, Ethernet, either µs or ns magic, little-endian (what tcpdump writes here). */
export function readPcap(file: string): Pkt[] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) return [];
  if ((b.readUInt32LE(20) & 0x0fffffff) !== 1) return [];
  const div = magic === 0xa1b2c3d4 ? 1e6 : 1e9;
  const out: Pkt[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const incl = b.readUInt32LE(o + 8);
    if (o + 16 + incl > b.length) break;
    out.push({ ts: b.readUInt32LE(o) + b.readUInt32LE(o + 4) / div, data: new Uint8Array(b.subarray(o + 16, o + 16 + incl)) });
    o += 16 + incl;
  }
  return out;
}

function csum(d: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (d[i]! << 8) | d[i + 1]!;
  if (i < end) acc += d[i]! << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** Recomputes the IPv4 header checksum and the TCP/UDP checksum of an Ethernet frame (no IPv6 extension headers, no fragments). */
export function fixChecksums(d: Uint8Array): void {
  const et = (d[12]! << 8) | d[13]!;
  let l4 = -1, proto = -1, pseudo = 0;
  if (et === 0x0800) {
    const ihl = (d[14]! & 0x0f) * 4;
    const total = (d[16]! << 8) | d[17]!;
    if (((d[20]! & 0x3f) << 8 | d[21]!) !== 0 || 14 + total > d.length) return; // fragment or cut
    d[24] = 0; d[25] = 0;
    const h = ~csum(d, 14, 14 + ihl, 0) & 0xffff;
    d[24] = h >> 8; d[25] = h & 0xff;
    proto = d[23]!; l4 = 14 + ihl;
    const len = total - ihl;
    pseudo = csum(d, 26, 34, proto + len);
    if (proto === 6 || proto === 17) finish(d, l4, 14 + total, proto, pseudo);
  } else if (et === 0x86dd) {
    proto = d[20]!; l4 = 54;
    const len = (d[18]! << 8) | d[19]!;
    if (54 + len > d.length || (proto !== 6 && proto !== 17)) return;
    pseudo = csum(d, 22, 54, proto + len);
    finish(d, l4, 54 + len, proto, pseudo);
  }
}

function finish(d: Uint8Array, l4: number, end: number, proto: number, pseudo: number): void {
  const f = l4 + (proto === 6 ? 16 : 6);
  if (f + 2 > end) return;
  d[f] = 0; d[f + 1] = 0;
  let c = ~csum(d, l4, end, pseudo) & 0xffff;
  if (proto === 17 && c === 0) c = 0xffff;
  d[f] = c >> 8; d[f + 1] = c & 0xff;
}


/** Replaces every occurrence of address `from` (4 or 16 bytes) as IP source or destination by `to`. */
export function rewriteAddress(d: Uint8Array, from: Uint8Array, to: Uint8Array): void {
  const et = (d[12]! << 8) | d[13]!;
  const offs = et === 0x0800 && from.length === 4 ? [26, 30] : et === 0x86dd && from.length === 16 ? [22, 38] : [];
  for (const off of offs) {
    if (off + from.length <= d.length && from.every((v, i) => d[off + i] === v)) d.set(to, off);
  }
}
