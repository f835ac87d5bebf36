// The Elasticsearch store as the collector runs it: a durable outbox (SQLite,
// WAL) in front of Elasticsearch. insertBatch commits events to the outbox and
// resolves, so the agent is acknowledged while Elasticsearch is slow or down; a
// background drainer sends the oldest rows in bulk and deletes a row only once
// Elasticsearch confirmed it (created, or 409: already there). Rows left at a
// stop or crash are resent at the next start; `_id` = event.id makes that
// harmless. The outbox is bounded: beyond its limits insertBatch rejects, the
// ingest answers 503 and the agent keeps the events in its own spool, so
// nothing is dropped anywhere. Dead letters (the ingest's, and documents
// Elasticsearch refused with a 4xx) are kept in the outbox file.
//
// count() is Elasticsearch's count of the data stream plus the rows still in
// the outbox. While the outbox drains it can be off by the documents of the last
// refresh interval (not yet searchable) and by replayed events waiting in the
// outbox that Elasticsearch already has (counted twice until their 409 comes
// back); after flush() it is exact. query() searches Elasticsearch only: events
// still in the outbox are not found until they are sent.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { UmbraEvent } from '../../agent/event.js';
import { UmbraError } from '../../common/errors.js';
import { ItemResult, type BulkDoc, type ElasticsearchEvents } from './elasticsearch.js';
import { DEFAULT_OUTBOX_FILE, DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_EVENTS } from './es-defaults.js';
import { clampLimit, MAX_DEAD_LETTER_LINE_CHARS, type DeadLetter, type EventQuery, type EventStore, type InsertResult, type StoredDeadLetter, type StoredEvent } from './store.js';

export { DEFAULT_OUTBOX_FILE, DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_EVENTS };
/** Most documents and bytes (of documents) in one bulk request. */
export const OUTBOX_BULK_MAX_EVENTS = 2000;
export const OUTBOX_BULK_MAX_BYTES = 8 * 1024 * 1024;
/** Backoff after a failed request or items to retry: base · 2^attempt, capped, with full jitter. */
export const OUTBOX_RETRY_BASE_MS = 200;
export const OUTBOX_RETRY_MAX_MS = 30_000;
/** With nothing to send, the drainer still looks this often (ms) even if not woken. */
export const OUTBOX_IDLE_POLL_MS = 1000;
/** How long the SQLite writer waits for a lock (ms). */
export const OUTBOX_BUSY_TIMEOUT_MS = 5000;
/** Reason code of a document Elasticsearch refused (400 mapping error and other 4xx). */
export const ES_REJECTED_REASON = 'es_rejected';

export interface OutboxOptions {
  /** The outbox file (created with its directory). */
  path: string;
  es: ElasticsearchEvents;
  maxEvents?: number;
  maxBytes?: number;
  bulkMaxEvents?: number;
  bulkMaxBytes?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  idlePollMs?: number;
  synchronous?: 'full' | 'normal';
  /** Start the drainer at open (default true). */
  drain?: boolean;
  /** Random source for the jitter (tests make it deterministic). */
  random?: () => number;
  log?: (msg: string) => void;
}

export interface OutboxStats {
  /** Rows waiting to be sent, and their JSON size. */
  pending: number;
  pendingBytes: number;
  /** Since open: documents Elasticsearch created, found already there (409), refused (dead-lettered). */
  indexed: number;
  duplicates: number;
  deadLettered: number;
  /** Item results to retry (429/5xx) and failed whole requests. */
  retriedItems: number;
  failedRequests: number;
  bulkRequests: number;
  /** Elasticsearch objects installed (false until the first successful install). */
  installed: boolean;
  lastError: string | null;
}

interface Row { seq: number; id: string; agent_id: string; doc: string; bytes: number }

/** The durable outbox + Elasticsearch store. */
export class OutboxStore implements EventStore {
  readonly path: string;
  readonly es: ElasticsearchEvents;
  private readonly db: Database.Database;
  private readonly opts: Required<Omit<OutboxOptions, 'path' | 'es' | 'log' | 'random' | 'synchronous' | 'drain'>>;
  private readonly random: () => number;
  private readonly log: (msg: string) => void;
  private readonly st: OutboxStats = { pending: 0, pendingBytes: 0, indexed: 0, duplicates: 0, deadLettered: 0, retriedItems: 0, failedRequests: 0, bulkRequests: 0, installed: false, lastError: null };
  private closed = false;
  private drainer: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private bulkLimit: number;
  private readonly waiters: (() => void)[] = [];

