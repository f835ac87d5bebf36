// Person-facing errors, damaged files, records across read chunks, stdin, and the
// bounded read buffer; pcapng corners the fixtures do not cover, built by hand.
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, fixture } from '../../helpers/root.js';
import { Counters } from '../../../agent/stats.js';
import type { CapturedPacket } from '../../../agent/packet.js';
import { UmbraError } from '../../../common/errors.js';
import { CaptureFileReader, readCapture } from '../../../agent/capture/reader.js';
import { PREFETCH_HEADROOM_BYTES } from '../../../agent/capture/chunk-source.js';
import { readCaptureLibpcap } from '../../../agent/capture/libpcap-reader.js';
import { splitTimestamp, tsResolution } from '../../../agent/capture/timestamp.js';
import { EXPECTED } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function tmp(bytes: Uint8Array | string, name = `f${n++}.pcap`): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function rejects(p: Promise<unknown>): Promise<UmbraError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(UmbraError);
    return e as UmbraError;
  }
  throw new Error('expected an UmbraError');
}

async function collect(path: string, counters = new Counters()): Promise<{ ts: number[]; len: number; hex: string }[]> {
  const out: { ts: number[]; len: number; hex: string }[] = [];
  await readCapture(path, (p) => out.push({ ts: [p.tsSec, p.tsNsec], len: p.origLen, hex: Buffer.from(p.data).toString('hex') }), counters);
  return out;
}

const eth = readFileSync(fixture('captures', 'format', 'eth.pcap'));

// --- a tiny pcapng writer (little-endian) for the corners
function block(type: number, body: Buffer): Buffer {
  const pad = Buffer.alloc((4 - (body.length % 4)) % 4);
  const len = 12 + body.length + pad.length;
  const h = Buffer.alloc(8);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(len, 4);
  const t = Buffer.alloc(4);
  t.writeUInt32LE(len, 0);
  return Buffer.concat([h, body, pad, t]);
}
function shb(): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(0x1a2b3c4d, 0);
  b.writeUInt16LE(1, 4);
  b.writeBigInt64LE(-1n, 8);
  return block(0x0a0d0d0a, b);
}
function idb(linkType: number, snaplen: number, tsresol?: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(linkType, 0);
  b.writeUInt32LE(snaplen, 4);
  if (tsresol === undefined) return block(1, b);
  const o = Buffer.from([9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0]);
  return block(1, Buffer.concat([b, o]));
}
function epb(ifid: number, t: bigint, data: Buffer): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(ifid, 0);
  b.writeUInt32LE(Number(t >> 32n), 4);
  b.writeUInt32LE(Number(t & 0xffffffffn), 8);
  b.writeUInt32LE(data.length, 12);
  b.writeUInt32LE(data.length, 16);
  return block(6, Buffer.concat([b, data]));
}
function spb(data: Buffer): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(data.length, 0);
  return block(3, Buffer.concat([b, data]));
}

