// The store interface every backend implements (SQLite by default, Elasticsearch
// at scale). The ingest acknowledges a batch to the agent only after
// insertBatch's promise resolved: by then the events and dead letters are
// committed. Events are keyed by `event.id` (`<agent id>:<spool sequence>`), so
// storing the same event again is a counted duplicate, never a second row.
import type { UmbraEvent } from '../../agent/event.js';

/** An event accepted by the ingest checks, ready to store. */
export interface StoredEvent {
  /** The event; `event.id` and `observer.id` are present (the ingest checked them). */
  event: UmbraEvent;
  /** The event's JSON as received (one NDJSON line); stored as is when given. */
  json?: string;
  /** The agent whose token sent it. */
  agentId: string;
  /** `@timestamp` in milliseconds since the epoch (the ingest parsed it). */
  timestampMs: number;
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

export interface EventQuery {
  /** Events with @timestamp ≥ since (ms since the epoch). */
  sinceMs?: number;
  /** Events with @timestamp < until (ms since the epoch). */
  untilMs?: number;
  /** `umbra.service.id`. */
  service?: string;
  /** `source.ip`, exactly as the agent wrote it. */
  sourceIp?: string;
  /** `observer.id`. */
  agentId?: string;
  /** At most this many (default DEFAULT_QUERY_LIMIT, capped at MAX_QUERY_LIMIT). Newest first. */
  limit?: number;
}

export interface StoredDeadLetter extends DeadLetter {
  id: number;
}

export interface EventStore {
  /** Stores a batch in one transaction; resolves once committed. Rejects (nothing stored) on failure. */
  insertBatch(events: readonly StoredEvent[], deadLetters: readonly DeadLetter[]): Promise<InsertResult>;
  /** Number of events stored. */
  count(): Promise<number>;
  /** Events matching the query, newest first. */
  query(q: EventQuery): Promise<UmbraEvent[]>;
  /** Number of dead letters stored. */
  countDeadLetters(): Promise<number>;
  /** The latest dead letters, newest first. */
  deadLetters(limit?: number): Promise<StoredDeadLetter[]>;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit) || limit < 1) return DEFAULT_QUERY_LIMIT;
  return Math.min(Math.floor(limit), MAX_QUERY_LIMIT);
}
