import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { ARENA_KEEP_BYTES, FRAME_HEADER_BYTES, FRAME_MAGIC, ndjsonBody, Spool, SpoolArena, SpoolError, type SpoolOptions } from '../../../agent/ship/spool.js';
import type { UmbraEvent } from '../../../agent/event.js';
import { mkEvent, tempDir } from '../../helpers/ship.js';

const AGENT = 'gw-1';

function segFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.spool')).sort();
}

function readAll(s: Spool): { seq: number; ev: UmbraEvent }[] {
  return s.readBatch(1e9, 1e12).map((r) => ({ seq: r.seq, ev: JSON.parse(r.json.toString('utf8')) as UmbraEvent }));
}

/** Byte offsets of the frames in a segment file, found from the length fields (an independent walk). */
function frameOffsets(path: string): number[] {
  const b = readFileSync(path);
  const out: number[] = [];
  for (let off = 0; off + FRAME_HEADER_BYTES <= b.length; off += FRAME_HEADER_BYTES + b.readUInt32BE(off + 2)) {
    expect(b.readUInt16BE(off)).to.equal(FRAME_MAGIC);
    out.push(off);
  }
  return out;
}

describe('agent/ship/spool', () => {
  let tmp: ReturnType<typeof tempDir>;
  const open = (o: Partial<SpoolOptions> = {}): Spool => Spool.open({ dir: tmp.dir, agentId: AGENT, fsync: 'never', ...o });
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it('the epoch survives a reopen; a re-created spool gets a new one, so restarted sequences never reuse an id', () => {
    const a = open();
    const first = a.idPrefix;
    a.close();
    const b = open();
    expect(b.idPrefix).to.equal(first);
    b.close();
    rmSync(tmp.dir, { recursive: true, force: true });
    const c = open();
    expect(c.nextSeq).to.equal(1);
    expect(c.idPrefix).to.match(/^gw-1:[0-9a-f]{12}:$/).and.not.equal(first);
    c.close();
  });

  it('round-trips events in order with event.id = agent:epoch:seq and observer.id', () => {
    const s = open();
    const sent: UmbraEvent[] = [];
    for (let i = 0; i < 50; i++) {
      const e = mkEvent(i);
      if (i % 2) e.observer = { name: 'gateway one' };
      expect(s.append(e)).to.equal(i + 1);
      sent.push(structuredClone(e));
    }
    const got = readAll(s);
    expect(got.map((g) => g.seq)).to.deep.equal(sent.map((_, i) => i + 1));
    expect(got.map((g) => g.ev)).to.deep.equal(sent);
    expect(got[7]!.ev.event.id).to.match(/^gw-1:[0-9a-f]{12}:8$/);
    expect(got[7]!.ev.event.id).to.equal(`${s.idPrefix}8`);
    expect(got[7]!.ev.observer).to.deep.equal({ id: 'gw-1', name: 'gateway one' });
    expect(got[8]!.ev.observer).to.deep.equal({ id: 'gw-1' });
    // Frames on disk: magic, length, CRC of seq + payload, seq — checked independently.
    const file = join(tmp.dir, segFiles(tmp.dir)[0]!);
    expect(segFiles(tmp.dir)[0]).to.equal('segment-00000000000000000001.spool');
    const b = readFileSync(file);
    const off = frameOffsets(file)[2]!;
    const len = b.readUInt32BE(off + 2);
    expect(b.readUInt32BE(off + 6)).to.equal(crc32(b.subarray(off + 10, off + FRAME_HEADER_BYTES + len)));
    expect(Number(b.readBigUInt64BE(off + 10))).to.equal(3);
    expect(JSON.parse(b.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len).toString())).to.deep.equal(sent[2]);
    s.close();
  });

  it('readBatch respects maxEvents and maxBytes, returns an oversize first event alone, does not consume', () => {
    const s = open();
    for (let i = 0; i < 10; i++) s.append(mkEvent(i));
    const one = s.readBatch(1e9, 1e12)[0]!.json.length;
    expect(s.readBatch(3, 1e9).map((r) => r.seq)).to.deep.equal([1, 2, 3]);
    expect(s.readBatch(100, one * 4).map((r) => r.seq)).to.deep.equal([1, 2, 3, 4]);
    expect(s.readBatch(100, 1).map((r) => r.seq)).to.deep.equal([1]);
    s.ack(2);
    expect(s.readBatch(3, 1e9).map((r) => r.seq)).to.deep.equal([3, 4, 5]);
    expect(s.readBatch(3, 1e9).map((r) => r.seq)).to.deep.equal([3, 4, 5]);
    s.ack(10);
    expect(s.readBatch(3, 1e9)).to.deep.equal([]);
    expect(() => s.ack(11)).to.throw(RangeError);
    s.close();
  });

  it('readBatch into an arena: the same records as copies, laid out as NDJSON (ndjsonBody is a view), the arena reused and grown', () => {
    const s = open();
    // ~1 KB events: 200 of them outgrow the arena's first 64 KiB in the middle of a read
    for (let i = 0; i < 200; i++) s.append(mkEvent(i, 900));
    const arena = new SpoolArena();
    const copies = s.readBatch(1e9, 1e12);
    const viewed = s.readBatch(1e9, 1e12, arena);
    expect(viewed.map((r) => r.seq)).to.deep.equal(copies.map((r) => r.seq));
    expect(viewed.map((r) => r.json.toString())).to.deep.equal(copies.map((r) => r.json.toString()));
    const expected = copies.map((r) => r.json.toString()).join('\n');
    // copies: concatenated; arena records: one view of the arena, also for any run of them
    expect(ndjsonBody(copies).toString()).to.equal(expected);
    const body = ndjsonBody(viewed);
    expect(body.toString()).to.equal(expected);
    expect(body.buffer).to.equal(arena.buf.buffer);
    expect(ndjsonBody(viewed.slice(50, 120)).toString()).to.equal(copies.slice(50, 120).map((r) => r.json.toString()).join('\n'));
    expect(ndjsonBody(viewed.slice(7, 8)).toString()).to.equal(copies[7]!.json.toString());
    expect(ndjsonBody([]).length).to.equal(0);
    // records from two separate reads are not adjacent: a copy, still right
    s.ack(100);
    const buf = arena.buf;
    const again = s.readBatch(10, 1e12, arena);
    expect(arena.buf).to.equal(buf); // reused, not reallocated
    expect(again.map((r) => r.seq)).to.deep.equal([101, 102, 103, 104, 105, 106, 107, 108, 109, 110]);
    expect(ndjsonBody([copies[0]!, again[0]!]).toString()).to.equal(copies[0]!.json.toString() + '\n' + again[0]!.json.toString());
    s.close();
  });

  it('an arena grown past ARENA_KEEP_BYTES is given back after a read that used less than a quarter of it', () => {
    const s = open();
    const n = Math.ceil((2 * ARENA_KEEP_BYTES) / 1000);
    for (let i = 0; i < n; i++) s.append(mkEvent(i, 900));
    const arena = new SpoolArena();
    expect(s.readBatch(1e9, 1e12, arena)).to.have.length(n);
    expect(arena.buf.length).to.be.greaterThan(ARENA_KEEP_BYTES);
    expect(s.readBatch(3, 1e12, arena)).to.have.length(3);
    expect(s.readBatch(3, 1e12, arena).map((r) => r.seq)).to.deep.equal([1, 2, 3]);
    expect(arena.buf.length).to.equal(ARENA_KEEP_BYTES);
    s.close();
  });

  it('restart recovers the sequence and the unacknowledged events', () => {
    let s = open();
    for (let i = 1; i <= 10; i++) s.append(mkEvent(i));
    s.ack(4);
    s.close();
    s = open();
    expect(s.nextSeq).to.equal(11);
    expect(s.ackedSeq).to.equal(4);
    expect(readAll(s).map((g) => g.ev.dns!.question.name)).to.deep.equal([5, 6, 7, 8, 9, 10].map((i) => `q${i}.example`));
    expect(s.append(mkEvent(11))).to.equal(11);
    s.ack(11);
    s.close();
    // Everything acknowledged and its segments deleted: the sequence still continues.
    s = open();
    expect(s.nextSeq).to.equal(12);
    expect(readAll(s)).to.deep.equal([]);
    expect(s.append(mkEvent(12))).to.equal(12);
    s.close();
  });

  it('rotates segments by size and deletes only fully acknowledged ones', () => {
    const s = open({ segmentBytes: 1000, maxBytes: 100_000 });
    for (let i = 1; i <= 40; i++) s.append(mkEvent(i));
    const files = segFiles(tmp.dir);
    expect(files.length).to.be.greaterThan(3);
    for (const f of files) expect(statSync(join(tmp.dir, f)).size).to.be.at.most(1000);
    // Each file is named by the sequence of its first frame.
    for (const f of files) {
      const b = readFileSync(join(tmp.dir, f));
      expect(Number(b.readBigUInt64BE(10))).to.equal(Number(f.slice(8, 28)));
    }
    const second = Number(files[1]!.slice(8, 28));
    s.ack(second - 2);
    expect(segFiles(tmp.dir)).to.deep.equal(files);
    s.ack(second - 1);
    expect(segFiles(tmp.dir)).to.deep.equal(files.slice(1));
    expect(s.bytes).to.equal(files.slice(1).reduce((n, f) => n + statSync(join(tmp.dir, f)).size, 0));
    s.ack(40);
    // Fully acknowledged: one fresh, empty segment remains, named by the next sequence.
    expect(segFiles(tmp.dir)).to.deep.equal(['segment-00000000000000000041.spool']);
    expect(s.bytes).to.equal(0);
    expect(readFileSync(join(tmp.dir, 'ack'), 'utf8')).to.equal('umbra-spool-ack 1 40\n');
    s.close();
  });

  it('truncates a torn last frame at open and continues the sequence after the last valid one', () => {
    let s = open();
    for (let i = 1; i <= 5; i++) s.append(mkEvent(i));
    s.close();
    const file = join(tmp.dir, segFiles(tmp.dir)[0]!);
    const good = statSync(file).size;
    // A write cut short: the first 30 bytes of what frame 6 would be.
    const b = readFileSync(file);
    const first = b.subarray(0, FRAME_HEADER_BYTES + b.readUInt32BE(2));
    appendFileSync(file, first.subarray(0, 30));
    s = open();
    expect(statSync(file).size).to.equal(good);
    expect(s.counters.get('spool.torn_frames')).to.equal(1);
    expect(s.counters.get('spool.torn_bytes')).to.equal(30);
    expect(s.nextSeq).to.equal(6);
    expect(s.append(mkEvent(6))).to.equal(6);
    expect(readAll(s).map((g) => g.seq)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(s.counters.get('spool.corrupt_frames')).to.equal(0);
    s.close();
  });

  it('a torn header (fewer bytes than a header) is truncated too', () => {
    let s = open();
    s.append(mkEvent(1));
    s.close();
    const file = join(tmp.dir, segFiles(tmp.dir)[0]!);
    appendFileSync(file, Buffer.from([0xf5, 0xa9, 0, 0]));
    s = open();
    expect(s.counters.get('spool.torn_bytes')).to.equal(4);
    expect(readAll(s).map((g) => g.seq)).to.deep.equal([1]);
    s.close();
  });

  for (const [what, at] of [
    ['payload byte', (off: number) => off + FRAME_HEADER_BYTES + 5],
    ['magic', (off: number) => off],
    ['length field', (off: number) => off + 2],
    ['crc field', (off: number) => off + 8],
    ['sequence field', (off: number) => off + 17],
  ] as const) {
    it(`a flipped ${what} in the middle: that frame is skipped and counted once, the rest delivered`, () => {
      let s = open();
      for (let i = 1; i <= 10; i++) s.append(mkEvent(i));
      s.close();
      const file = join(tmp.dir, segFiles(tmp.dir)[0]!);
      const b = readFileSync(file);
      const pos = at(frameOffsets(file)[3]!);
      b[pos] = b[pos]! ^ 0x40;
      writeFileSync(file, b);
      s = open();
      expect(s.nextSeq).to.equal(11);
      expect(s.counters.get('spool.torn_frames')).to.equal(0);
      expect(readAll(s).map((g) => g.seq)).to.deep.equal([1, 2, 3, 5, 6, 7, 8, 9, 10]);
      expect(s.counters.get('spool.corrupt_frames')).to.equal(1);
      expect(s.counters.get('spool.corrupt_regions')).to.equal(1);
      // Reading again (nothing acknowledged) does not count it twice.
      expect(readAll(s).length).to.equal(9);
      s.ack(2);
      expect(readAll(s).map((g) => g.seq)).to.deep.equal([3, 5, 6, 7, 8, 9, 10]);
      s.ack(10);
      expect(s.counters.get('spool.corrupt_frames')).to.equal(1);
      s.close();
    });
  }

  it('adjacent damaged frames are one region; the events lost are counted exactly from the sequence gap', () => {
    let s = open();
    for (let i = 1; i <= 10; i++) s.append(mkEvent(i));
    s.ack(2);
    s.close();
    const file = join(tmp.dir, segFiles(tmp.dir)[0]!);
    const offs = frameOffsets(file);
    const b = readFileSync(file);
    for (const k of [1, 3, 4, 5]) b[offs[k]! + 1] ^= 0xff; // magic of seq 2 (acknowledged), 4, 5, 6
    writeFileSync(file, b);
    s = open();
    expect(readAll(s).map((g) => g.seq)).to.deep.equal([3, 7, 8, 9, 10]);
    expect(s.counters.get('spool.corrupt_regions')).to.equal(2);
    // seq 2 was acknowledged (delivered) before the damage: not lost.
    expect(s.counters.get('spool.corrupt_frames')).to.equal(3);
    expect(s.counters.get('spool.corrupt_bytes')).to.equal(offs[6]! - offs[3]! + offs[2]! - offs[1]!);
    s.close();
  });

  it('corruption in an older segment and at its end is skipped; reading goes on into the next segment', () => {
    let s = open({ segmentBytes: 3000, maxBytes: 100_000 });
    for (let i = 1; i <= 30; i++) s.append(mkEvent(i));
    s.close();
    const files = segFiles(tmp.dir);
    expect(files.length).to.be.greaterThan(2);
    const f0 = join(tmp.dir, files[0]!);
    const offs = frameOffsets(f0);
    expect(offs.length).to.be.greaterThan(3);
    const b = readFileSync(f0);
    b[offs[1]! + FRAME_HEADER_BYTES + 3] ^= 1;
    b[offs[offs.length - 1]! + FRAME_HEADER_BYTES + 3] ^= 1; // last frame of a non-last segment
    writeFileSync(f0, b);
    s = open({ segmentBytes: 3000, maxBytes: 100_000 });
    const seqs = readAll(s).map((g) => g.seq);
    const lost = [2, offs.length];
    expect(seqs).to.deep.equal(Array.from({ length: 30 }, (_, i) => i + 1).filter((q) => !lost.includes(q)));
    expect(s.counters.get('spool.corrupt_frames')).to.equal(2);
    s.close();
  });

  it('an older segment file removed behind its back: its events counted as lost, reading goes on', () => {
    const s = open({ segmentBytes: 3000, maxBytes: 100_000 });
    for (let i = 1; i <= 40; i++) s.append(mkEvent(i));
    const files = segFiles(tmp.dir);
    expect(files.length).to.be.greaterThan(3);
    const first = (f: string): number => Number(f.slice(8, 28));
    const gone = [first(files[1]!), first(files[2]!) - 1];
    rmSync(join(tmp.dir, files[1]!));
    const bytesBefore = s.bytes;
    const seqs = readAll(s).map((g) => g.seq);
    expect(seqs).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1).filter((q) => q < gone[0]! || q > gone[1]!));
    expect(s.counters.get('spool.missing_segments')).to.equal(1);
    expect(s.counters.get('spool.corrupt_frames')).to.equal(gone[1]! - gone[0]! + 1);
    expect(s.bytes).to.be.below(bytesBefore);
    s.ack(40);
    expect(segFiles(tmp.dir)).to.deep.equal(['segment-00000000000000000041.spool']);
    s.close();
  });

  it('spool full: the new event is dropped and counted; exactly the dropped ones are missing', () => {
    const s = open({ segmentBytes: 2000, maxBytes: 6000 });
    const kept: string[] = [];
    let nulls = 0;
    for (let i = 0; i < 200; i++) {
      const seq = s.append(mkEvent(i));
      if (seq === null) nulls++;
      else kept.push(`q${i}.example`);
    }
    expect(nulls).to.be.greaterThan(100);
    expect(s.counters.get('spool.dropped')).to.equal(nulls);
    expect(s.bytes).to.be.at.most(6000);
    const got = readAll(s);
    expect(got.map((g) => g.ev.dns!.question.name)).to.deep.equal(kept);
    // Sequences have no gaps: a dropped event does not use one up.
    expect(got.map((g) => g.seq)).to.deep.equal(kept.map((_, i) => i + 1));
    // Acknowledging frees whole segments, and appends succeed again.
    s.ack(got[got.length - 1]!.seq);
    expect(s.append(mkEvent('after'))).to.equal(kept.length + 1);
    s.close();
  });

  it('appendMany: one write for many events, rotation and drops inside a batch, same frames as append', () => {
    const s = open({ segmentBytes: 2500, maxBytes: 9000 });
    const batch = [mkEvent('a'), mkEvent('too-big', 1024 * 1024), ...Array.from({ length: 40 }, (_, i) => mkEvent(i))];
    const seqs = s.appendMany(batch);
    expect(seqs[0]).to.equal(1);
    expect(seqs[1]).to.equal(null);
    expect(batch[1]!.event.id).to.equal(undefined);
    const stored = seqs.filter((q): q is number => q !== null);
    expect(stored).to.deep.equal(stored.map((_, i) => i + 1));
    const dropped = seqs.length - stored.length - 1;
    expect(dropped).to.be.greaterThan(0);
    expect(s.counters.get('spool.dropped')).to.equal(dropped);
    expect(s.counters.get('spool.rejected_too_large')).to.equal(1);
    expect(segFiles(tmp.dir).length).to.be.greaterThan(2);
    const got = readAll(s);
    expect(got.map((g) => g.ev)).to.deep.equal(batch.filter((_, i) => seqs[i] !== null));
    s.close();
    // The frames read back after a restart are those of the batch.
    const t = open({ segmentBytes: 2500, maxBytes: 9000 });
    expect(readAll(t).map((g) => g.seq)).to.deep.equal(stored);
    expect(t.nextSeq).to.equal(stored.length + 1);
    t.close();
  });

  it('disk full (a 64 KiB tmpfs): failed writes drop and count their events, the spool stays consistent', function () {
    if (process.getuid?.() !== 0) return this.skip();
    const mnt = join(tmp.dir, 'small-disk');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    } catch {
      return this.skip();
    }
    let opened: Spool | undefined;
    try {
      const o = { dir: join(mnt, 'spool'), agentId: AGENT, fsync: 'never' as const, segmentBytes: 16384, maxBytes: 1024 * 1024 };
      let s = Spool.open(o);
      opened = s;
      const seqs: (number | null)[] = [];
      for (let i = 0; i < 400; i++) seqs.push(s.append(mkEvent(i)));
      const failed = seqs.filter((q) => q === null).length;
      expect(failed).to.be.greaterThan(0);
      expect(s.counters.get('spool.dropped_write_error')).to.equal(failed);
      expect(s.counters.get('spool.dropped')).to.equal(0);
      expect(s.lastWriteError).to.match(/ENOSPC/);
      const stored = seqs.filter((q): q is number => q !== null);
      // A failed write gives its sequences back: no gap (a gap would read as corruption).
      expect(stored).to.deep.equal(stored.map((_, i) => i + 1));
      expect(readAll(s).map((g) => g.seq)).to.deep.equal(stored);
      // Room again: appends work, with sequences above every one handed out.
      s.ack(stored[stored.length - 1]!);
      expect(s.append(mkEvent('after'))).to.be.greaterThan(stored[stored.length - 1]!);
      s.close();
      s = opened = Spool.open(o);
      expect(readAll(s).map((g) => g.ev.dns!.question.name)).to.deep.equal(['qafter.example']);
      expect(s.counters.get('spool.corrupt_frames')).to.equal(0);
      s.close();
    } finally {
      opened?.close();
      execFileSync('umount', ['-l', mnt]);
    }
  });

  it('an event larger than MAX_RECORD_BYTES is refused and counted', () => {
    const s = open({ maxBytes: 4 * 1024 * 1024, segmentBytes: 2 * 1024 * 1024 });
    expect(s.append(mkEvent('big', 1024 * 1024 + 10))).to.equal(null);
    expect(s.counters.get('spool.rejected_too_large')).to.equal(1);
    expect(s.append(mkEvent('ok', 512 * 1024))).to.equal(1);
    expect(readAll(s)[0]!.ev.dns!.question.name.length).to.be.greaterThan(512 * 1024);
    s.close();
  });

  it('one process at a time: a live owner blocks, a dead owner\'s lock is taken over', () => {
    const s = open();
    expect(() => open()).to.throw(SpoolError, /already open/);
    s.close();
    writeFileSync(join(tmp.dir, 'lock'), '1\n'); // pid 1 is alive
    expect(() => open()).to.throw(SpoolError, /in use by process 1/);
    writeFileSync(join(tmp.dir, 'lock'), '999999999\n');
    const t = open();
    expect(t.counters.get('spool.stale_lock')).to.equal(1);
    t.close();
    expect(existsSync(join(tmp.dir, 'lock'))).to.equal(false);
  });

  it('bad options are refused with a message naming them', () => {
    expect(() => open({ fsync: 'sometimes' as never })).to.throw(SpoolError, /fsync policy 'sometimes'/);
    expect(() => open({ agentId: '' })).to.throw(SpoolError, /agent id/);
    expect(() => open({ segmentBytes: 10 })).to.throw(SpoolError, /segment size 10/);
    expect(() => open({ segmentBytes: 5000, maxBytes: 4000 })).to.throw(SpoolError, /below the segment size/);
    expect(() => open({ fsync: 'interval', fsyncIntervalMs: 0 })).to.throw(SpoolError, /interval 0/);
    // Nothing was left locked by the refusals.
    open().close();
  });

  it('an unreadable ack pointer replays from the oldest segment (safe: ids are deterministic)', () => {
    let s = open();
    for (let i = 1; i <= 3; i++) s.append(mkEvent(i));
    s.ack(2);
    s.close();
    writeFileSync(join(tmp.dir, 'ack'), 'garbage');
    s = open();
    expect(s.counters.get('spool.ack_file_invalid')).to.equal(1);
    expect(readAll(s).map((g) => g.seq)).to.deep.equal([1, 2, 3]);
    expect(s.nextSeq).to.equal(4);
    s.close();
  });

  it('fsync policies always and interval work', async () => {
    let s = open({ fsync: 'always' });
    s.append(mkEvent(1));
    s.ack(1);
    s.close();
    s = open({ fsync: 'interval', fsyncIntervalMs: 5 });
    s.append(mkEvent(2));
    await new Promise((r) => setTimeout(r, 20));
    s.close();
    s = open();
    expect(readAll(s).map((g) => g.seq)).to.deep.equal([2]);
    s.close();
  });

  it('property: random byte damage never throws; every undamaged frame is delivered, no damaged one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (n, flips, older) => {
          const t = tempDir();
          const o = { dir: t.dir, agentId: AGENT, fsync: 'never' as const, segmentBytes: older ? 3000 : 1e6, maxBytes: 1e7 };
          let s = Spool.open(o);
          try {
            for (let i = 1; i <= n; i++) s.append(mkEvent(i, (i * 37) % 100));
            s.close();
            // Damage the first segment; with `older`, a later one exists (no torn-tail truncation).
            const files = segFiles(t.dir);
            const file = join(t.dir, files[0]!);
            const offs = frameOffsets(file);
            const orig = readFileSync(file);
            const b = Buffer.from(orig);
            for (const f of flips) {
              const pos = Math.floor(f.at * b.length);
              b[pos] = b[pos]! ^ f.xor;
            }
            // Damaged: the frames with a byte that differs in the end (flips may cancel out).
            const damaged = new Set<number>();
            offs.forEach((off, k) => {
              const end = k + 1 < offs.length ? offs[k + 1]! : orig.length;
              if (!orig.subarray(off, end).equals(b.subarray(off, end))) damaged.add(Number(orig.readBigUInt64BE(off + 10)));
            });
            writeFileSync(file, b);
            s = Spool.open(o);
            const got = readAll(s);
            const seqs = got.map((g) => g.seq);
            // Intact frames of the damaged segment and every frame of later segments.
            expect(seqs).to.deep.equal(Array.from({ length: n }, (_, i) => i + 1).filter((q) => !damaged.has(q)));
            for (const g of got) expect(g.ev.dns!.question.name.startsWith(`q${g.seq}.example`)).to.equal(true);
            // Damage reaching the end of the newest segment is a torn tail (truncated at open);
            // the rest is corruption, and the events lost in it are counted exactly.
            let trailing = 0;
            if (files.length === 1) while (damaged.has(offs.length - trailing)) trailing++;
            expect(s.counters.get('spool.torn_frames')).to.equal(trailing > 0 ? 1 : 0);
            expect(s.counters.get('spool.corrupt_frames')).to.equal(damaged.size - trailing);
            if (damaged.size > trailing) expect(s.counters.get('spool.corrupt_regions')).to.be.within(1, damaged.size - trailing);
            expect(s.nextSeq).to.be.at.least(Math.max(0, ...seqs) + 1);
          } finally {
            s.close();
            t.remove();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: a segment cut at any byte recovers exactly the whole frames before the cut', () => {
    const t = tempDir();
    let s = Spool.open({ dir: t.dir, agentId: AGENT, fsync: 'never' });
    for (let i = 1; i <= 12; i++) s.append(mkEvent(i, i * 5));
    s.close();
    const file = join(t.dir, segFiles(t.dir)[0]!);
    const full = readFileSync(file);
    const offs = [...frameOffsets(file), full.length];
    try {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: full.length }), (cut) => {
          writeFileSync(file, full.subarray(0, cut));
          s = Spool.open({ dir: t.dir, agentId: AGENT, fsync: 'never' });
          try {
            const whole = offs.filter((o) => o > 0 && o <= cut).length;
            expect(readAll(s).map((g) => g.seq)).to.deep.equal(Array.from({ length: whole }, (_, i) => i + 1));
            expect(s.nextSeq).to.equal(Math.max(whole + 1, 1));
            expect(statSync(file).size).to.equal(offs[whole]);
            expect(s.counters.get('spool.torn_frames')).to.equal(cut === offs[whole] ? 0 : 1);
          } finally {
            s.close();
          }
        }),
        { numRuns: 150 },
      );
    } finally {
      t.remove();
    }
  });

  it('property: any sequence of appends, reads, reads ahead, rewinds, acks and restarts matches a model', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('append' as const), pad: fc.nat(300) }),
            fc.record({ op: fc.constant('ack' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
            fc.record({ op: fc.constant('read' as const), n: fc.integer({ min: 1, max: 20 }) }),
            fc.record({ op: fc.constant('restart' as const) }),
            fc.record({ op: fc.constant('ahead' as const), n: fc.integer({ min: 1, max: 8 }) }),
            fc.record({ op: fc.constant('rewind' as const) }),
          ),
          { maxLength: 80 },
        ),
        (ops) => {
          const t = tempDir();
          const o = { dir: t.dir, agentId: AGENT, fsync: 'never' as const, segmentBytes: 700, maxBytes: 5000 };
          let s = Spool.open(o);
          const model: { seq: number; name: string }[] = [];
          let next = 1;
          let acked = 0;
          let dropped = 0;
          let handed = 0; // the last sequence readAhead handed out since the last rewind
          let k = 0;
          try {
            for (const op of ops) {
              if (op.op === 'append') {
                const seq = s.append(mkEvent(k, op.pad));
                if (seq === null) dropped++;
                else {
                  expect(seq).to.equal(next++);
                  model.push({ seq, name: mkEvent(k, op.pad).dns!.question.name });
                }
                k++;
              } else if (op.op === 'ack') {
                const upto = acked + Math.floor(op.frac * (next - 1 - acked));
                if (upto > acked) {
                  s.ack(upto);
                  acked = upto;
                }
              } else if (op.op === 'read') {
                const got = s.readBatch(op.n, 1e9).map((r) => ({ seq: r.seq, name: (JSON.parse(r.json.toString()) as UmbraEvent).dns!.question.name }));
                expect(got).to.deep.equal(model.filter((m) => m.seq > acked).slice(0, op.n));
                handed = 0;
              } else if (op.op === 'ahead') {
                expect(s.unread).to.equal(next - 1 - Math.max(acked, handed));
                const got = s.readAhead(op.n, 1e9).map((r) => ({ seq: r.seq, name: (JSON.parse(r.json.toString()) as UmbraEvent).dns!.question.name }));
                const want = model.filter((m) => m.seq > Math.max(acked, handed)).slice(0, op.n);
                expect(got).to.deep.equal(want);
                if (want.length) handed = want[want.length - 1]!.seq;
              } else if (op.op === 'rewind') {
                s.rewind();
                handed = 0;
              } else {
                s.close();
                s = Spool.open(o);
                expect(s.nextSeq).to.equal(next);
                handed = 0;
              }
              expect(s.bytes).to.be.at.most(5000);
              expect(s.counters.get('spool.dropped')).to.equal(dropped);
            }
            expect(readAll(s).map((g) => g.seq)).to.deep.equal(model.filter((m) => m.seq > acked).map((m) => m.seq));
          } finally {
            s.close();
            t.remove();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
