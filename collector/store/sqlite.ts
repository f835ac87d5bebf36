// The default store: one SQLite file (better-sqlite3) under the data directory,
// created on first start, WAL journal, schema from sqlite-migrations.ts.
// One transaction per batch; `ON CONFLICT (id) DO NOTHING` on the unique event id makes a
// replayed batch count as duplicates. better-sqlite3 is synchronous; the
// collector runs this class in a worker thread (sqlite-worker.ts).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { UmbraEvent } from '../../agent/event.js';
import { UmbraError } from '../../common/errors.js';
import { migrate, SCHEMA_VERSION } from './sqlite-migrations.js';
import { clampLimit, MAX_DEAD_LETTER_LINE_CHARS, type DeadLetter, type EventBytes, type EventQuery, type EventStore, type InsertResult, type StoredDeadLetter, type StoredEvent } from './store.js';
import type { EventPage, SummaryQuery, SummaryRows } from './store.js';
import { pageEvents, summarizeEvents } from './sqlite-query.js';

/** How long a writer waits for a lock held by another connection (ms). */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * Page size of a new database file (an existing file keeps the size it was made with).
 * SQLite's default is 4 KiB; every page goes through the WAL as its own frame, written
 * with two system calls and copied again by the checkpoint. With 16 KiB the writer
 * used 15.2-20.5 µs of CPU per event against 19.2-29.3 with 4 KiB (one thread inserting
 * 200,000 ~750-byte events in 3,000-event commits, fsync on every commit, measured in
 * alternation), also with 100 services, 300 domains and 3,000 users, whose index
 * leaves are dirtied all over the tree at every commit: 4x larger pages there did not
 * cost more than the fewer frames saved.
 */
export const SQLITE_PAGE_SIZE_BYTES = 16_384;

/** The committing connection checkpoints once the WAL holds this many bytes (SQLite's own default is 1000 pages). */
export const DEFAULT_WAL_AUTOCHECKPOINT_BYTES = 4 * 1024 * 1024;

/** After a checkpoint lets the WAL restart, its file is truncated to this size. */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export interface SqliteStoreOptions {
  /** `full` (default): a commit survives power loss. `normal`: survives a process crash only. */
  synchronous?: 'full' | 'normal';
  /**
   * WAL bytes after which a commit also checkpoints (copies the WAL into the
   * database file). SqliteWorkerStore raises it and checkpoints from another
   * thread, so commits (and acks) do not wait for those writes.
   */
  walAutocheckpointBytes?: number;
}

/**
 * A batch's events column by column, as the worker thread receives them: one array
 * per column costs a third of one array per row to clone between threads (v8
 * serialize + deserialize of 2,000 bench events: 1.3 against 3.4 µs per event).
 */
export interface EventColumns {
  /**
   * The documents: one string per event, or the bytes they arrived in (EventBytes,
   * valid UTF-8), bound as a BLOB and stored as TEXT by `CAST(? AS TEXT)`. Bytes move to
   * the writer thread without a copy; strings were cloned, taking ~1 µs of CPU per event on
   * each side, and converted to UTF-8 again to be bound.
   */
  doc: string[] | EventBytes;
  id: string[];
  tsMs: Float64Array;
  agentId: string[];
  action: string[];
  sourceIp: string[];
  domain: (string | null)[];
  serviceId: (string | null)[];
  category: (string | null)[];
  userName: (string | null)[];
}

export interface ColumnBatch {
  events: EventColumns;
  dead: readonly DeadLetter[];
}

/** The columns of `events`; the documents from `bytes` when given (see EventStore.insertBatch). */
export function eventColumns(events: readonly StoredEvent[], bytes?: EventBytes | null): EventColumns {
  if (bytes && (bytes.starts.length !== events.length || bytes.ends.length !== events.length)) throw new Error(`bytes of ${bytes.starts.length} events for a batch of ${events.length}`);
  return {
    doc: bytes ?? events.map((e) => e.json),
    id: events.map((e) => e.id),
    tsMs: Float64Array.from(events, (e) => e.timestampMs),
    agentId: events.map((e) => e.agentId),
    action: events.map((e) => e.action),
    sourceIp: events.map((e) => e.sourceIp),
    domain: events.map((e) => e.domain),
    serviceId: events.map((e) => e.serviceId),
    category: events.map((e) => e.category),
    userName: events.map((e) => e.userName),
  };
}

/**
 * The store itself, synchronous underneath: used directly by tests and tools,
 * and inside the worker thread of SqliteWorkerStore (sqlite-worker.ts), which is
 * what the collector runs so that SQLite work never holds its event loop.
 */
export class SqliteStore implements EventStore {
  readonly path: string;
  /** Migrations applied when this store was opened (empty when the file was current). */
  readonly migrationsApplied: number[];
  private readonly db: Database.Database;
  private readonly insertEvent: Database.Statement;
  private readonly insertDead: Database.Statement;
  private readonly writeBatch: Database.Transaction<(batch: ColumnBatch) => InsertResult>;
  private readonly writeGroup: Database.Transaction<(group: readonly ColumnBatch[]) => InsertResult[]>;
  private closed = false;

