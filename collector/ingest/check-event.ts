// Sanity checks of one received event before it is stored: the fields every
// part relies on (DESIGN.md) are present and typed, nothing is absurdly large,
// and the event belongs to the agent whose token sent it. A failed check is a
// reason code plus a detail naming the JSON path; the line goes to the
// dead-letter table and the rest of the batch is stored.
import { isIP } from 'node:net';
import type { UmbraEvent } from '../../agent/event.js';

/** Longest `event.id` (`<agent id>:<spool sequence>`). */
export const MAX_EVENT_ID_CHARS = 200;
/** Longest host name (`destination.domain`, DNS question, SNI): a DNS name has at most 253. */
export const MAX_DOMAIN_CHARS = 255;
/** Longest `@timestamp`. */
export const MAX_TIMESTAMP_CHARS = 40;
/** Longest string anywhere else in an event. */
export const MAX_STRING_CHARS = 4096;
/** Most items in any array of an event (DNS answers, categories). */
export const MAX_ARRAY_ITEMS = 256;
/** Deepest nesting of objects and arrays in an event. */
export const MAX_DEPTH = 8;

export const EVENT_ACTIONS: ReadonlySet<string> = new Set(['dns-query', 'dns-answer', 'tls-client-hello', 'quic-initial', 'http-request', 'connection']);
const TRANSPORTS: ReadonlySet<string> = new Set(['udp', 'tcp']);
const NETWORK_TYPES: ReadonlySet<string> = new Set(['ipv4', 'ipv6']);
const PROTOCOLS: ReadonlySet<string> = new Set(['dns', 'tls', 'quic', 'http']);
/** Top-level fields only the collector sets (collector/fields.ts: setBy 'collector'). */
const COLLECTOR_SET = ['user', 'host'] as const;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Why a line was refused. */
export type RejectReason =
  | 'json_invalid'
  | 'not_an_object'
  | 'field_missing'
  | 'field_invalid'
  | 'field_too_large'
  | 'observer_mismatch'
  | 'event_id_mismatch'
  | 'field_not_allowed';

export interface Rejected {
  reason: RejectReason;
  detail: string;
}

export interface Checked {
  event: UmbraEvent;
  timestampMs: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a parsed line sent with `agentId`'s token. */
export function checkEvent(v: unknown, agentId: string): Checked | Rejected {
  if (!isObj(v)) return { reason: 'not_an_object', detail: `/: a line must be one JSON object, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}` };
  const size = checkSizes(v, 0);
  if (size) return { reason: 'field_too_large', detail: `/${size.segments.reverse().join('/')}: ${size.what}` };

  const ts = v['@timestamp'];
  if (ts === undefined) return missing('/@timestamp');
  if (typeof ts !== 'string' || ts.length > MAX_TIMESTAMP_CHARS || !ISO_TIMESTAMP.test(ts)) return invalid('/@timestamp', 'must be an ISO 8601 date and time with a zone');
  const timestampMs = Date.parse(ts);
  if (Number.isNaN(timestampMs)) return invalid('/@timestamp', 'not a valid date');

  const ev = v.event;
  if (!isObj(ev)) return ev === undefined ? missing('/event') : invalid('/event', 'must be an object');
  if (ev.kind !== 'event') return invalid('/event/kind', "must be 'event'");
  if (typeof ev.action !== 'string') return ev.action === undefined ? missing('/event/action') : invalid('/event/action', 'must be a string');
  if (!EVENT_ACTIONS.has(ev.action)) return invalid('/event/action', `must be one of ${[...EVENT_ACTIONS].join(', ')}`);
  for (const k of ['category', 'type'] as const) {
    const a = ev[k];
    if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) return a === undefined ? missing(`/event/${k}`) : invalid(`/event/${k}`, 'must be an array of strings');
  }
  if (typeof ev.dataset !== 'string') return ev.dataset === undefined ? missing('/event/dataset') : invalid('/event/dataset', 'must be a string');
  if (typeof ev.id !== 'string' || ev.id.length === 0) return ev.id === undefined ? missing('/event/id') : invalid('/event/id', 'must be a non-empty string');
  if (ev.id.length > MAX_EVENT_ID_CHARS) return tooLarge('/event/id', ev.id.length, MAX_EVENT_ID_CHARS);

