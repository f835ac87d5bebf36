// The store interface every backend implements (SQLite by default, Elasticsearch
// at scale). The ingest acknowledges a batch to the agent only after
// insertBatch's promise resolved: by then the events and dead letters are
// committed. Events are keyed by `event.id` (`<agent id>:<spool sequence>`), so
// storing the same event again is a counted duplicate, never a second row.
import type { UmbraEvent } from '../../agent/event.js';

/**
 * An event accepted by the ingest checks, ready to store: its JSON and the fields
 * the stores index, taken out right after the checks. The parsed object itself is
 * not kept: a batch's parsed events surviving until the commit doubled the
 * ingest's main-thread CPU (garbage collection).
 */
export interface StoredEvent {
  /** `event.id` (`<agent id>:<spool sequence>`). */
  id: string;
  /** `@timestamp` in milliseconds since the epoch (the ingest parsed it). */
  timestampMs: number;
  /** The agent whose token sent it (= `observer.id`). */
  agentId: string;
  /** `event.action`. */
  action: string;
  /** `source.ip`. */
  sourceIp: string;
  /** `destination.domain`. */
  domain: string | null;
  /** `umbra.service.id` when the catalog matched. */
  serviceId: string | null;
  /** `umbra.service.category`. */
  category: string | null;
  /** `user.name` (identity enrichment), when a string. */
  userName: string | null;
  /** The event's JSON as received (one NDJSON line): what is stored. */
  json: string;
}

/** A StoredEvent of a checked event; `json` defaults to its serialisation. */
export function storedEvent(e: UmbraEvent, agentId: string, timestampMs: number, json?: string): StoredEvent {
  const svc = e.umbra?.service;
  const user = (e as { user?: { name?: unknown } }).user?.name; // set by the collector's identity enrichment, not by agents
  return {
    id: e.event.id!,
    timestampMs,
    agentId,
    action: e.event.action,
    sourceIp: e.source.ip,
    domain: e.destination.domain ?? null,
    serviceId: svc?.id ?? null,
    category: typeof svc?.category === 'string' ? svc.category : null,
    userName: typeof user === 'string' ? user : null,
    json: json ?? JSON.stringify(e),
  };
}

/** A line the ingest could not accept, kept with the reason. */
export interface DeadLetter {
  /** ISO 8601 time the collector received it. */
  receivedAt: string;
  agentId: string | null;
  /** Reason code (`json_invalid`, `field_invalid`, `observer_mismatch`, ...). */
  reason: string;
  /** What exactly was wrong (`/destination/domain: 1048576 characters, at most 255`). */
  detail: string;
  /** The raw line, truncated to MAX_DEAD_LETTER_LINE_CHARS. */
  line: string;
  /** Length of the raw line in bytes before truncation. */
  lineBytes: number;
}

/** Longest part of a rejected line kept in the dead-letter table. */
export const MAX_DEAD_LETTER_LINE_CHARS = 4096;

export interface InsertResult {
  /** Events newly stored. */
  accepted: number;
  /** Events whose id was already stored (a replayed batch), including repeats inside the batch. */
  duplicates: number;
}

/** Default and largest number of events one query returns. */
export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 1000;

/** What the query API filters events on; every member present must match (AND). */
export interface EventFilter {
  /** Events with @timestamp ≥ since (ms since the epoch). */
  sinceMs?: number;
  /** Events with @timestamp < until (ms since the epoch). */
  untilMs?: number;
  /** `umbra.service.id`. */
  service?: string;
  /** `umbra.service.category`. */
  category?: string;
  /** `source.ip`, exactly as the agent wrote it. */
  sourceIp?: string;
  /** `user.name` (set by the collector's identity enrichment). */
  user?: string;
  /** `event.action`. */
  action?: string;
  /** `destination.domain`, exactly. */
  domain?: string;
  /** `destination.domain` equal to this name or ending in `.` + this name. */
  domainSuffix?: string;
  /** `observer.id`. */
  agentId?: string;
}

/**
 * A position in the newest-first order of events, from EventPage.next: the
 * page after it starts with the next older event. `tsMs` is the event's
 * @timestamp in ms; `key` breaks ties and is the store's own (SQLite: the row
 * number; Elasticsearch: event.id).
 */
export interface EventCursor {
  tsMs: number;
  key: string;
}

export interface EventQuery extends EventFilter {
  /** At most this many (default DEFAULT_QUERY_LIMIT, capped at MAX_QUERY_LIMIT). Newest first. */
  limit?: number;
  /** Only events after this position (older, or as old with a smaller key). */
  after?: EventCursor;
}

export interface EventPage {
  events: UmbraEvent[];
  /** Where the next page starts; null when this page holds the last matching event. */
  next: EventCursor | null;
}

/** Default and largest number of rows of a top-N summary (services, sources, categories). */
export const DEFAULT_SUMMARY_LIMIT = 10;
export const MAX_SUMMARY_LIMIT = 100;
/** Most users listed for one source address in the sources summary. */
export const MAX_USERS_PER_SOURCE = 10;
/** Most keys (services or categories) counted separately in one timeline bucket; the rest add up under OTHER_KEY. */
export const MAX_TIMELINE_SPLIT_KEYS = 50;
/** Timeline key of the events without a service (or category). */
export const NONE_KEY = '(none)';
/** Timeline key of the events beyond MAX_TIMELINE_SPLIT_KEYS in a bucket. */
export const OTHER_KEY = '(other)';

