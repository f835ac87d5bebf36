// The bounded fragment table: any arrival order (with exact duplicates) rebuilds
// the same datagram; overlaps, inconsistent ends, size, count and time limits drop
// it, each counted by name.
import { expect } from 'chai';
import fc from 'fast-check';
import { Counters } from '../../../agent/stats.js';
import { FragmentTable, DEFAULT_FRAG_LIMITS, MAX_FRAG_DATAGRAM_BYTES } from '../../../agent/flow/ip-fragments.js';

function split(d: Uint8Array, cuts: number[]): { off: number; more: boolean; bytes: Uint8Array }[] {
  const points = [...new Set(cuts.map((c) => (c % Math.max(1, Math.floor(d.length / 8))) * 8).filter((c) => c > 0 && c < d.length))].sort((a, b) => a - b);
  const edges = [0, ...points, d.length];
  const out = [];
  for (let i = 0; i + 1 < edges.length; i++) out.push({ off: edges[i], more: i + 2 < edges.length, bytes: d.subarray(edges[i], edges[i + 1]) });
  return out;
}

describe('FragmentTable', () => {
  it('fragments in any order, with duplicates, rebuild the same datagram when the last one arrives', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 4 }), fc.nat(),
        (data, cuts, dups, seed) => {
          const frags = split(data, cuts);
          const sequence = [...frags, ...dups.map((i) => frags[i % frags.length])];
          // a seeded shuffle
          let s = seed;
          for (let i = sequence.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) >>> 0;
            const j = s % (i + 1);
            [sequence[i], sequence[j]] = [sequence[j], sequence[i]];
          }
          const c = new Counters();
          const t = new FragmentTable(c);
          const seen = new Set<number>();
          let result: Uint8Array | null = null;
          for (const f of sequence) {
            seen.add(f.off);
            const r = t.add('k', 100, f.off, f.more, f.bytes);
            // complete exactly when the last distinct fragment arrives
            expect(r !== null, `after ${seen.size} of ${frags.length}`).to.equal(seen.size === frags.length);
            if (r) {
              result = r;
              break;
            }
          }
          expect(result && Buffer.from(result).equals(Buffer.from(data))).to.equal(true);
          expect(c.get('frag.overlap')).to.equal(0);
          expect(t.size).to.equal(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('an overlap that is not an exact duplicate drops the datagram (frag.overlap)', () => {
    const c = new Counters();
    const t = new FragmentTable(c);
    expect(t.add('k', 0, 0, true, new Uint8Array(16))).to.equal(null);
    expect(t.add('k', 0, 8, true, new Uint8Array(16).fill(1))).to.equal(null);
    expect(c.get('frag.overlap')).to.equal(1);
    expect(t.size).to.equal(0);
    // the rest of the datagram can no longer complete it
    expect(t.add('k', 0, 16, false, new Uint8Array(8))).to.equal(null);
  });

  it('timeouts in capture time, evictions at the entry cap, too large, bad length, inconsistent end', () => {
    const c = new Counters();
    const t = new FragmentTable(c, { ...DEFAULT_FRAG_LIMITS, maxDatagrams: 2, timeoutSec: 30 });
    t.add('a', 0, 0, true, new Uint8Array(8));
    t.add('b', 10, 0, true, new Uint8Array(8));
    t.add('c', 20, 0, true, new Uint8Array(8));
    expect(c.get('frag.evicted')).to.equal(1);
    t.add('d', 45, 0, true, new Uint8Array(8)); // b (10) is 35 s old
    expect(c.get('frag.timeout')).to.equal(1);
    expect(t.size).to.equal(2);
    t.add('e', 45, MAX_FRAG_DATAGRAM_BYTES - 4, false, new Uint8Array(8));
    expect(c.get('frag.too_large')).to.equal(1);
    t.add('f', 45, 0, true, new Uint8Array(7));
    expect(c.get('frag.bad_length')).to.equal(1);
    t.add('g', 45, 16, false, new Uint8Array(8));
    t.add('g', 45, 32, false, new Uint8Array(8));
    expect(c.get('frag.inconsistent')).to.equal(1);
  });

  it('the buffered bytes stay under the table cap', () => {
    const c = new Counters();
    const t = new FragmentTable(c, { ...DEFAULT_FRAG_LIMITS, maxTableBytes: 10000 });
    for (let i = 0; i < 100; i++) t.add('k' + i, 0, 0, true, new Uint8Array(1000));
    expect(t.bufferedBytes).to.be.at.most(10000);
    expect(c.get('frag.evicted')).to.equal(90);
  });
});
