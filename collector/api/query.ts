// The query API (JSON, admin token): what the web UI, dashboards and scripts
// read. The collector's server checks the admin token and hands every
// `GET /api/v1/...` path that is not ingest or health to answerQuery.
import { clampLimit, type EventQuery, type EventStore } from '../store/store.js';

export const EVENTS_PATH = '/api/v1/events';
export const DEAD_LETTERS_PATH = '/api/v1/dead-letters';

/** What a query route answers: an HTTP status and a JSON body. */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** True when `path` is one of the query API's routes (the server answers 405 to other methods there). */
export function isQueryPath(path: string): boolean {
  return path === EVENTS_PATH || path === DEAD_LETTERS_PATH;
}

/** Answers a GET on a query route; null when `path` is not one. */
export async function answerQuery(path: string, params: URLSearchParams, store: EventStore): Promise<ApiAnswer | null> {
  if (path === EVENTS_PATH) return queryEvents(params, store);
  if (path === DEAD_LETTERS_PATH) {
    const limit = Number(params.get('limit') ?? NaN);
    const rows = await store.deadLetters(clampLimit(Number.isFinite(limit) ? limit : undefined));
    return { status: 200, body: { count: rows.length, dead_letters: rows } };
  }
  return null;
}

const bad = (error: string): ApiAnswer => ({ status: 400, body: { error } });

async function queryEvents(p: URLSearchParams, store: EventStore): Promise<ApiAnswer> {
  const q: EventQuery = {};
  for (const [name, key] of [['since', 'sinceMs'], ['until', 'untilMs']] as const) {
    const v = p.get(name);
    if (v === null) continue;
    const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(ms)) return bad(`${name}: not a date (ISO 8601, or milliseconds since the epoch)`);
    q[key] = ms;
  }
  const service = p.get('service');
  if (service !== null) q.service = service;
  const sourceIp = p.get('source_ip');
  if (sourceIp !== null) q.sourceIp = sourceIp;
  const agent = p.get('agent');
  if (agent !== null) q.agentId = agent;
  const limit = p.get('limit');
  if (limit !== null) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1) return bad('limit: a positive integer');
    q.limit = clampLimit(Number(limit));
  }
  const events = await store.query(q);
  return { status: 200, body: { count: events.length, events } };
}