export interface ServiceSummary {
  id: string;
  /** Name, vendor and category as in one of the latest events of the service. */
  name: string | null;
  vendor: string | null;
  category: string | null;
  events: number;
  /** Distinct source addresses (Elasticsearch: approximate beyond a few thousand). */
  sources: number;
  firstMs: number;
  lastMs: number;
}

export interface SourceSummary {
  sourceIp: string;
  /** Distinct `user.name`s seen with this address, sorted, at most MAX_USERS_PER_SOURCE. */
  users: string[];
  events: number;
  /** Distinct services (events without a service not counted). */
  services: number;
  firstMs: number;
  lastMs: number;
}

export interface CategorySummary {
  category: string;
  events: number;
  services: number;
  sources: number;
  firstMs: number;
  lastMs: number;
}

export interface TimelineBucket {
  /** Start of the bucket, ms since the epoch, a multiple of the interval (UTC). */
  startMs: number;
  events: number;
  /** With a split: events per key (NONE_KEY, OTHER_KEY included when present). */
  by?: Record<string, number>;
}

export type TopKind = 'services' | 'sources' | 'categories';
export type TimelineSplit = 'service' | 'category';

export type SummaryQuery =
  | { kind: TopKind; filter: EventFilter; limit: number }
  | {
    kind: 'timeline'; filter: EventFilter; intervalMs: number; split?: TimelineSplit;
    /**
     * Most buckets the range may span. A store that would have to build more
     * (Elasticsearch: an open range over much data) throws InvalidQueryError('interval') instead.
     */
    maxBuckets?: number;
  };

/** What each summary kind answers: top-N rows (most events first, ties by key) or non-empty buckets in time order. */
export interface SummaryRows {
  services: ServiceSummary[];
  sources: SourceSummary[];
  categories: CategorySummary[];
  timeline: TimelineBucket[];
}

export interface StoredDeadLetter extends DeadLetter {
  id: number;
}

/**
 * The bytes the events of a batch arrived as: the JSON of `events[i]` is
 * `body[starts[i], ends[i])`, one NDJSON line. Only for a body that is valid UTF-8,
 * where those bytes are exactly the UTF-8 of `events[i].json`.
 */
export interface EventBytes {
  /** A Buffer as received; a plain Uint8Array once moved to the SQLite writer thread. */
  body: Uint8Array;
  starts: Uint32Array;
  ends: Uint32Array;
}

export interface EventStore {
  /**
   * Stores a batch in one transaction; resolves once committed. Rejects (nothing stored) on failure.
   * `bytes`, when given, may be used instead of each event's `json` string, and its `body` may be
   * taken over (its memory moved to another thread, the Buffer left empty): the caller must not
   * use it afterwards.
   */
  insertBatch(events: readonly StoredEvent[], deadLetters: readonly DeadLetter[], bytes?: EventBytes | null): Promise<InsertResult>;
  /** Number of events stored. */
  count(): Promise<number>;
  /** Events matching the query, newest first. */
  query(q: EventQuery): Promise<UmbraEvent[]>;
  /** One page of events matching the query, newest first, with the cursor of the next page. */
  page(q: EventQuery): Promise<EventPage>;
  /** A summary of the events matching the query's filter. */
  summarize<Q extends SummaryQuery>(q: Q): Promise<SummaryRows[Q['kind']]>;
  /** Number of dead letters stored. */
  countDeadLetters(): Promise<number>;
  /** The latest dead letters, newest first. */
  deadLetters(limit?: number): Promise<StoredDeadLetter[]>;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** A query the store cannot answer as asked (a cursor from another store); the API answers 400 naming `param`. */
export class InvalidQueryError extends Error {
  override readonly name = 'InvalidQueryError';
  constructor(readonly param: string, message: string) {
    super(message);
  }
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit) || limit < 1) return DEFAULT_QUERY_LIMIT;
  return Math.min(Math.floor(limit), MAX_QUERY_LIMIT);
}

/** Start of the UTC bucket of `intervalMs` holding `ms` (floor, also before 1970). */
export function bucketStart(ms: number, intervalMs: number): number {
  return ms - (((ms % intervalMs) + intervalMs) % intervalMs);
}

/**
 * Caps the keys of one timeline bucket at MAX_TIMELINE_SPLIT_KEYS: the keys
 * with most events (ties: key order) stay, the rest add up under OTHER_KEY.
 */
export function capSplit(by: Map<string, number>): Record<string, number> {
  const entries = [...by].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  // No prototype: keys are service ids and categories sent by agents ('constructor', '__proto__').
  const out: Record<string, number> = Object.create(null) as Record<string, number>;
  let other = 0;
  entries.forEach(([k, n], i) => {
    if (i < MAX_TIMELINE_SPLIT_KEYS) out[k] = (out[k] ?? 0) + n;
    else other += n;
  });
  if (other > 0) out[OTHER_KEY] = (out[OTHER_KEY] ?? 0) + other;
  return out;
}
