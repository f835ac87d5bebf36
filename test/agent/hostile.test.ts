// A hostile capture: every packet of every fixture followed by mangled copies of
// itself — cut short, bytes flipped, length fields made absurd (IP total and
// payload lengths, IHL, TCP data offset, UDP length, the first TLS record or DNS
// count field) — read by the real `umbra analyze` to the end: exit 0, every line
// valid JSON, and every AI event of the clean capture still found.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ROOT } from '../helpers/root.js';
import { writePcap, type PacketRecord } from '../helpers/pcap-write.js';
import { readCapture } from '../../agent/capture/read-captures.js';
import { Counters } from '../../agent/stats.js';
import { captureFiles } from '../helpers/captures.js';
import { analyzeFiles } from '../helpers/analyze.js';

const UMBRA = join(ROOT, 'bin', 'umbra.js');
const LINKTYPE_ETHERNET = 1;

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Offsets of length fields in an Ethernet frame (IPv4/IPv6 + UDP/TCP), for the absurd-length copies. */
function lengthFields(d: Uint8Array): { off: number; size: 1 | 2 }[] {
  const out: { off: number; size: 1 | 2 }[] = [];
  if (d.length < 14) return out;
  const et = (d[12]! << 8) | d[13]!;
  let l4 = -1, proto = -1;
  if (et === 0x0800 && d.length >= 34) {
    out.push({ off: 16, size: 2 }, { off: 14, size: 1 }); // total length, version/IHL
    l4 = 14 + (d[14]! & 0x0f) * 4;
    proto = d[23]!;
  } else if (et === 0x86dd && d.length >= 54) {
    out.push({ off: 18, size: 2 }); // payload length
    l4 = 54;
    proto = d[20]!;
  }
  if (proto === 17 && l4 + 8 <= d.length) out.push({ off: l4 + 4, size: 2 }, { off: l4 + 8 + 4, size: 2 }); // UDP length, DNS qdcount
  if (proto === 6 && l4 + 20 <= d.length) {
    out.push({ off: l4 + 12, size: 1 }); // data offset
    const pl = l4 + (d[l4 + 12]! >> 4) * 4;
    if (pl + 5 <= d.length) out.push({ off: pl + 3, size: 2 }); // TLS record length / DNS-over-TCP length
  }
  return out.filter((f) => f.off + f.size <= d.length);
}

function mangledCopies(p: PacketRecord, linkType: number, r: () => number): PacketRecord[] {
  const d = p.data;
  const out: PacketRecord[] = [];
  if (d.length > 1) out.push({ ...p, data: d.slice(0, 1 + Math.floor(r() * (d.length - 1))), origLen: d.length });
  const flipped = d.slice();
  for (let i = 0, n = 1 + Math.floor(r() * 3); i < n && flipped.length; i++) flipped[Math.floor(r() * flipped.length)]! ^= 1 + Math.floor(r() * 255);
  out.push({ ...p, data: flipped });
  if (linkType === LINKTYPE_ETHERNET) {
    for (const f of lengthFields(d)) {
      for (const v of f.size === 2 ? [0xffff, 0] : [0xff, 0x00]) {
        const c = d.slice();
        c[f.off] = v & 0xff;
        if (f.size === 2) c[f.off + 1] = v & 0xff;
        out.push({ ...p, data: c });
      }
    }
  }
  return out;
}

type Ev = { event: { action: string }; destination: { domain?: string }; umbra?: { service?: { id: string } } };
const key = (e: Ev): string => `${e.event.action} ${e.destination.domain} ${e.umbra?.service?.id}`;

describe('hostile capture: fixtures followed by mangled copies of every packet', function () {
  let dir: string;
  const written: string[] = [];
  before(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-hostile-')); });
  after(() => { if (process.env.UMBRA_KEEP_HOSTILE) console.log('hostile captures kept in', dir); else rmSync(dir, { recursive: true, force: true }); });

  for (const file of captureFiles()) {
    if (!/\/(clients|quic|tls|dns|http)\//.test(file)) continue;
    it(basename(file), async () => {
      const packets: PacketRecord[] = [];
      let linkType = -1;
      await readCapture(file, (p) => {
        if (linkType === -1) linkType = p.linkType;
        if (p.linkType !== linkType) return;
        packets.push({ tsSec: p.tsSec, tsUsec: Math.floor(p.tsNsec / 1000), data: p.data.slice(), origLen: p.origLen });
      }, new Counters());
      const r = rng(packets.length * 7919 + basename(file).length);
      const hostile: PacketRecord[] = [];
      for (const p of packets) hostile.push(p, ...mangledCopies(p, linkType, r));
      const out = join(dir, basename(file));
      writePcap(out, linkType, hostile);

      written.push(out);
      // in-process (the same pipeline the command runs; the command itself is checked below)
      const clean = await analyzeFiles([file], { all: false });
      const bad = await analyzeFiles([out], { all: false });
      const found = new Set((bad.events as unknown as Ev[]).map(key));
      for (const e of clean.events as unknown as Ev[]) expect([...found], `${key(e)} after mangling`).to.include(key(e));
      expect(hostile.length).to.be.greaterThan(packets.length * 2);
    });
  }

  it('umbra analyze reads all the hostile captures to the end: exit 0, every line valid JSON', () => {
    expect(written.length).to.be.greaterThan(10);
    const r = spawnSync(process.execPath, [UMBRA, 'analyze', '--all', '--format', 'ndjson', '--stats', ...written], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines.length).to.be.greaterThan(100);
    for (const l of lines) expect(() => JSON.parse(l), l.slice(0, 200)).to.not.throw();
    expect(r.stderr).to.match(/tcp\.bad_checksum\s+\d+/);
  });
});
