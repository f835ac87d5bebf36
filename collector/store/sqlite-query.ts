// The reads of the SQLite store behind the query API: pages of events and the
// summaries (top services, sources, categories; counts over time), as SQL over
// the indexed columns of `events` (sqlite-migrations.ts). Kept apart from
// sqlite.ts, whose job is the insert path. Statements are prepared once per
// database and shape (better-sqlite3 caches nothing by itself).
import type { Database, Statement } from 'better-sqlite3';
import type { UmbraEvent } from '../../agent/event.js';
import {
  bucketStart, capSplit, clampLimit, InvalidQueryError, MAX_USERS_PER_SOURCE, NONE_KEY,
  type CategorySummary, type EventFilter, type EventPage, type EventQuery, type ServiceSummary, type SourceSummary,
  type SummaryQuery, type SummaryRows, type TimelineBucket,
} from './store.js';

/** Prepared statements by SQL text, per database (a query shape is prepared once). */
const statements = new WeakMap<Database, Map<string, Statement>>();
/** Most distinct statements kept per database (query shapes: combinations of filters). */
export const MAX_CACHED_STATEMENTS = 256;

function prepare(db: Database, sql: string): Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let st = cache.get(sql);
  if (!st) {
    if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
    st = db.prepare(sql);
    cache.set(sql, st);
  }
  return st;
}

type Arg = string | number;

/** Minutes of the source-address index (migration 3: `events_source_minute (ts_ms / 60000, source_ip, ts_ms)`). */
export const SOURCE_INDEX_BUCKET_MS = 60_000;

/**
 * The WHERE terms of a filter (ANDed) and their arguments, in order. A source filter also
 * names the minutes of its range (`ts_ms / 60000 IN (…)`, implied by the range, so it
 * changes no answer) so that the index keyed by minute first is read with one seek per
 * minute; an open range is closed by the first and last stored times.
 */
function whereOf(db: Database, f: EventFilter): { terms: string[]; args: Arg[] } {
  const terms: string[] = [];
  const args: Arg[] = [];
  if (f.sourceIp !== undefined) {
    let lo = f.sinceMs;
    let hi = f.untilMs === undefined ? undefined : f.untilMs - 1;
    if (lo === undefined || hi === undefined) {
      const span = prepare(db, 'SELECT min(ts_ms) AS first, max(ts_ms) AS last FROM events').get() as { first: number | null; last: number | null };
      lo ??= span.first ?? 0;
      hi ??= span.last ?? 0;
    }
    // SQLite's integer division truncates toward zero, as Math.trunc does: the same minute numbers.
    const [first, last] = [Math.trunc(lo / SOURCE_INDEX_BUCKET_MS), Math.trunc(hi / SOURCE_INDEX_BUCKET_MS)];
    terms.push(`ts_ms / ${SOURCE_INDEX_BUCKET_MS} IN (WITH RECURSIVE m(v) AS (SELECT ? UNION ALL SELECT v - 1 FROM m WHERE v > ?) SELECT v FROM m)`);
    args.push(last, Math.min(first, last));
  }
  const eq = (column: string, v: string | undefined): void => {
    if (v === undefined) return;
    terms.push(`${column} = ?`);
    args.push(v);
  };
  if (f.sinceMs !== undefined) { terms.push('ts_ms >= ?'); args.push(f.sinceMs); }
  if (f.untilMs !== undefined) { terms.push('ts_ms < ?'); args.push(f.untilMs); }
  eq('service_id', f.service);
  eq('category', f.category);
  eq('source_ip', f.sourceIp);
  eq('user_name', f.user);
  eq('action', f.action);
  eq('destination_domain', f.domain);
  eq('agent_id', f.agentId);
  if (f.domainSuffix !== undefined) {
    // The name itself or a name under it: `openai.com` matches api.openai.com, not notopenai.com.
    terms.push("(destination_domain = ? OR substr(destination_domain, -1 - length(?)) = '.' || ?)");
    args.push(f.domainSuffix, f.domainSuffix, f.domainSuffix);
  }
  return { terms, args };
}

