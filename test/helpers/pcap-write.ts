// Writes classic pcap files (µs, little-endian) for tests that build captures.
import { writeFileSync } from 'node:fs';

export interface PacketRecord {
  tsSec: number;
  tsUsec: number;
  data: Uint8Array;
  origLen?: number;
}

export function writePcap(file: string, linkType: number, packets: PacketRecord[]): void {
  const total = 24 + packets.reduce((n, p) => n + 16 + p.data.length, 0);
  const b = Buffer.alloc(total);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(262144, 16);
  b.writeUInt32LE(linkType, 20);
  let o = 24;
  for (const p of packets) {
    b.writeUInt32LE(p.tsSec >>> 0, o);
    b.writeUInt32LE(p.tsUsec >>> 0, o + 4);
    b.writeUInt32LE(p.data.length, o + 8);
    b.writeUInt32LE(p.origLen ?? p.data.length, o + 12);
    b.set(p.data, o + 16);
    o += 16 + p.data.length;
  }
  writeFileSync(file, b);
}
