import { expect } from 'chai';
import fc from 'fast-check';
import { Counters } from '../../../agent/stats.js';
import { MAX_PENDING_RANGES, MAX_STREAM_PREFIX, TcpReassembly } from '../../../agent/flow/tcp-reassembly.js';

const data = (n: number, seed = 1): Uint8Array => new Uint8Array(n).map((_, i) => (i * 131 + seed * 17 + (i >> 8)) & 0xff);
const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('TcpReassembly', () => {
  it('in order, from ISN + 1', () => {
    const r = new TcpReassembly(new Counters());
    const d = data(300);
    r.onSyn(1000);
    r.add(1001, d.subarray(0, 100));
    r.add(1101, d.subarray(100));
    expect(eq(r.contiguous(), d)).to.equal(true);
    expect(r.hasGap).to.equal(false);
  });

  it('out of order: a hole, then filled', () => {
    const r = new TcpReassembly(new Counters());
    const d = data(300);
    r.onSyn(5);
    r.add(206, d.subarray(200));
    expect(r.contiguous().length).to.equal(0);
    expect(r.hasGap).to.equal(true);
    r.add(106, d.subarray(100, 200));
    expect(r.contiguous().length).to.equal(0);
    r.add(6, d.subarray(0, 100));
    expect(eq(r.contiguous(), d)).to.equal(true);
    expect(r.hasGap).to.equal(false);
  });

  it('retransmission and overlap: first bytes win; a differing copy is counted', () => {
    const c = new Counters();
    const r = new TcpReassembly(c);
    const d = data(200);
    r.onSyn(0);
    r.add(1, d.subarray(0, 120));
    r.add(1, d.subarray(0, 120)); // identical retransmission
    expect(c.get('tcp.overlap_conflict')).to.equal(0);
    const evil = d.slice(100, 200);
    evil[0] ^= 0xff;
    r.add(101, evil); // overlaps 100..120 with different bytes, then new bytes
    expect(c.get('tcp.overlap_conflict')).to.equal(1);
    const want = d.slice();
    expect(eq(r.contiguous(), want)).to.equal(true);
  });

  it('sequence numbers wrap around 2^32', () => {
    const r = new TcpReassembly(new Counters());
    const d = data(400);
    r.onSyn(0xffffff00);
    r.add((0xffffff01 + 300) >>> 0, d.subarray(300));
    r.add(0xffffff01, d.subarray(0, 200));
    r.add((0xffffff01 + 200) >>> 0, d.subarray(200, 300));
    expect(eq(r.contiguous(), d)).to.equal(true);
  });

  it('without a SYN, a late earlier segment moves the start back', () => {
    const r = new TcpReassembly(new Counters());
    const d = data(300);
    r.add(7100, d.subarray(100));
    r.add(7000, d.subarray(0, 100));
    expect(eq(r.contiguous(), d)).to.equal(true);
  });

  it('with a SYN, bytes before ISN + 1 are ignored', () => {
    const r = new TcpReassembly(new Counters());
    const d = data(100);
    r.onSyn(99);
    r.add(90, d);
    expect(eq(r.contiguous(), d.subarray(10))).to.equal(true);
  });

  it('keeps at most MAX_STREAM_PREFIX bytes and at most MAX_PENDING_RANGES islands', () => {
    const c = new Counters();
    const r = new TcpReassembly(c);
    r.onSyn(0);
    r.add(1, data(MAX_STREAM_PREFIX + 500));
    expect(r.contiguous().length).to.equal(MAX_STREAM_PREFIX);
    expect(r.full).to.equal(true);
    const r2 = new TcpReassembly(c);
    r2.onSyn(0);
    for (let i = 0; i < MAX_PENDING_RANGES + 5; i++) r2.add(1 + 100 + i * 20, data(10));
    expect(c.get('tcp.reassembly_overflow')).to.equal(5);
    expect(r2.allocated).to.be.at.most(MAX_STREAM_PREFIX);
  });

  it('consume() slides the window, even past bytes not yet here', () => {
    const r = new TcpReassembly(new Counters());
    const d = data(100);
    r.onSyn(0);
    r.add(1, d.subarray(0, 50));
    r.consume(20);
    expect(eq(r.contiguous(), d.subarray(20, 50))).to.equal(true);
    r.consume(60); // 30 known + 30 not yet seen
    expect(r.contiguous().length).to.equal(0);
    r.add(51, d.subarray(50)); // bytes 50..100: 50..80 were skipped
    expect(eq(r.contiguous(), d.subarray(80))).to.equal(true);
  });

  it('property: any segmentation, any order, with duplicates and overlaps, gives the stream', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(64)), { maxLength: 4 }),
        fc.boolean(),
        fc.nat(),
        (len, isn, cutSeeds, extras, syn, shuffleSeed) => {
          const d = data(len, isn & 0xff);
          const cuts = [...new Set(cutSeeds.map((x) => x % len))].sort((a, b) => a - b).filter((x) => x > 0);
          const bounds = [0, ...cuts, len];
          const segs: [number, Uint8Array][] = [];
          for (let i = 0; i + 1 < bounds.length; i++) segs.push([bounds[i], d.subarray(bounds[i], bounds[i + 1])]);
          for (const [at, n] of extras) {
            const s = at % len;
            segs.push([s, d.subarray(s, Math.min(len, s + n + 1))]);
          }
          // deterministic shuffle
          let x = shuffleSeed | 1;
          for (let i = segs.length - 1; i > 0; i--) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            const j = x % (i + 1);
            [segs[i], segs[j]] = [segs[j], segs[i]];
          }
          const c = new Counters();
          const r = new TcpReassembly(c);
          if (syn) r.onSyn(isn); // without a SYN the earliest segment seen so far is the start, moved back as earlier ones come
          for (const [o, b] of segs) r.add((isn + 1 + o) >>> 0, b);
          expect(eq(r.contiguous(), d.subarray(0, Math.min(len, MAX_STREAM_PREFIX)))).to.equal(true);
          expect(r.hasGap).to.equal(false);
          expect(c.get('tcp.overlap_conflict')).to.equal(0);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
