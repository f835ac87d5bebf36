// Capture reading speed: the pure TypeScript reader (agent/capture/reader.ts)
// against libpcap through the npm `pcap` package (agent/capture/libpcap-reader.ts),
// on a large file made by replicating the repository's Ethernet fixture captures
// (timestamps rewritten to increase), as classic pcap and as pcapng. Also both
// readers followed by PacketDecoder. Each run is a fresh child process (peak RSS
// is per run); best of RUNS. Prints figures; not a pass/fail test.
//   usage: npx tsx bench/capture-read.ts [packets]   (default 1000000)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counters } from '../agent/stats.js';
import { readCapture } from '../agent/capture/reader.js';
import { readCaptureLibpcap } from '../agent/capture/libpcap-reader.js';
import { PacketDecoder } from '../agent/decode/packet.js';
import { allCaptures } from '../test/agent/capture/fixtures.js';
import { fixture } from '../test/helpers/root.js';

const RUNS = 3;
const SELF = fileURLToPath(import.meta.url);

async function runOne(mode: string, path: string): Promise<void> {
  const counters = new Counters();
  const read = mode.startsWith('ts') ? readCapture : readCaptureLibpcap;
  const dec = mode.endsWith('+decode') ? new PacketDecoder(counters) : null;
  let packets = 0;
  let l4 = 0;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  await read(path, (p) => {
    packets++;
    sink += p.data.length;
    if (dec && dec.decode(p)) l4++;
  }, counters);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ packets, l4, sink, seconds: s, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
}

/** Records (header fields + bytes) of every classic little-endian Ethernet fixture. */
function sourceRecords(): { data: Buffer; orig: number }[] {
  const out: { data: Buffer; orig: number }[] = [];
  for (const rel of allCaptures()) {
    if (!rel.endsWith('.pcap')) continue;
    const b = readFileSync(fixture(rel));
    const magic = b.readUInt32LE(0);
    if ((magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) || (b.readUInt32LE(20) & 0xffff) !== 1) continue;
    for (let o = 24; o + 16 <= b.length; ) {
      const cap = b.readUInt32LE(o + 8);
      if (o + 16 + cap > b.length) break;
      out.push({ data: b.subarray(o + 16, o + 16 + cap), orig: b.readUInt32LE(o + 12) });
      o += 16 + cap;
    }
  }
  return out;
}

function build(dir: string, n: number): { pcap: string; pcapng: string } {
  mkdirSync(dir, { recursive: true });
  const recs = sourceRecords();
  const pcap = join(dir, `bench-${n}.pcap`);
  const pcapng = join(dir, `bench-${n}.pcapng`);
  const fa = openSync(pcap, 'w');
  const fb = openSync(pcapng, 'w');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0); hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6); hdr.writeUInt32LE(262144, 16); hdr.writeUInt32LE(1, 20);
  writeSync(fa, hdr);
  const shb = Buffer.alloc(28);
  shb.writeUInt32LE(0x0a0d0d0a, 0); shb.writeUInt32LE(28, 4); shb.writeUInt32LE(0x1a2b3c4d, 8); shb.writeUInt16LE(1, 12);
  shb.writeBigInt64LE(-1n, 16); shb.writeUInt32LE(28, 24);
  const idb = Buffer.alloc(20);
  idb.writeUInt32LE(1, 0); idb.writeUInt32LE(20, 4); idb.writeUInt16LE(1, 8); idb.writeUInt32LE(262144, 12); idb.writeUInt32LE(20, 16);
  writeSync(fb, Buffer.concat([shb, idb]));
  const batchA: Buffer[] = [];
  const batchB: Buffer[] = [];
  let usec = 1_764_000_000n * 1_000_000n;
  for (let i = 0; i < n; i++) {
    const r = recs[i % recs.length];
    usec += 7n;
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Number(usec / 1_000_000n), 0); h.writeUInt32LE(Number(usec % 1_000_000n), 4);
    h.writeUInt32LE(r.data.length, 8); h.writeUInt32LE(r.orig, 12);
    batchA.push(h, r.data);
    const pad = (4 - (r.data.length % 4)) % 4;
    const len = 32 + r.data.length + pad;
    const e = Buffer.alloc(28);
    e.writeUInt32LE(6, 0); e.writeUInt32LE(len, 4); e.writeUInt32LE(0, 8);
    e.writeUInt32LE(Number(usec >> 32n), 12); e.writeUInt32LE(Number(usec & 0xffffffffn), 16);
    e.writeUInt32LE(r.data.length, 20); e.writeUInt32LE(r.orig, 24);
    const t = Buffer.alloc(pad + 4);
    t.writeUInt32LE(len, pad);
    batchB.push(e, r.data, t);
    if (batchA.length > 20000) {
      writeSync(fa, Buffer.concat(batchA.splice(0)));
      writeSync(fb, Buffer.concat(batchB.splice(0)));
    }
  }
  writeSync(fa, Buffer.concat(batchA));
  writeSync(fb, Buffer.concat(batchB));
  closeSync(fa);
  closeSync(fb);
  return { pcap, pcapng };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--run') return runOne(process.argv[3], process.argv[4]);
  const n = Number(process.argv[2] ?? 1_000_000);
  const files = build(join(tmpdir(), 'umbra-bench-capture'), n);
  console.log(`capture read benchmark: ${n} packets, best of ${RUNS} runs, node ${process.version}`);
  console.log(`${'file'.padEnd(8)} ${'reader'.padEnd(18)} ${'packets/s'.padStart(12)} ${'MB/s'.padStart(8)} ${'peak RSS MB'.padStart(12)}`);
  for (const [kind, path] of Object.entries(files)) {
    const mb = statSync(path).size / 1e6;
    for (const mode of ['ts', 'libpcap', 'ts+decode', 'libpcap+decode']) {
      let best: { packets: number; seconds: number; maxRssMB: number } | null = null;
      for (let i = 0; i < RUNS; i++) {
        const out = execFileSync(process.execPath, ['--import', 'tsx', SELF, '--run', mode, path], { encoding: 'utf8' });
        const r = JSON.parse(out.trim().split('\n').pop()!);
        if (r.packets !== n && !(kind === 'pcapng' && mode.startsWith('libpcap') && r.packets === 0)) throw new Error(`${mode} read ${r.packets} of ${n}`);
        if (!best || r.seconds < best.seconds) best = r;
      }
      const b = best!;
      console.log(`${kind.padEnd(8)} ${mode.padEnd(18)} ${Math.round(b.packets / b.seconds).toLocaleString('en-US').padStart(12)} ${(mb / b.seconds).toFixed(1).padStart(8)} ${b.maxRssMB.toFixed(0).padStart(12)}`);
    }
  }
  writeFileSync(join(tmpdir(), 'umbra-bench-capture', 'done'), '');
}

await main();