const whereSql = (terms: readonly string[]): string => (terms.length ? `WHERE ${terms.join(' AND ')}` : '');

/** One page, newest first (@timestamp, then row number: the order rows were stored). */
export function pageEvents(db: Database, q: EventQuery): EventPage {
  const { terms, args } = whereOf(db, q);
  if (q.after !== undefined) {
    if (!/^\d{1,15}$/.test(q.after.key)) throw new InvalidQueryError('cursor', 'cursor: not a cursor of this store (SQLite)');
    // `ts_ms <= ?` first: a range the (…, ts_ms) indexes seek to, so a deep page does not scan the newer rows.
    terms.push('ts_ms <= ?', '(ts_ms < ? OR rowid < ?)');
    args.push(q.after.tsMs, q.after.tsMs, Number(q.after.key));
  }
  const limit = clampLimit(q.limit);
  args.push(limit + 1); // one more tells whether there is a next page
  const rows = prepare(db, `SELECT rowid AS r, ts_ms AS t, doc FROM events ${whereSql(terms)} ORDER BY ts_ms DESC, rowid DESC LIMIT ?`)
    .all(...args) as { r: number; t: number; doc: string }[];
  const more = rows.length > limit;
  if (more) rows.length = limit;
  const last = rows[rows.length - 1];
  return {
    events: rows.map((r) => JSON.parse(r.doc) as UmbraEvent),
    next: more && last ? { tsMs: last.t, key: String(last.r) } : null,
  };
}

export function summarizeEvents<Q extends SummaryQuery>(db: Database, q: Q): SummaryRows[Q['kind']] {
  return summarize(db, q) as SummaryRows[Q['kind']];
}

function summarize(db: Database, q: SummaryQuery): SummaryRows[keyof SummaryRows] {
  const { terms, args } = whereOf(db, q.filter);
  switch (q.kind) {
    case 'services': return topServices(db, terms, args, q.limit);
    case 'sources': return topSources(db, terms, args, q.limit);
    case 'categories': return topCategories(db, terms, args, q.limit);
    case 'timeline':
      if (q.maxBuckets !== undefined && (q.filter.sinceMs === undefined || q.filter.untilMs === undefined)) {
        // An open range: look at the span of the matching events first (two index reads), as the
        // Elasticsearch store does, instead of counting every bucket and refusing afterwards.
        const r = prepare(db, `SELECT min(ts_ms) AS first, max(ts_ms) AS last FROM events ${whereSql(terms)}`).get(...args) as { first: number | null; last: number | null };
        if (r.first !== null && r.last !== null) {
          const n = (bucketStart(r.last, q.intervalMs) - bucketStart(r.first, q.intervalMs)) / q.intervalMs + 1;
          if (n > q.maxBuckets) throw new InvalidQueryError('interval', `interval: the matching events span ${n} buckets, at most ${q.maxBuckets}; give since and until or take a longer interval`);
        }
      }
      return timeline(db, terms, args, q.intervalMs, q.split);
  }
}

function topServices(db: Database, terms: string[], args: Arg[], limit: number): ServiceSummary[] {
  // Group on the (service_id, ts_ms) index; name and vendor come from the group's last stored row.
  const sql = `
    SELECT g.id, g.n, g.sources, g.first_ms, g.last_ms, e.category,
           json_extract(e.doc, '$.umbra.service.name') AS name, json_extract(e.doc, '$.umbra.service.vendor') AS vendor
    FROM (SELECT service_id AS id, count(*) AS n, count(DISTINCT source_ip) AS sources, min(ts_ms) AS first_ms, max(ts_ms) AS last_ms, max(rowid) AS last_row
          FROM events ${whereSql(['service_id IS NOT NULL', ...terms])}
          GROUP BY service_id ORDER BY n DESC, service_id ASC LIMIT ?) AS g
    JOIN events AS e ON e.rowid = g.last_row
    ORDER BY g.n DESC, g.id ASC`;
  const rows = prepare(db, sql).all(...args, limit) as {
    id: string; n: number; sources: number; first_ms: number; last_ms: number; category: string | null; name: unknown; vendor: unknown;
  }[];
  return rows.map((r) => ({
    id: r.id, name: text(r.name), vendor: text(r.vendor), category: r.category,
    events: r.n, sources: r.sources, firstMs: r.first_ms, lastMs: r.last_ms,
  }));
}

