// The query API (JSON, admin token): what the web UI, dashboards and scripts
// read. The collector's server checks the admin token and hands every GET on a
// path for which isQueryPath() is true to answerQuery. Every parameter is
// checked here: a bad value, an unknown name or a name given twice is a 400
// naming the parameter (a typo must never silently widen a query). The stores
// answer the same filters (store.ts); docs/api.md is the reference.
import { isIP } from 'node:net';
import { EVENT_ACTIONS, MAX_DOMAIN_CHARS } from '../ingest/check-event.js';
import {
  bucketStart, clampLimit, DEFAULT_SUMMARY_LIMIT, InvalidQueryError, MAX_SUMMARY_LIMIT,
  type EventCursor, type EventFilter, type EventStore, type TimelineSplit, type TopKind,
} from '../store/store.js';

export const EVENTS_PATH = '/api/v1/events';
export const DEAD_LETTERS_PATH = '/api/v1/dead-letters';
export const SUMMARY_SERVICES_PATH = '/api/v1/summary/services';
export const SUMMARY_SOURCES_PATH = '/api/v1/summary/sources';
export const SUMMARY_CATEGORIES_PATH = '/api/v1/summary/categories';
export const SUMMARY_TIMELINE_PATH = '/api/v1/summary/timeline';

/** Most buckets one timeline answers (5m: ~3.5 days, 1h: ~41 days, 1d: ~2.7 years). */
export const MAX_TIMELINE_BUCKETS = 1000;
/** Longest value of a name filter (service, category, user, agent). */
export const MAX_FILTER_CHARS = 256;
/** Longest cursor accepted (a cursor this API gave is far shorter). */
export const MAX_CURSOR_CHARS = 1024;

/** The timeline intervals: fixed lengths, so buckets are plain multiples of them since the epoch (UTC). */
export const TIMELINE_INTERVALS: ReadonlyMap<string, number> = new Map([
  ['5m', 5 * 60_000],
  ['1h', 3_600_000],
  ['1d', 86_400_000],
]);
export const DEFAULT_TIMELINE_INTERVAL = '1h';

/** What a query route answers: an HTTP status and a JSON body. */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

const TOP_PATHS: ReadonlyMap<string, TopKind> = new Map([
  [SUMMARY_SERVICES_PATH, 'services'],
  [SUMMARY_SOURCES_PATH, 'sources'],
  [SUMMARY_CATEGORIES_PATH, 'categories'],
]);

/** True when `path` is one of the query API's routes (the server answers 405 to other methods there). */
export function isQueryPath(path: string): boolean {
  return path === EVENTS_PATH || path === DEAD_LETTERS_PATH || path === SUMMARY_TIMELINE_PATH || TOP_PATHS.has(path);
}

/** The filter parameters every event route takes. */
const FILTER_PARAMS = ['since', 'until', 'service', 'category', 'source_ip', 'user', 'action', 'domain', 'domain_suffix', 'agent'] as const;
/** Parameters of each route. */
const ROUTE_PARAMS: ReadonlyMap<string, readonly string[]> = new Map([
  [EVENTS_PATH, [...FILTER_PARAMS, 'limit', 'cursor']],
  [DEAD_LETTERS_PATH, ['limit']],
  [SUMMARY_SERVICES_PATH, [...FILTER_PARAMS, 'limit']],
  [SUMMARY_SOURCES_PATH, [...FILTER_PARAMS, 'limit']],
  [SUMMARY_CATEGORIES_PATH, [...FILTER_PARAMS, 'limit']],
  [SUMMARY_TIMELINE_PATH, [...FILTER_PARAMS, 'interval', 'split']],
]);

/** A parameter problem: answered 400 with `error` naming it. */
class BadParam extends Error {}

/** Answers a GET on a query route; null when `path` is not one. */
export async function answerQuery(path: string, params: URLSearchParams, store: EventStore): Promise<ApiAnswer | null> {
  const known = ROUTE_PARAMS.get(path);
  if (!known) return null;
  try {
    const p = single(params, known);
    if (path === EVENTS_PATH) return await events(p, store);
    if (path === DEAD_LETTERS_PATH) {
      const limit = positiveInt(p, 'limit');
      const rows = await store.deadLetters(clampLimit(limit));
      return { status: 200, body: { count: rows.length, dead_letters: rows } };
    }
    if (path === SUMMARY_TIMELINE_PATH) return await timeline(p, store);
    return await top(TOP_PATHS.get(path)!, p, store);
  } catch (e) {
    if (e instanceof BadParam || e instanceof InvalidQueryError) return { status: 400, body: { error: e.message } };
    throw e;
  }
}