  private readonly insertRow: Database.Statement;
  private readonly insertDead: Database.Statement;
  private readonly selectHead: Database.Statement;
  private readonly deleteRow: Database.Statement;
  private readonly writeBatch: Database.Transaction<(events: readonly StoredEvent[], dead: readonly DeadLetter[]) => { accepted: number; bytes: number }>;
  private readonly applyResults: Database.Transaction<(rows: readonly Row[], results: Uint8Array, reasons: Map<number, string>) => { removedBytes: number; removed: number }>;

  private constructor(opts: OutboxOptions, db: Database.Database) {
    this.path = opts.path;
    this.es = opts.es;
    this.db = db;
    this.opts = {
      maxEvents: opts.maxEvents ?? DEFAULT_OUTBOX_MAX_EVENTS,
      maxBytes: opts.maxBytes ?? DEFAULT_OUTBOX_MAX_BYTES,
      bulkMaxEvents: opts.bulkMaxEvents ?? OUTBOX_BULK_MAX_EVENTS,
      bulkMaxBytes: opts.bulkMaxBytes ?? OUTBOX_BULK_MAX_BYTES,
      retryBaseMs: opts.retryBaseMs ?? OUTBOX_RETRY_BASE_MS,
      retryMaxMs: opts.retryMaxMs ?? OUTBOX_RETRY_MAX_MS,
      idlePollMs: opts.idlePollMs ?? OUTBOX_IDLE_POLL_MS,
    };
    this.bulkLimit = this.opts.bulkMaxEvents;
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? ((m) => process.stderr.write(`umbra collector: elasticsearch: ${m}\n`));

    this.insertRow = db.prepare('INSERT INTO outbox (id, agent_id, doc, bytes) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
    this.insertDead = db.prepare('INSERT INTO dead_letters (received_at, agent_id, reason, detail, line, line_bytes) VALUES (?, ?, ?, ?, ?, ?)');
    this.selectHead = db.prepare('SELECT seq, id, agent_id, doc, bytes FROM outbox ORDER BY seq LIMIT ?');
    this.deleteRow = db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.writeBatch = db.transaction((events: readonly StoredEvent[], dead: readonly DeadLetter[]) => {
      let accepted = 0;
      let bytes = 0;
      for (const s of events) {
        const json = s.json ?? JSON.stringify(s.event);
        const b = Buffer.byteLength(json);
        if (this.insertRow.run(s.event.event.id!, s.agentId, json, b).changes) { accepted++; bytes += b; }
      }
      for (const d of dead) this.insertDead.run(d.receivedAt, d.agentId, d.reason, d.detail, truncate(d.line), d.lineBytes);
      return { accepted, bytes };
    });
    this.applyResults = db.transaction((rows: readonly Row[], results: Uint8Array, reasons: Map<number, string>) => {
      let removedBytes = 0;
      let removed = 0;
      const now = new Date().toISOString();
      for (let i = 0; i < rows.length; i++) {
        const r = results[i]!;
        if (r === ItemResult.Retry) continue;
        const row = rows[i]!;
        if (r === ItemResult.Rejected) this.insertDead.run(now, row.agent_id, ES_REJECTED_REASON, reasons.get(i) ?? '', truncate(row.doc), row.bytes);
        this.deleteRow.run(row.seq);
        removed++;
        removedBytes += row.bytes;
      }
      return { removed, removedBytes };
    });
  }

  /**
   * Opens (creating) the outbox, tries the Elasticsearch installation once and
   * starts the drainer. Elasticsearch being down is not an error here: events are
   * accepted into the outbox and the drainer installs, then sends, once it answers.
   */
  static async open(opts: OutboxOptions): Promise<OutboxStore> {
    let db: Database.Database | undefined;
    let store: OutboxStore;
    try {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o750 });
      db = new Database(opts.path);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma(`busy_timeout = ${OUTBOX_BUSY_TIMEOUT_MS}`);
      migrate(db);
      store = new OutboxStore(opts, db);
      const totals = db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox').get() as { n: number; b: number };
      store.st.pending = totals.n;
      store.st.pendingBytes = totals.b;
    } catch (e) {
      db?.close();
      throw new UmbraError('UMBRA_E_STORE', opts.path, (e as Error).message);
    }
    if (store.st.pending) store.log(`${store.st.pending} events left in the outbox from before: resending`);
    if (opts.drain !== false) store.startDrainer();
    return store;
  }

  /** Commits the batch to the outbox. Rejects with nothing stored when the outbox is full or closed. */
  async insertBatch(events: readonly StoredEvent[], deadLetters: readonly DeadLetter[]): Promise<InsertResult> {
    if (this.closed) throw new UmbraError('UMBRA_E_STORE', this.path, 'store is closed');
    let bytes = 0;
    for (const s of events) bytes += s.json !== undefined ? s.json.length : 0; // a lower bound, cheap; the exact size is counted at insert
    if (this.st.pending + events.length > this.opts.maxEvents || this.st.pendingBytes + bytes > this.opts.maxBytes) {
      throw new UmbraError('UMBRA_E_STORE', this.path, `outbox full (${this.st.pending} events, ${this.st.pendingBytes} bytes waiting for Elasticsearch; limits ${this.opts.maxEvents} events, ${this.opts.maxBytes} bytes)`);
    }
    const r = this.writeBatch.immediate(events, deadLetters);
    this.st.pending += r.accepted;
    this.st.pendingBytes += r.bytes;
    if (r.accepted) this.wake?.();
    return { accepted: r.accepted, duplicates: events.length - r.accepted };
  }

  /** Elasticsearch's count plus the outbox's pending rows (see the note at the top). */
  async count(): Promise<number> {
    return (await this.es.count()) + this.st.pending;
  }

  async query(q: EventQuery): Promise<UmbraEvent[]> {
    return this.es.query(q);
  }

  async countDeadLetters(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
  }

  async deadLetters(limit?: number): Promise<StoredDeadLetter[]> {
    const rows = this.db.prepare('SELECT id, received_at, agent_id, reason, detail, line, line_bytes FROM dead_letters ORDER BY id DESC LIMIT ?').all(clampLimit(limit)) as {
      id: number; received_at: string; agent_id: string | null; reason: string; detail: string; line: string; line_bytes: number;
    }[];
    return rows.map((r) => ({ id: r.id, receivedAt: r.received_at, agentId: r.agent_id, reason: r.reason, detail: r.detail, line: r.line, lineBytes: r.line_bytes }));
  }

  stats(): OutboxStats {
    return { ...this.st };
  }

  /** Resolves once the outbox is empty and Elasticsearch refreshed (or rejects after timeoutMs). */
  async flush(timeoutMs = 60_000): Promise<void> {
    if (this.st.pending > 0) {
      if (!this.drainer) throw new Error('the drainer is not running');
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`outbox not drained after ${timeoutMs} ms: ${this.st.pending} pending; last error: ${this.st.lastError ?? 'none'}`)), timeoutMs);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
        this.wake?.();
      });
    }
    await this.es.refresh();
  }

  /** Starts the background drainer (open does, unless told not to). */
  startDrainer(): void {
    if (this.drainer || this.closed) return;
    this.drainer = this.drainLoop().catch((e: unknown) => {
      // Only a bug gets here (every expected failure is retried inside).
      this.log(`drainer stopped: ${(e as Error).stack ?? String(e)}`);
    });
  }

  /**
   * Stops the drainer and closes the file. Rows not yet confirmed stay for the
   * next start; a bulk request in flight is not waited for (its results are
   * dropped, as after a crash: the rows are resent and come back as 409).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.db.close();
    await this.es.close();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(t); this.wake = null; resolve(); };
    });
  }

  /** Full jitter: uniform in [0, min(max, base · 2^attempt)]. */
  private backoff(attempt: number): number {
    const cap = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.min(attempt, 30));
    return Math.floor(this.random() * cap);
  }

  private async drainLoop(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      if (!this.st.installed) {
        try {
          const r = await this.es.install();
          if (this.closed) return;
          this.st.installed = true;
          if (r.created.length || r.updated.length) this.log(`installed: ${[...r.created.map((c) => `${c} (created)`), ...r.updated.map((u) => `${u} (updated)`)].join(', ')}`);
          attempt = 0;
        } catch (e) {
          if (this.closed) return;
          this.st.lastError = `install: ${describe(e)}`;
          this.log(`cannot install the templates yet (${this.st.lastError}); events wait in the outbox`);
          await this.sleep(this.backoff(attempt++));
          continue;
        }
      }
      const rows = this.head();
      if (rows.length === 0) {
        for (const w of this.waiters.splice(0)) w();
        await this.sleep(this.opts.idlePollMs);
        continue;
      }
      const docs: BulkDoc[] = rows.map((r) => ({ id: r.id, json: r.doc }));
      this.st.bulkRequests++;
      const out = await this.es.bulkCreate(docs);
      if (this.closed) return; // results of an interrupted round are not applied
      if (!out.ok) {
        this.st.failedRequests++;
        this.st.lastError = out.message;
        if (out.tooLarge && rows.length > 1) {
          this.bulkLimit = Math.max(1, rows.length >> 1);
          this.log(`bulk request too large (${rows.length} documents): sending at most ${this.bulkLimit}`);
          continue;
        }
        if (attempt === 0) this.log(`bulk request failed (${out.message}); retrying with backoff, events wait in the outbox`);
        await this.sleep(this.backoff(attempt++));
        continue;
      }
      const { removed, removedBytes } = this.applyResults(rows, out.results, out.reasons);
      this.st.pending -= removed;
      this.st.pendingBytes -= removedBytes;
      let created = 0;
      let dup = 0;
      let rejected = 0;
      for (let i = 0; i < out.results.length; i++) {
        const r = out.results[i];
        if (r === ItemResult.Created) created++;
        else if (r === ItemResult.Duplicate) dup++;
        else if (r === ItemResult.Rejected) rejected++;
      }
      this.st.indexed += created;
      this.st.duplicates += dup;
      this.st.deadLettered += rejected;
      if (out.retryStatuses.length) {
        this.st.retriedItems += out.retryStatuses.length;
        this.st.lastError = `${out.retryStatuses.length} items answered ${[...new Set(out.retryStatuses)].join('/')}`;
        await this.sleep(this.backoff(attempt++));
      } else {
        if (attempt > 0) this.log('Elasticsearch accepts again');
        attempt = 0;
      }
    }
  }

  /** The oldest rows, up to the bulk limits (always at least one). */
  private head(): Row[] {
    const rows = this.selectHead.all(this.bulkLimit) as Row[];
    let bytes = 0;
    for (let i = 0; i < rows.length; i++) {
      bytes += rows[i]!.bytes;
      if (bytes > this.opts.bulkMaxBytes && i > 0) return rows.slice(0, i);
    }
    return rows;
  }
}

const MIGRATIONS: string[] = [
  `CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     agent_id TEXT NOT NULL,
     doc TEXT NOT NULL,
     bytes INTEGER NOT NULL
   );
   CREATE TABLE dead_letters (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     received_at TEXT NOT NULL,
     agent_id TEXT,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL,
     line TEXT NOT NULL,
     line_bytes INTEGER NOT NULL
   );`,
];

/** Schema version of the outbox file (PRAGMA user_version). */
export const OUTBOX_SCHEMA_VERSION = MIGRATIONS.length;

function migrate(db: Database.Database): void {
  const v = db.pragma('user_version', { simple: true }) as number;
  if (v > MIGRATIONS.length) throw new Error(`outbox schema version ${v} is newer than this Umbra (${MIGRATIONS.length})`);
  for (let i = v; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i]!);
      db.pragma(`user_version = ${i + 1}`);
    }).immediate();
  }
}

function truncate(line: string): string {
  return line.length <= MAX_DEAD_LETTER_LINE_CHARS ? line : line.slice(0, MAX_DEAD_LETTER_LINE_CHARS);
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
}