describe('capture files: errors, damage, streaming', () => {
  describe('errors for people (UmbraError, one line)', () => {
    it('a text file: not a capture file, with its magic', async () => {
      const p = tmp('Hello, this is not a capture\n', 'x.txt');
      const e = await rejects(readCapture(p, () => undefined, new Counters()));
      expect(e.code).to.equal('UMBRA_E_CAPTURE_FORMAT');
      expect(e.message).to.equal(`${p}: not a capture file: unknown magic 0x48656c6c`);
      expect(e.message).to.not.include('\n');
    });
    it('an empty file, and files cut inside the pcap or pcapng header: truncated', async () => {
      for (const bytes of [Buffer.alloc(0), eth.subarray(0, 3), eth.subarray(0, 20), shb().subarray(0, 20)]) {
        const e = await rejects(readCapture(tmp(bytes), () => undefined, new Counters()));
        expect(e.code, `${bytes.length} bytes`).to.equal('UMBRA_E_CAPTURE_TRUNCATED');
      }
    });
    it('a pcapng section header with a bad byte-order magic or an absurd length, and pcap version 3: not a capture', async () => {
      const bad = shb();
      bad.writeUInt32LE(0x11223344, 8);
      const v3 = Buffer.from(eth);
      v3.writeUInt16LE(3, 4);
      const absurd = shb();
      absurd.writeUInt32LE(0xfffffff0, 4);
      for (const bytes of [bad, v3, absurd]) expect((await rejects(readCapture(tmp(bytes), () => undefined, new Counters()))).code).to.equal('UMBRA_E_CAPTURE_FORMAT');
    });
    it('a missing file or a directory: cannot open', async () => {
      expect((await rejects(readCapture(join(dir, 'nope.pcap'), () => undefined, new Counters()))).message).to.match(/nope\.pcap: cannot open capture: no such file$/);
      expect((await rejects(readCapture(dir, () => undefined, new Counters()))).code).to.equal('UMBRA_E_CAPTURE_OPEN');
    });
    it('libpcap reader: the same error codes', async () => {
      expect((await rejects(readCaptureLibpcap(tmp('Hello, this is not a capture\n'), () => undefined, new Counters()))).code).to.equal('UMBRA_E_CAPTURE_FORMAT');
      expect((await rejects(readCaptureLibpcap(tmp(eth.subarray(0, 20)), () => undefined, new Counters()))).code).to.equal('UMBRA_E_CAPTURE_TRUNCATED');
      expect((await rejects(readCaptureLibpcap(join(dir, 'nope.pcap'), () => undefined, new Counters()))).code).to.equal('UMBRA_E_CAPTURE_OPEN');
    });
  });

  describe('damage inside a file: counted, what was read is kept', () => {
    const all = (): Promise<{ ts: number[]; len: number; hex: string }[]> => collect(fixture('captures', 'format', 'eth.pcap'));
    it('the last record cut at any byte: the whole records before it, capture.truncated_record', async () => {
      const whole = await all();
      // record boundaries of eth.pcap
      const ends: number[] = [];
      for (let o = 24; o < eth.length; ) { o += 16 + eth.readUInt32LE(o + 8); ends.push(o); }
      for (const cut of [ends[3] + 1, ends[3] + 10, ends[3] + 17, ends[ends.length - 1] - 1]) {
        const c = new Counters();
        const got = await collect(tmp(eth.subarray(0, cut)), c);
        const kept = ends.filter((e) => e <= cut).length;
        expect(got).to.deep.equal(whole.slice(0, kept));
        expect(c.get('capture.truncated_record')).to.equal(1);
      }
    });
    it('an absurd record length in the middle: stops there, capture.bad_record_length', async () => {
      const b = Buffer.from(eth);
      let o = 24;
      for (let i = 0; i < 5; i++) o += 16 + b.readUInt32LE(o + 8);
      b.writeUInt32LE(0x7fffffff, o + 8);
      const c = new Counters();
      const got = await collect(tmp(b), c);
      expect(got).to.deep.equal((await all()).slice(0, 5));
      expect(c.get('capture.bad_record_length')).to.equal(1);
    });
    it('random garbage after a valid header never throws', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), async (junk, ng) => {
          const head = ng ? Buffer.concat([shb(), idb(1, 0)]) : eth.subarray(0, 24);
          await collect(tmp(Buffer.concat([head, junk])));
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('pcapng corners', () => {
    it('SPB takes its captured length from the IDB snaplen; EPB on an unknown interface is counted; 2^-3 s units', async () => {
      const data = Buffer.alloc(100, 0xab);
      const f = Buffer.concat([shb(), idb(1, 50, 0x83), spb(data), epb(7, 1n, data), epb(0, (1700000000n << 3n) + 5n, data.subarray(0, 60))]);
      const c = new Counters();
      const got = await collect(tmp(f), c);
      expect(got.map((p) => [p.ts, p.len, p.hex.length / 2])).to.deep.equal([
        [[0, 0], 100, 50],
        [[1700000000, 625000000], 60, 60],
      ]);
      expect(c.get('capture.unknown_interface')).to.equal(1);
    });
    it('a block cut at the end of the file is counted as a truncated record', async () => {
      const f = Buffer.concat([shb(), idb(1, 0), epb(0, 1n, Buffer.alloc(40)), epb(0, 2n, Buffer.alloc(40))]);
      const c = new Counters();
      expect(await collect(tmp(f.subarray(0, f.length - 9)), c)).to.have.length(1);
      expect(c.get('capture.truncated_record')).to.equal(1);
    });
  });

  describe('streaming', () => {
    it('records spanning read chunks: any chunk size gives the same packets', async () => {
      for (const name of ['frag-ipv4.pcap', 'mixed.pcapng', 'sections.pcapng', 'two-if-be.pcapng']) {
        const path = fixture('captures', 'format', name);
        const ref = await collect(path);
        expect(ref.length).to.equal(EXPECTED[name].packets.length);
        for (const chunk of [16, 61, 100, 1000, 4096]) {
          const r = await CaptureFileReader.open(path, new Counters(), chunk);
          const got: string[] = [];
          while (await r.advance()) got.push(Buffer.from(r.packet.data).toString('hex'));
          r.close();
          expect(got, `${name} chunk ${chunk}`).to.deep.equal(ref.map((p) => p.hex));
        }
      }
    });
    it('memory is the read buffers: a 24 MB file goes through a 1 MiB chunk (read + prefetch buffers with headroom) that never grows', async () => {
      const recs = eth.subarray(24);
      const copies = Math.ceil((24 << 20) / recs.length);
      const big = tmp(Buffer.concat([eth.subarray(0, 24), ...Array.from({ length: copies }, () => recs)]));
      const r = await CaptureFileReader.open(big, new Counters(), 1 << 20);
      let count = 0;
      while (await r.advance()) count++;
      expect(count).to.equal(copies * EXPECTED['eth.pcap'].packets.length);
      expect(r.bufferBytes).to.equal(2 * ((1 << 20) + PREFETCH_HEADROOM_BYTES));
      r.close();
    });
    it('records larger than the prefetch headroom, straddling every chunk boundary, come out whole and in order', async () => {
      const sizes = [600_000, 300_000, 1_500_000, 70, 900_000, 2_100_000, 5, 700_000];
      const hdr = Buffer.alloc(24);
      hdr.writeUInt32LE(0xa1b2c3d4, 0); hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6); hdr.writeUInt32LE(16 << 20, 16); hdr.writeUInt32LE(1, 20);
      const recs = sizes.map((n, i) => {
        const r = Buffer.alloc(16 + n, i + 1);
        r.writeUInt32LE(1000 + i, 0); r.writeUInt32LE(0, 4); r.writeUInt32LE(n, 8); r.writeUInt32LE(n, 12);
        return r;
      });
      const f = tmp(Buffer.concat([hdr, ...recs]));
      const got: [number, number, boolean][] = [];
      await readCapture(f, (p) => got.push([p.data.length, p.tsSec, p.data.every((b) => b === p.tsSec - 999)]), new Counters());
      expect(got).to.deep.equal(sizes.map((n, i) => [n, 1000 + i, true]));
    });
    it("'-' reads standard input", () => {
      const script = "import('./agent/capture/reader.ts').then(async (m) => { const { Counters } = await import('./agent/stats.ts'); let n = 0; await m.readCapture('-', () => n++, new Counters()); console.log(n); })";
      const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, input: readFileSync(fixture('captures', 'format', 'two-if.pcapng')) });
      expect(Number(out.toString().trim())).to.equal(EXPECTED['two-if.pcapng'].packets.length);
    });
  });

  describe('pcapng timestamp units', () => {
    it('splits hi·2^32+lo units exactly for 10^-k and 2^-k resolutions', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 40 }), fc.boolean(), (hi, lo, dec, bin, binary) => {
          const byte = binary ? 0x80 | bin : dec;
          const unitsPerSec = binary ? 1n << BigInt(bin) : 10n ** BigInt(dec);
          const t = (BigInt(hi) << 32n) | BigInt(lo);
          const out = { tsSec: 0, tsNsec: 0 };
          splitTimestamp(hi, lo, tsResolution(byte), out);
          const sec = t / unitsPerSec;
          if (sec <= BigInt(Number.MAX_SAFE_INTEGER)) expect(out.tsSec).to.equal(Number(sec));
          expect(out.tsNsec).to.equal(Number(((t % unitsPerSec) * 1_000_000_000n) / unitsPerSec));
        }),
        { numRuns: 20000 },
      );
    });
  });
});