/** The parameters as a map; unknown names and repeated names are errors. */
function single(params: URLSearchParams, known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of params) {
    if (!known.includes(name)) throw new BadParam(`${name}: unknown parameter (this route takes ${known.join(', ')})`);
    if (out.has(name)) throw new BadParam(`${name}: given more than once`);
    out.set(name, value);
  }
  return out;
}

/** Largest time a JavaScript Date holds (±100,000,000 days around the epoch). */
const MAX_DATE_MS = 8.64e15;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** The date part names a real day (V8's Date.parse turns 2026-02-30 into March 2), and the time a real time. */
function calendarDate(v: string): boolean {
  const [y, m, d] = [Number(v.slice(0, 4)), Number(v.slice(5, 7)), Number(v.slice(8, 10))];
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth) return false;
  const t = /T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(v);
  return !t || (Number(t[1]) < 24 && Number(t[2]) < 60 && (t[3] === undefined || Number(t[3]) < 60));
}

/** since/until: ISO 8601 (a date alone is midnight UTC; a time needs its zone) or milliseconds since the epoch. */
function time(p: Map<string, string>, name: string): number | undefined {
  const v = p.get(name);
  if (v === undefined) return undefined;
  const ms = /^-?\d{1,16}$/.test(v) ? Number(v) : ISO_DATE.test(v) && calendarDate(v) ? Date.parse(v) : NaN;
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > MAX_DATE_MS) throw new BadParam(`${name}: not a date (ISO 8601 with a zone, like 2026-11-25T12:00:00Z, or milliseconds since the epoch)`);
  return ms;
}

function positiveInt(p: Map<string, string>, name: string): number | undefined {
  const v = p.get(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new BadParam(`${name}: a positive integer`);
  return Number(v);
}

function name(p: Map<string, string>, param: string): string | undefined {
  const v = p.get(param);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length > MAX_FILTER_CHARS) throw new BadParam(`${param}: 1 to ${MAX_FILTER_CHARS} characters`);
  return v;
}

const DNS_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** The filter of the request. */
function filterOf(p: Map<string, string>): EventFilter {
  const f: EventFilter = {};
  const since = time(p, 'since');
  const until = time(p, 'until');
  if (since !== undefined) f.sinceMs = since;
  if (until !== undefined) f.untilMs = until;
  if (since !== undefined && until !== undefined && until <= since) throw new BadParam('until: must be after since');
  const set = <K extends keyof EventFilter>(k: K, v: EventFilter[K] | undefined): void => { if (v !== undefined) f[k] = v; };
  set('service', name(p, 'service'));
  set('category', name(p, 'category'));
  set('user', name(p, 'user'));
  set('agentId', name(p, 'agent'));
  const ip = p.get('source_ip');
  if (ip !== undefined) {
    if (isIP(ip) === 0 || ip.includes('%')) throw new BadParam('source_ip: not an IPv4 or IPv6 address (without a zone index)');
    f.sourceIp = ip;
  }
  const action = p.get('action');
  if (action !== undefined) {
    if (!EVENT_ACTIONS.has(action)) throw new BadParam(`action: one of ${[...EVENT_ACTIONS].join(', ')}`);
    f.action = action;
  }
  const domain = p.get('domain');
  if (domain !== undefined) {
    if (domain.length === 0 || domain.length > MAX_DOMAIN_CHARS) throw new BadParam(`domain: 1 to ${MAX_DOMAIN_CHARS} characters`);
    f.domain = domain;
  }
  const suffix = p.get('domain_suffix');
  if (suffix !== undefined) {
    if (suffix.length > MAX_DOMAIN_CHARS || !DNS_NAME.test(suffix)) throw new BadParam("domain_suffix: a DNS name like openai.com (letters, digits, '-' and '_', dots between labels)");
    f.domainSuffix = suffix;
  }
  return f;
}

/** A cursor is the base64url of `<ts_ms>:<key>`: opaque to clients, checked here, the key checked by the store. */
export function encodeCursor(c: EventCursor): string {
  return Buffer.from(`${c.tsMs}:${c.key}`, 'utf8').toString('base64url');
}

export function decodeCursor(s: string): EventCursor {
  const bad = new BadParam('cursor: not a cursor this API gave (use next_cursor of the previous page, unchanged)');
  if (s.length === 0 || s.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(s)) throw bad;
  const m = /^(-?\d{1,16}):(.+)$/s.exec(Buffer.from(s, 'base64url').toString('utf8'));
  if (!m || !Number.isSafeInteger(Number(m[1]))) throw bad;
  return { tsMs: Number(m[1]), key: m[2]! };
}

