// The SQLite store's query side directly: migration 2 on a version-1 file
// (columns backfilled from the documents), bucket math below zero, the cap on
// keys per timeline bucket, and the indexes the queries use.
import { expect } from 'chai';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../../collector/store/sqlite-migrations.js';
import { SqliteStore } from '../../../collector/store/sqlite.js';
import { bucketStart, capSplit, storedEvent, type StoredEvent } from '../../../collector/store/store.js';
import { AGENT, makeEvent } from '../helpers.js';

function stored(seq: number, over: Parameters<typeof makeEvent>[1] & { category?: string; user?: unknown } = {}): StoredEvent {
  const e = makeEvent(seq, over) as any;
  if (over.category !== undefined) e.umbra.service.category = over.category;
  if (over.user !== undefined) e.user = { name: over.user };
  return storedEvent(e, AGENT, Date.parse(e['@timestamp']));
}

describe('SQLite store: query side', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-sqlite-query-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('migration 2 on a version-1 file fills category and user_name from the documents (text values only)', async () => {
    const path = join(dir, 'v1.sqlite');
    const db = new Database(path);
    db.exec(MIGRATIONS[0]!.sql);
    db.pragma('user_version = 1');
    const ins = db.prepare('INSERT INTO events (id, ts_ms, agent_id, action, source_ip, destination_domain, service_id, received_ms, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const rows: [number, unknown, string | null][] = [[1, 'alice', 'chat-assistant'], [2, null, 'coding-assistant'], [3, 42, 'chat-assistant'], [4, 'bob', null]];
    for (const [seq, user, category] of rows) {
      const e = makeEvent(seq) as any;
      if (user !== null) e.user = { name: user };
      if (category === null) delete e.umbra;
      else e.umbra.service.category = category;
      ins.run(e.event.id, Date.parse(e['@timestamp']), AGENT, e.event.action, e.source.ip, e.destination.domain, e.umbra?.service?.id ?? null, 0, JSON.stringify(e));
    }
    db.close();
    const s = SqliteStore.open(path);
    expect(s.migrationsApplied).to.deep.equal([2, 3]);
    await s.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT id, category, user_name FROM events ORDER BY rowid').all()).to.deep.equal([
      { id: `${AGENT}:1`, category: 'chat-assistant', user_name: 'alice' },
      { id: `${AGENT}:2`, category: 'coding-assistant', user_name: null },
      { id: `${AGENT}:3`, category: 'chat-assistant', user_name: null }, // a number is not a user name
      { id: `${AGENT}:4`, category: null, user_name: 'bob' },
    ]);
    check.close();
    const again = SqliteStore.open(path);
    const idsOf = async (f: object): Promise<string[]> => (await again.page(f)).events.map((e) => e.event.id!);
    expect(await idsOf({ category: 'chat-assistant' })).to.deep.equal([`${AGENT}:3`, `${AGENT}:1`]);
    expect(await idsOf({ user: 'bob' })).to.deep.equal([`${AGENT}:4`]);
    // New rows get the columns at insert.
    await again.insertBatch([stored(5, { category: 'coding-assistant', user: 'carol' }), stored(6, { user: 7 })], []);
    expect(await idsOf({ category: 'coding-assistant' })).to.deep.equal([`${AGENT}:5`, `${AGENT}:2`]);
    expect(await idsOf({ user: 'carol' })).to.deep.equal([`${AGENT}:5`]);
    await again.close();
  });

  it('buckets are floor multiples of the interval, also before 1970', async () => {
    expect(bucketStart(0, 300_000)).to.equal(0);
    expect(bucketStart(299_999, 300_000)).to.equal(0);
    expect(bucketStart(300_000, 300_000)).to.equal(300_000);
    expect(bucketStart(-1, 300_000)).to.equal(-300_000);
    expect(bucketStart(-300_000, 300_000)).to.equal(-300_000);
    expect(bucketStart(-300_001, 300_000)).to.equal(-600_000);
    const s = SqliteStore.open(join(dir, 'old.sqlite'));
    await s.insertBatch([
      stored(1, { ts: '1969-12-31T23:59:59.999Z' }), stored(2, { ts: '1969-12-31T23:55:00.000Z' }), stored(3, { ts: '1969-12-31T23:54:59.999Z' }),
      stored(4, { ts: '1970-01-01T00:00:00.000Z' }), stored(5, { ts: '1970-01-01T00:04:59.999Z' }),
    ], []);
    expect(await s.summarize({ kind: 'timeline', filter: {}, intervalMs: 300_000 })).to.deep.equal([
      { startMs: -600_000, events: 1 }, { startMs: -300_000, events: 2 }, { startMs: 0, events: 2 },
    ]);
    await s.close();
  });

  it('timeline over an open range: more than maxBuckets spanned by the matching events is an InvalidQueryError before any bucket is counted', async () => {
    const s = SqliteStore.open(join(dir, 'span.sqlite'));
    const t0 = Date.UTC(2026, 10, 25);
    const iso = (ms: number): string => new Date(ms).toISOString();
    // 1000 buckets of 5 minutes exactly: first event at the start of the first, last at the end of the last.
    await s.insertBatch([stored(1, { ts: iso(t0) }), stored(2, { ts: iso(t0 + 999 * 300_000 + 299_999) })], []);
    expect((await s.summarize({ kind: 'timeline', filter: {}, intervalMs: 300_000, maxBuckets: 1000 })).length).to.equal(2);
    await s.insertBatch([stored(3, { ts: iso(t0 + 1000 * 300_000) })], []); // one bucket more
    const err = await s.summarize({ kind: 'timeline', filter: {}, intervalMs: 300_000, maxBuckets: 1000 }).then(() => null, (e: Error) => e);
    expect(err?.message).to.equal('interval: the matching events span 1001 buckets, at most 1000; give since and until or take a longer interval');
    // A closed range is the API's to check: the store counts it.
    expect((await s.summarize({ kind: 'timeline', filter: { sinceMs: t0, untilMs: t0 + 1 }, intervalMs: 300_000, maxBuckets: 1000 })).length).to.equal(1);
    await s.close();
  });

  it('a timeline bucket counts at most 50 keys; the rest add up under (other)', async () => {
    // k01: 3 events; k02 … k53: 1 each. Kept: k01 and k02 … k50 (ties in key order); k51, k52, k53 → (other) = 3.
    const events: StoredEvent[] = [];
    let seq = 0;
    for (let k = 1; k <= 53; k++) {
      for (let n = 0; n < (k === 1 ? 3 : 1); n++) events.push(stored(++seq, { service: `k${String(k).padStart(2, '0')}`, ts: '2026-11-25T12:00:00.000Z' }));
    }
    const s = SqliteStore.open(join(dir, 'many.sqlite'));
    await s.insertBatch(events, []);
    const [bucket, ...rest] = await s.summarize({ kind: 'timeline', filter: {}, intervalMs: 3_600_000, split: 'service' });
    expect(rest).to.deep.equal([]);
    expect(bucket!.events).to.equal(55);
    const expected: Record<string, number> = { k01: 3, '(other)': 3 };
    for (let k = 2; k <= 50; k++) expected[`k${String(k).padStart(2, '0')}`] = 1;
    expect(bucket!.by).to.deep.equal(expected);
    expect(capSplit(new Map([['a', 1]]))).to.deep.equal({ a: 1 });
    // Keys come from agents: names of Object.prototype members are counted like any other.
    const odd = capSplit(new Map([['constructor', 2], ['toString', 1], ['__proto__', 4]]));
    expect(JSON.parse(JSON.stringify(odd))).to.deep.equal(JSON.parse('{"__proto__":4,"constructor":2,"toString":1}'));
    expect(Object.keys(odd).sort()).to.deep.equal(['__proto__', 'constructor', 'toString']);
    await s.close();
  });

  it('filters and summaries read through indexes (no full scan of events where an index serves)', () => {
    const db = new Database(':memory:');
    for (const m of MIGRATIONS) db.exec(m.sql);
    const plan = (sql: string, ...args: unknown[]): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan('SELECT doc FROM events WHERE user_name = ? ORDER BY ts_ms DESC, rowid DESC LIMIT 10', 'a')).to.match(/USING INDEX events_user/);
    expect(plan('SELECT doc FROM events WHERE category = ? ORDER BY ts_ms DESC, rowid DESC LIMIT 10', 'a')).to.match(/USING INDEX events_category/);
    expect(plan('SELECT doc FROM events WHERE ts_ms <= ? AND (ts_ms < ? OR rowid < ?) ORDER BY ts_ms DESC, rowid DESC LIMIT 10', 1, 1, 1)).to.match(/SEARCH events USING INDEX events_ts \(ts_ms<\?\)/);
    expect(plan('SELECT category, count(*) FROM events WHERE category IS NOT NULL GROUP BY category')).to.match(/COVERING INDEX events_category/);
    // A source filter seeks the minute-first index once per minute (the IN list sqlite-query.ts adds).
    expect(plan('SELECT doc FROM events WHERE ts_ms / 60000 IN (WITH RECURSIVE m(v) AS (SELECT ? UNION ALL SELECT v - 1 FROM m WHERE v > ?) SELECT v FROM m) AND source_ip = ? ORDER BY ts_ms DESC, rowid DESC LIMIT 10', 10, 1, 'a'))
      .to.match(/SEARCH events USING INDEX events_source_minute \(<expr>=\? AND source_ip=\?\)/);
    db.close();
  });

  it('property: pages of any size, over events with many equal times, concatenate to the full newest-first order; timeline counts add up per bucket', async () => {
    const s = SqliteStore.open(join(dir, 'prop.sqlite'), { synchronous: 'normal' });
    let run = 0;
    try {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.constantFrom('a', 'b', 'c')), { minLength: 0, maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        async (spec, limit) => {
          run++;
          const agent = `p${run}`; // each run its own events, told apart by agent
          const base = Date.UTC(2026, 10, 25, 12);
          const events = spec.map(([min, svc], i) => {
            const e = makeEvent(i, { agent, service: svc, ts: new Date(base + min * 60_000).toISOString() });
            return storedEvent(e, agent, Date.parse(e['@timestamp']));
          });
          await s.insertBatch(events, []);
          // Oracle: newest first, equal times in reverse order of storing.
          const order = events.map((e, i) => ({ id: e.id, t: e.timestampMs, i })).sort((x, y) => y.t - x.t || y.i - x.i).map((x) => x.id);
          const seen: string[] = [];
          let after;
          for (let n = 0; n < 100; n++) {
            const p = await s.page({ agentId: agent, limit, ...(after ? { after } : {}) });
            seen.push(...p.events.map((e) => e.event.id!));
            if (!p.next) break;
            expect(p.events.length).to.equal(limit);
            after = p.next;
          }
          expect(seen).to.deep.equal(order);
          // 5-minute buckets: minute m falls in bucket floor(m / 5).
          const want = new Map<number, number>();
          for (const [min] of spec) want.set(Math.floor(min / 5), (want.get(Math.floor(min / 5)) ?? 0) + 1);
          const got = await s.summarize({ kind: 'timeline', filter: { agentId: agent }, intervalMs: 300_000 });
          expect(got).to.deep.equal([...want].sort((x, y) => x[0] - y[0]).map(([b, n]) => ({ startMs: base + b * 300_000, events: n })));
        },
      ), { numRuns: 60 });
    } finally {
      await s.close();
    }
  });
  /** Seconds around the epoch, mostly next to minute edges (minute numbers truncate toward zero in SQLite). */
  const NEAR_EDGES = fc.oneof(fc.constantFrom(-121, -120, -119, -61, -60, -59, -31, -1, 0, 1, 59, 60, 61), fc.integer({ min: -300, max: 300 }));

  it('property: a source filter (read through the minute-first index) answers exactly what filtering every event would, with or without since/until, also before 1970', async () => {
    const s = SqliteStore.open(join(dir, 'prop-src.sqlite'), { synchronous: 'normal' });
    let run = 0;
    try {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.tuple(NEAR_EDGES, fc.constantFrom('10.0.0.1', '10.0.0.2', '2001:db8::7')), { maxLength: 40 }),
        fc.option(NEAR_EDGES, { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
        fc.constantFrom('10.0.0.1', '2001:db8::7'),
        async (spec, since, width, source) => {
          run++;
          const agent = `s${run}`;
          const base = Date.UTC(1970, 0, 1); // times around the epoch: negative minutes too
          const events = spec.map(([sec, src], i) => {
            const e = makeEvent(i, { agent, sourceIp: src, ts: new Date(base + sec * 1000).toISOString() });
            return storedEvent(e, agent, Date.parse(e['@timestamp']));
          });
          await s.insertBatch(events, []);
          const until = since !== undefined && width !== undefined ? since * 1000 + width * 1000 : undefined;
          const filter = { agentId: agent, sourceIp: source, ...(since !== undefined ? { sinceMs: since * 1000 } : {}), ...(until !== undefined ? { untilMs: until } : {}) };
          const want = events.map((e, i) => ({ e, i }))
            .filter(({ e }) => e.sourceIp === source && (filter.sinceMs === undefined || e.timestampMs >= filter.sinceMs) && (until === undefined || e.timestampMs < until))
            .sort((x, y) => y.e.timestampMs - x.e.timestampMs || y.i - x.i).map(({ e }) => e.id);
          const seen: string[] = [];
          let after;
          for (let n = 0; n < 100; n++) {
            const p = await s.page({ ...filter, limit: 3, ...(after ? { after } : {}) });
            seen.push(...p.events.map((e) => e.event.id!));
            if (!p.next) break;
            after = p.next;
          }
          expect(seen).to.deep.equal(want);
          const sources = await s.summarize({ kind: 'sources', filter, limit: 10 });
          expect(sources.map((r) => [r.sourceIp, r.events])).to.deep.equal(want.length ? [[source, want.length]] : []);
        },
      ), { numRuns: 80 });
    } finally {
      await s.close();
    }
  });
});