  for (const side of ['source', 'destination'] as const) {
    const s = v[side];
    if (!isObj(s)) return s === undefined ? missing(`/${side}`) : invalid(`/${side}`, 'must be an object');
    if (typeof s.ip !== 'string') return s.ip === undefined ? missing(`/${side}/ip`) : invalid(`/${side}/ip`, 'must be a string');
    if (isIP(s.ip) === 0) return invalid(`/${side}/ip`, 'not an IPv4 or IPv6 address');
    if (!Number.isInteger(s.port) || (s.port as number) < 0 || (s.port as number) > 65535) return s.port === undefined ? missing(`/${side}/port`) : invalid(`/${side}/port`, 'must be an integer 0-65535');
  }
  const domain = (v.destination as Obj).domain;
  if (domain !== undefined) {
    if (typeof domain !== 'string') return invalid('/destination/domain', 'must be a string');
    if (domain.length > MAX_DOMAIN_CHARS) return tooLarge('/destination/domain', domain.length, MAX_DOMAIN_CHARS);
  }

  const net = v.network;
  if (!isObj(net)) return net === undefined ? missing('/network') : invalid('/network', 'must be an object');
  if (typeof net.transport !== 'string' || !TRANSPORTS.has(net.transport)) return net.transport === undefined ? missing('/network/transport') : invalid('/network/transport', 'must be udp or tcp');
  if (typeof net.type !== 'string' || !NETWORK_TYPES.has(net.type)) return net.type === undefined ? missing('/network/type') : invalid('/network/type', 'must be ipv4 or ipv6');
  if (net.protocol !== undefined && (typeof net.protocol !== 'string' || !PROTOCOLS.has(net.protocol))) return invalid('/network/protocol', 'must be dns, tls, quic or http');

  const obs = v.observer;
  if (!isObj(obs)) return obs === undefined ? missing('/observer') : invalid('/observer', 'must be an object');
  if (typeof obs.id !== 'string') return obs.id === undefined ? missing('/observer/id') : invalid('/observer/id', 'must be a string');
  if (obs.id !== agentId) return { reason: 'observer_mismatch', detail: `/observer/id: '${clip(obs.id)}' sent with the token of agent '${agentId}'` };
  // The id's namespace is the agent's: another agent cannot pre-empt its ids.
  if (!ev.id.startsWith(agentId) || ev.id.charCodeAt(agentId.length) !== 58 /* ':' */ || ev.id.length === agentId.length + 1) {
    return { reason: 'event_id_mismatch', detail: `/event/id: '${clip(ev.id)}' must be '${agentId}:<sequence>'` };
  }

  // Who used the address is the collector's word (identity sources), never an agent's.
  for (const k of COLLECTOR_SET) {
    if (v[k] !== undefined) return { reason: 'field_not_allowed', detail: `/${k}: set by the collector from identity sources, not by agents` };
  }
  const umbra = v.umbra;
  if (umbra !== undefined) {
    if (!isObj(umbra)) return invalid('/umbra', 'must be an object');
    if (umbra.policy !== undefined) return { reason: 'field_not_allowed', detail: '/umbra/policy: set by the collector (policy), not by agents' };
    const svc = umbra.service;
    if (svc !== undefined && (!isObj(svc) || typeof svc.id !== 'string')) return invalid('/umbra/service', 'must be an object with a string id');
  }
  return { event: v as unknown as UmbraEvent, timestampMs };
}

/** A size problem found by checkSizes; the path is built on the way out (no strings on the good path). */
interface SizeProblem { segments: string[]; what: string }

/** Every string, array and nesting level within bounds, or the first one that is not. */
function checkSizes(v: unknown, depth: number): SizeProblem | null {
  if (typeof v === 'string') return v.length > MAX_STRING_CHARS ? { segments: [], what: `${v.length} characters, at most ${MAX_STRING_CHARS}` } : null;
  if (typeof v !== 'object' || v === null) return null;
  if (depth >= MAX_DEPTH) return { segments: [], what: `nested deeper than ${MAX_DEPTH} levels` };
  if (Array.isArray(v)) {
    if (v.length > MAX_ARRAY_ITEMS) return { segments: [], what: `${v.length} items, at most ${MAX_ARRAY_ITEMS}` };
    for (let i = 0; i < v.length; i++) {
      const r = checkSizes(v[i], depth + 1);
      if (r) { r.segments.push(String(i)); return r; }
    }
    return null;
  }
  for (const k in v) {
    if (k.length > MAX_STRING_CHARS) return { segments: [], what: `a key of ${k.length} characters` };
    const r = checkSizes((v as Obj)[k], depth + 1);
    if (r) { r.segments.push(clip(k)); return r; }
  }
  return null;
}

const clip = (s: string): string => (s.length > 80 ? s.slice(0, 77) + '...' : s);
const missing = (path: string): Rejected => ({ reason: 'field_missing', detail: `${path}: required` });
const invalid = (path: string, why: string): Rejected => ({ reason: 'field_invalid', detail: `${path}: ${why}` });
const tooLarge = (path: string, n: number, max: number): Rejected => ({ reason: 'field_too_large', detail: `${path}: ${n} characters, at most ${max}` });

export function isRejected(r: Checked | Rejected): r is Rejected {
  return (r as Rejected).reason !== undefined;
}
