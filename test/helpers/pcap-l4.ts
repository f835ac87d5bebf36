// Test-only: reads a small classic pcap (Ethernet or raw IP, no fragments) into
// L4Packets, for flow tests written before agent/capture existed. Not a reader
// for real use: whole file in memory, no bounds tolerance.
import { readFileSync } from 'node:fs';
import type { L4Packet } from '../../agent/packet.js';

export function readPcapL4(path: string): L4Packet[] {
  const buf = new Uint8Array(readFileSync(path));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  if (!le && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1) throw new Error(`${path}: not a classic pcap`);
  const linkType = dv.getUint32(20, le);
  const out: L4Packet[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const tsSec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const data = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    let p = 0;
    if (linkType === 1) {
      let et = (data[12] << 8) | data[13];
      p = 14;
      while (et === 0x8100 || et === 0x88a8) {
        et = (data[p + 2] << 8) | data[p + 3];
        p += 4;
      }
      if (et !== 0x0800 && et !== 0x86dd) continue;
    } else if (linkType !== 101 && linkType !== 12) throw new Error(`link type ${linkType}`);
    const v = data[p] >> 4;
    let proto: number, src: Uint8Array, dst: Uint8Array, l4: number, end: number;
    if (v === 4) {
      proto = data[p + 9];
      src = data.slice(p + 12, p + 16);
      dst = data.slice(p + 16, p + 20);
      l4 = p + (data[p] & 0x0f) * 4;
      end = p + ((data[p + 2] << 8) | data[p + 3]);
    } else if (v === 6) {
      proto = data[p + 6];
      src = data.slice(p + 8, p + 24);
      dst = data.slice(p + 24, p + 40);
      l4 = p + 40;
      end = l4 + ((data[p + 4] << 8) | data[p + 5]);
    } else continue;
    const tsNsec = nano ? frac : frac * 1000;
    if (proto === 6) {
      const hl = (data[l4 + 12] >> 4) * 4;
      out.push({
        tsSec, tsNsec, ipVersion: v as 4 | 6, src, dst, transport: 'tcp',
        srcPort: (data[l4] << 8) | data[l4 + 1],
        dstPort: (data[l4 + 2] << 8) | data[l4 + 3],
        seq: new DataView(data.buffer, data.byteOffset + l4 + 4, 4).getUint32(0),
        ack: new DataView(data.buffer, data.byteOffset + l4 + 8, 4).getUint32(0),
        flags: data[l4 + 13],
        payload: data.slice(l4 + hl, Math.min(end, data.length)),
      });
    } else if (proto === 17) {
      out.push({
        tsSec, tsNsec, ipVersion: v as 4 | 6, src, dst, transport: 'udp',
        srcPort: (data[l4] << 8) | data[l4 + 1], dstPort: (data[l4 + 2] << 8) | data[l4 + 3],
        seq: 0, ack: 0, flags: 0, payload: data.slice(l4 + 8, Math.min(end, data.length)),
      });
    }
  }
  return out;
}
