// Builds a large gateway-like capture for the benchmarks: the client fixtures
// (real DNS, TLS, QUIC, HTTP from real clients) replicated with rewritten client
// addresses and ports, mixed with bulk TLS traffic on established flows
// (server→client records, client ACKs, some client uploads) so that about
// BULK_SHARE of the packets are bulk data and ACKs, as on a real gateway.
// IPv4 header and TCP/UDP checksums are recomputed after every rewrite (the
// agent checks them where a packet changes flow state).
//   node dist/bench/make-gateway-capture.js OUT.pcap [PACKETS]
import { readdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { readPcap, fixChecksums, type Pkt } from '../test/tools/pcap-rewrite.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BULK_SHARE = 0.8;
const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const FIXTURE_DIRS = ['test/fixtures/captures/clients', 'test/fixtures/captures/quic'].map((d) => join(ROOT, d));
const WRITE_CHUNK = 4 << 20;

/** The fixture's client side: the address that sends the first packet with a transport header. */
function rewrite(p: Uint8Array, replica: number, client4: Uint8Array, client6: Uint8Array): Uint8Array {
  const d = new Uint8Array(p);
  const et = (d[12]! << 8) | d[13]!;
  let portOff = -1;
  if (et === 0x0800) {
    for (const off of [26, 30]) if (d.subarray(off, off + 4).every((v, i) => v === client4[i])) { d[off + 1] = (replica >> 8) & 0xff; d[off + 2] = replica & 0xff; }
    if (d[23] === 6 || d[23] === 17) portOff = 14 + (d[14]! & 0x0f) * 4;
  } else if (et === 0x86dd) {
    for (const off of [22, 38]) if (d.subarray(off, off + 16).every((v, i) => v === client6[i])) { d[off + 12] = (replica >> 8) & 0xff; d[off + 13] = replica & 0xff; }
    if (d[20] === 6 || d[20] === 17) portOff = 54;
  }
  // ports: shift the ephemeral (client) port so flows stay distinct across replicas
  if (portOff > 0 && portOff + 4 <= d.length) {
    for (const o of [portOff, portOff + 2]) {
      const port = (d[o]! << 8) | d[o + 1]!;
      if (port >= 1024 && port !== 3128) {
        const np = 1024 + ((port - 1024 + replica * 7) % 64000);
        d[o] = np >> 8; d[o + 1] = np & 0xff;
      }
    }
  }
  fixChecksums(d);
  return d;
}

function bulkPacket(flow: number, kind: 'data' | 'ack' | 'upload', seq: number): Uint8Array {
  const payload = kind === 'data' ? 1448 : kind === 'upload' ? 600 : 0;
  const d = new Uint8Array(14 + 20 + 32 + payload);
  const v = new DataView(d.buffer);
  v.setUint16(12, 0x0800);
  d[14] = 0x45; v.setUint16(16, 20 + 32 + payload); d[22] = 64; d[23] = 6;
  const client = [10, 30 + ((flow >> 16) & 0x3f), (flow >> 8) & 0xff, flow & 0xff];
  const server = [203, 0, 113, 10 + (flow % 200)];
  const fromClient = kind !== 'data';
  d.set(fromClient ? client : server, 26); d.set(fromClient ? server : client, 30);
  const cport = 32768 + (flow % 28000);
  v.setUint16(34, fromClient ? cport : 443); v.setUint16(36, fromClient ? 443 : cport);
  v.setUint32(38, seq >>> 0); v.setUint32(42, (seq * 3) >>> 0);
  d[46] = 0x80; d[47] = kind === 'ack' ? 0x10 : 0x18; v.setUint16(48, 502);
  d[54] = 1; d[55] = 1; d[56] = 8; d[57] = 10; // NOP NOP TS
  if (payload) { d[66] = 0x17; d[67] = 3; d[68] = 3; v.setUint16(69, payload - 5); }
  fixChecksums(d);
  return d;
}

function main(): void {
  const out = process.argv[2];
  const want = Number(process.argv[3] ?? 1_200_000);
  if (!out) { console.error('usage: make-gateway-capture OUT.pcap [PACKETS]'); process.exit(2); }
  const fixtures: Pkt[][] = [];
  for (const dir of FIXTURE_DIRS) {
    let names: string[] = [];
    try { names = readdirSync(dir).filter((n) => n.endsWith('.pcap')).sort(); } catch { continue; }
    for (const n of names) { const p = readPcap(join(dir, n)); if (p.length) fixtures.push(p); }
  }
  const client4 = Uint8Array.of(10, 99, 0, 1);
  const client6 = Uint8Array.from([0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const fd = openSync(out, 'w');
  let buf = Buffer.alloc(WRITE_CHUNK);
  let used = 0;
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0); hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6); hdr.writeUInt32LE(262144, 16); hdr.writeUInt32LE(1, 20);
  writeSync(fd, hdr);
  let ts = 1_764_000_000;
  let count = 0, bytes = 0, fixturePackets = 0;
  const put = (d: Uint8Array): void => {
    if (used + 16 + d.length > buf.length) { writeSync(fd, buf, 0, used); used = 0; }
    ts += 0.00001;
    const sec = Math.floor(ts);
    buf.writeUInt32LE(sec, used); buf.writeUInt32LE(Math.floor((ts - sec) * 1e6), used + 4);
    buf.writeUInt32LE(d.length, used + 8); buf.writeUInt32LE(d.length, used + 12);
    buf.set(d, used + 16); used += 16 + d.length; count++; bytes += d.length;
  };
  let replica = 0, flow = 0;
  const seqs = new Map<number, number>();
  while (count < want) {
    replica++;
    for (const f of fixtures) {
      for (const p of f) { put(rewrite(p.data, replica, client4, client6)); fixturePackets++; }
      // bulk: enough packets on a few long-lived flows to keep the share at BULK_SHARE
      const bulk = Math.round((f.length * BULK_SHARE) / (1 - BULK_SHARE));
      for (let i = 0; i < bulk; i++) {
        const fl = (flow + (i % 8)) % 50000;
        const s = (seqs.get(fl) ?? fl * 1000) + 1448;
        seqs.set(fl, s);
        const r = i % 10;
        put(bulkPacket(fl, r < 5 ? 'data' : r < 9 ? 'ack' : 'upload', s));
      }
      flow = (flow + 8) % 50000;
      if (count >= want) break;
    }
  }
  if (used) writeSync(fd, buf, 0, used);
  closeSync(fd);
  console.log(JSON.stringify({ file: out, packets: count, bytes, fixture_packets: fixturePackets, replicas: replica, fixtures: fixtures.length }));
}

main();