  private constructor(path: string, db: Database.Database, applied: number[]) {
    this.path = path;
    this.db = db;
    this.migrationsApplied = applied;
    this.insertEvent = db.prepare(
      // ON CONFLICT(id), not OR IGNORE: only a known id is a duplicate; any other constraint fails the batch.
      `INSERT INTO events (id, ts_ms, agent_id, action, source_ip, destination_domain, service_id, received_ms, doc, category, user_name)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    this.insertDead = db.prepare('INSERT INTO dead_letters (received_at, agent_id, reason, detail, line, line_bytes) VALUES (?, ?, ?, ?, ?, ?)');
    const write = ({ events: c, dead }: ColumnBatch): InsertResult => {
      const now = Date.now();
      const n = c.id.length;
      const strings = Array.isArray(c.doc) ? c.doc : null;
      const bytes = Array.isArray(c.doc) ? null : c.doc;
      let accepted = 0;
      for (let i = 0; i < n; i++) {
        const doc = strings ? strings[i] : bytes!.body.subarray(bytes!.starts[i], bytes!.ends[i]);
        accepted += this.insertEvent.run(c.id[i], c.tsMs[i], c.agentId[i], c.action[i], c.sourceIp[i], c.domain[i], c.serviceId[i], now, doc, c.category[i], c.userName[i]).changes;
      }
      for (const d of dead) {
        this.insertDead.run(d.receivedAt, d.agentId, d.reason, d.detail, truncate(d.line), d.lineBytes);
      }
      return { accepted, duplicates: n - accepted };
    };
    this.writeBatch = db.transaction(write);
    this.writeGroup = db.transaction((group: readonly ColumnBatch[]): InsertResult[] => group.map(write));
  }

  /**
   * A read-only connection to a store that another connection writes (and migrated): the
   * collector's reader thread, so that queries never hold commits back. Throws UmbraError(UMBRA_E_STORE).
   */
  static openReader(path: string): SqliteStore {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version !== SCHEMA_VERSION) throw new Error(`schema version ${version}, this Umbra reads ${SCHEMA_VERSION}`);
      return new SqliteStore(path, db, []);
    } catch (e) {
      db?.close();
      throw new UmbraError('UMBRA_E_STORE', path, (e as Error).message);
    }
  }

  /** Opens (creating file and directory if needed) and migrates. Throws UmbraError(UMBRA_E_STORE). */
  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
      db = new Database(path);
      db.pragma(`page_size = ${SQLITE_PAGE_SIZE_BYTES}`); // before the first table and WAL: no effect on an existing file
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      db.pragma('foreign_keys = ON');
      db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      const pageSize = db.pragma('page_size', { simple: true }) as number; // an older file may have another
      db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.floor((opts.walAutocheckpointBytes ?? DEFAULT_WAL_AUTOCHECKPOINT_BYTES) / pageSize))}`);
      const applied = migrate(db);
      return new SqliteStore(path, db, applied);
    } catch (e) {
      db?.close();
      throw new UmbraError('UMBRA_E_STORE', path, (e as Error).message);
    }
  }

  async insertBatch(events: readonly StoredEvent[], deadLetters: readonly DeadLetter[], bytes?: EventBytes | null): Promise<InsertResult> {
    return this.insertColumns({ events: eventColumns(events, bytes), dead: deadLetters });
  }

  /**
   * Group commit: several batches in one transaction, one result per batch, in
   * order (a repeat of an id in a later batch of the group is its duplicate).
   * All or nothing: on an error none of them is stored.
   */
  insertGroup(group: readonly ColumnBatch[]): InsertResult[] {
    if (this.closed) throw new Error('store is closed');
    return this.writeGroup.immediate(group);
  }

  /** insertBatch with the columns already extracted (what the worker thread receives). */
  insertColumns(batch: ColumnBatch): InsertResult {
    if (this.closed) throw new Error('store is closed');
    return this.writeBatch.immediate(batch);
  }

  async count(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }

  async countDeadLetters(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
  }

  async query(q: EventQuery): Promise<UmbraEvent[]> {
    return pageEvents(this.db, q).events;
  }

  async page(q: EventQuery): Promise<EventPage> {
    if (this.closed) throw new Error('store is closed');
    return pageEvents(this.db, q);
  }

  async summarize<Q extends SummaryQuery>(q: Q): Promise<SummaryRows[Q['kind']]> {
    if (this.closed) throw new Error('store is closed');
    return summarizeEvents(this.db, q);
  }

  async deadLetters(limit?: number): Promise<StoredDeadLetter[]> {
    const rows = this.db.prepare('SELECT id, received_at, agent_id, reason, detail, line, line_bytes FROM dead_letters ORDER BY id DESC LIMIT ?').all(clampLimit(limit)) as {
      id: number; received_at: string; agent_id: string | null; reason: string; detail: string; line: string; line_bytes: number;
    }[];
    return rows.map((r) => ({ id: r.id, receivedAt: r.received_at, agentId: r.agent_id, reason: r.reason, detail: r.detail, line: r.line, lineBytes: r.line_bytes }));
  }

  /** The schema version recorded in the file. */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function truncate(line: string): string {
  return line.length <= MAX_DEAD_LETTER_LINE_CHARS ? line : line.slice(0, MAX_DEAD_LETTER_LINE_CHARS);
}
