// Test-only reader for the small classic pcap fixtures of the DNS and HTTP
// decoder tests: whole file in memory, Ethernet / BSD loopback / raw IP, IPv4
// and IPv6 without extension headers, UDP and TCP. Not the agent's reader
// (agent/capture/ is another module); just enough to hand real payloads to the
// decoders under test. Throws plain Errors: fixtures are trusted.
import { readFileSync } from 'node:fs';

export interface LitePacket {
  tsSec: number;
  tsNsec: number;
  ipVersion: 4 | 6;
  src: string;
  dst: string;
  transport: 'udp' | 'tcp';
  srcPort: number;
  dstPort: number;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

function ip4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ip6(b: Uint8Array, o: number): string {
  // Fixture addresses only need the plain RFC 5952 compression of the longest zero run.
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

export function readPcap(path: string): LitePacket[] {
  const buf = new Uint8Array(readFileSync(path));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean, nano: boolean;
  if (magic === 0xa1b2c3d4) { le = true; nano = false; }
  else if (magic === 0xa1b23c4d) { le = true; nano = true; }
  else if (magic === 0xd4c3b2a1) { le = false; nano = false; }
  else if (magic === 0x4d3cb2a1) { le = false; nano = true; }
  else throw new Error(`${path}: not a classic pcap`);
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  const out: LitePacket[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const tsSec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const data = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    let p = 0, etherType = 0;
    if (linkType === 1) { etherType = (data[12]! << 8) | data[13]!; p = 14; }
    else if (linkType === 0) { const af = new DataView(data.buffer, data.byteOffset).getUint32(0, true); etherType = af === 2 ? 0x0800 : 0x86dd; p = 4; }
    else if (linkType === 101) { etherType = data[0]! >> 4 === 4 ? 0x0800 : 0x86dd; }
    else throw new Error(`${path}: link type ${linkType} not handled by the test reader`);
    let proto: number, src: string, dst: string, l4: number, end: number, ipVersion: 4 | 6;
    if (etherType === 0x0800) {
      ipVersion = 4;
      proto = data[p + 9]!;
      src = ip4(data, p + 12); dst = ip4(data, p + 16);
      end = p + ((data[p + 2]! << 8) | data[p + 3]!);
      l4 = p + (data[p]! & 15) * 4;
    } else if (etherType === 0x86dd) {
      ipVersion = 6;
      proto = data[p + 6]!;
      src = ip6(data, p + 8); dst = ip6(data, p + 24);
      l4 = p + 40;
      end = l4 + ((data[p + 4]! << 8) | data[p + 5]!);
    } else continue;
    const srcPort = (data[l4]! << 8) | data[l4 + 1]!;
    const dstPort = (data[l4 + 2]! << 8) | data[l4 + 3]!;
    const ts = { tsSec, tsNsec: nano ? frac : frac * 1000 };
    if (proto === 17) {
      out.push({ ...ts, ipVersion, src, dst, transport: 'udp', srcPort, dstPort, seq: 0, flags: 0, payload: data.subarray(l4 + 8, end) });
    } else if (proto === 6) {
      const seq = ((data[l4 + 4]! << 24) | (data[l4 + 5]! << 16) | (data[l4 + 6]! << 8) | data[l4 + 7]!) >>> 0;
      const hlen = (data[l4 + 12]! >> 4) * 4;
      out.push({ ...ts, ipVersion, src, dst, transport: 'tcp', srcPort, dstPort, seq, flags: data[l4 + 13]!, payload: data.subarray(l4 + hlen, end) });
    }
  }
  return out;
}

/** The bytes one side of a TCP connection sent, in sequence order (loopback fixtures: no loss). */
export function tcpStream(packets: LitePacket[], fromPort: number, toPort: number): Uint8Array {
  const segs = packets
    .filter((p) => p.transport === 'tcp' && p.srcPort === fromPort && p.dstPort === toPort && p.payload.length > 0)
    .sort((a, b) => a.seq - b.seq);
  const parts: Uint8Array[] = [];
  let next = -1;
  for (const s of segs) {
    if (next >= 0 && s.seq < next) continue; // retransmission
    parts.push(s.payload);
    next = s.seq + s.payload.length;
  }
  return new Uint8Array(Buffer.concat(parts));
}