const iso = (ms: number): string => new Date(ms).toISOString();

async function events(p: Map<string, string>, store: EventStore): Promise<ApiAnswer> {
  const q = { ...filterOf(p), limit: clampLimit(positiveInt(p, 'limit')) };
  const cursor = p.get('cursor');
  const page = await store.page(cursor === undefined ? q : { ...q, after: decodeCursor(cursor) });
  return { status: 200, body: { count: page.events.length, events: page.events, next_cursor: page.next ? encodeCursor(page.next) : null } };
}

async function top(kind: TopKind, p: Map<string, string>, store: EventStore): Promise<ApiAnswer> {
  const filter = filterOf(p);
  const limit = Math.min(positiveInt(p, 'limit') ?? DEFAULT_SUMMARY_LIMIT, MAX_SUMMARY_LIMIT);
  const seen = (r: { firstMs: number; lastMs: number }): { first_seen: string; last_seen: string } => ({ first_seen: iso(r.firstMs), last_seen: iso(r.lastMs) });
  let rows: unknown[];
  switch (kind) {
    case 'services':
      rows = (await store.summarize({ kind, filter, limit })).map((r) => ({
        id: r.id, name: r.name, vendor: r.vendor, category: r.category, events: r.events, sources: r.sources, ...seen(r),
      }));
      break;
    case 'sources':
      rows = (await store.summarize({ kind, filter, limit })).map((r) => ({
        source_ip: r.sourceIp, users: r.users, events: r.events, services: r.services, ...seen(r),
      }));
      break;
    case 'categories':
      rows = (await store.summarize({ kind, filter, limit })).map((r) => ({
        category: r.category, events: r.events, services: r.services, sources: r.sources, ...seen(r),
      }));
      break;
  }
  return { status: 200, body: { limit, count: rows.length, [kind]: rows } };
}

async function timeline(p: Map<string, string>, store: EventStore): Promise<ApiAnswer> {
  const filter = filterOf(p);
  const interval = p.get('interval') ?? DEFAULT_TIMELINE_INTERVAL;
  const intervalMs = TIMELINE_INTERVALS.get(interval);
  if (intervalMs === undefined) throw new BadParam(`interval: one of ${[...TIMELINE_INTERVALS.keys()].join(', ')}`);
  const splitParam = p.get('split');
  if (splitParam !== undefined && splitParam !== 'service' && splitParam !== 'category') throw new BadParam('split: service or category');
  const split = splitParam as TimelineSplit | undefined;
  const tooMany = (n: number): BadParam =>
    new BadParam(`interval: ${interval} over this range makes ${n} buckets, at most ${MAX_TIMELINE_BUCKETS}; narrow since/until or take a longer interval`);
  // The range of buckets: from since's bucket to the bucket of the last millisecond before until.
  const from = filter.sinceMs !== undefined ? bucketStart(filter.sinceMs, intervalMs) : undefined;
  const to = filter.untilMs !== undefined ? bucketStart(filter.untilMs - 1, intervalMs) : undefined;
  if (from !== undefined && to !== undefined && (to - from) / intervalMs + 1 > MAX_TIMELINE_BUCKETS) throw tooMany((to - from) / intervalMs + 1);
  const found = await store.summarize({ kind: 'timeline', filter, intervalMs, maxBuckets: MAX_TIMELINE_BUCKETS, ...(split ? { split } : {}) });
  // Every bucket of the range, the empty ones with 0: a chart needs no gaps filled by the reader.
  const first = from ?? found[0]?.startMs;
  const last = to ?? found[found.length - 1]?.startMs;
  const buckets: { start: string; events: number; by?: Record<string, number> }[] = [];
  let total = 0;
  if (first !== undefined && last !== undefined && last >= first) {
    const n = (last - first) / intervalMs + 1;
    if (n > MAX_TIMELINE_BUCKETS) throw tooMany(n);
    const byStart = new Map(found.map((b) => [b.startMs, b]));
    for (let t = first; t <= last; t += intervalMs) {
      const b = byStart.get(t);
      total += b?.events ?? 0;
      buckets.push({ start: iso(t), events: b?.events ?? 0, ...(split ? { by: b?.by ?? {} } : {}) });
    }
  }
  return {
    status: 200,
    body: {
      interval, interval_ms: intervalMs, split: split ?? null,
      since: filter.sinceMs !== undefined ? iso(filter.sinceMs) : null,
      until: filter.untilMs !== undefined ? iso(filter.untilMs) : null,
      total, buckets,
    },
  };
}