function topSources(db: Database, terms: string[], args: Arg[], limit: number): SourceSummary[] {
  const sql = `
    SELECT source_ip, count(*) AS n, count(DISTINCT service_id) AS services, min(ts_ms) AS first_ms, max(ts_ms) AS last_ms,
           json_group_array(DISTINCT user_name) AS users
    FROM events ${whereSql(terms)}
    GROUP BY source_ip ORDER BY n DESC, source_ip ASC LIMIT ?`;
  const rows = prepare(db, sql).all(...args, limit) as { source_ip: string; n: number; services: number; first_ms: number; last_ms: number; users: string }[];
  return rows.map((r) => ({
    sourceIp: r.source_ip,
    users: (JSON.parse(r.users) as (string | null)[]).filter((u): u is string => u !== null).sort().slice(0, MAX_USERS_PER_SOURCE),
    events: r.n, services: r.services, firstMs: r.first_ms, lastMs: r.last_ms,
  }));
}

function topCategories(db: Database, terms: string[], args: Arg[], limit: number): CategorySummary[] {
  const sql = `
    SELECT category, count(*) AS n, count(DISTINCT service_id) AS services, count(DISTINCT source_ip) AS sources, min(ts_ms) AS first_ms, max(ts_ms) AS last_ms
    FROM events ${whereSql(['category IS NOT NULL', ...terms])}
    GROUP BY category ORDER BY n DESC, category ASC LIMIT ?`;
  const rows = prepare(db, sql).all(...args, limit) as { category: string; n: number; services: number; sources: number; first_ms: number; last_ms: number }[];
  return rows.map((r) => ({ category: r.category, events: r.n, services: r.services, sources: r.sources, firstMs: r.first_ms, lastMs: r.last_ms }));
}

function timeline(db: Database, terms: string[], args: Arg[], intervalMs: number, split: 'service' | 'category' | undefined): TimelineBucket[] {
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw new InvalidQueryError('interval', 'interval: a positive whole number of milliseconds');
  // Floor division also below zero (SQLite's % truncates toward zero), so buckets are UTC-aligned multiples of the interval.
  const bucket = `(ts_ms - (((ts_ms % ${intervalMs}) + ${intervalMs}) % ${intervalMs}))`;
  if (split === undefined) {
    const rows = prepare(db, `SELECT ${bucket} AS b, count(*) AS n FROM events ${whereSql(terms)} GROUP BY b ORDER BY b`).all(...args) as { b: number; n: number }[];
    return rows.map((r) => ({ startMs: r.b, events: r.n }));
  }
  const column = split === 'service' ? 'service_id' : 'category';
  const rows = prepare(db, `SELECT ${bucket} AS b, ${column} AS k, count(*) AS n FROM events ${whereSql(terms)} GROUP BY b, k ORDER BY b`)
    .all(...args) as { b: number; k: string | null; n: number }[];
  const byBucket = new Map<number, { events: number; keys: Map<string, number> }>(); // rows come in bucket order; Map keeps it
  for (const r of rows) {
    let b = byBucket.get(r.b);
    if (!b) byBucket.set(r.b, (b = { events: 0, keys: new Map() }));
    b.events += r.n;
    const k = r.k ?? NONE_KEY;
    b.keys.set(k, (b.keys.get(k) ?? 0) + r.n);
  }
  return [...byBucket].map(([startMs, b]) => ({ startMs, events: b.events, by: capSplit(b.keys) }));
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
