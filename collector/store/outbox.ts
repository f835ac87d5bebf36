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
// A row of the outbox is a chunk of one batch (one agent, at most one bulk
// request's worth), not one event: committing a batch is then a few inserts
// whatever its size, which is what keeps the ack path fast. After a bulk
// request a chunk is deleted, or rewritten with the events still to retry.
// Duplicates are found by Elasticsearch (409 on the `_id`), not at insert:
// insertBatch counts as duplicates only ids repeated inside the batch, and
// stats().duplicates counts the 409s.
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
import { SQLITE_PAGE_SIZE_BYTES } from './sqlite.js';
import { clampLimit, MAX_DEAD_LETTER_LINE_CHARS, type DeadLetter, type EventQuery, type EventStore, type InsertResult, type StoredDeadLetter, type StoredEvent } from './store.js';
import type { EventPage, SummaryQuery, SummaryRows } from './store.js';

export { DEFAULT_OUTBOX_FILE, DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_EVENTS };
/** Most documents and bytes (of documents) in one bulk request. */
export const OUTBOX_BULK_MAX_EVENTS = 2000;
export const OUTBOX_BULK_MAX_BYTES = 8 * 1024 * 1024;
/** Backoff after a failed request or items to retry: base · 2^attempt, capped, with full jitter. */
export const OUTBOX_RETRY_BASE_MS = 200;
export const OUTBOX_RETRY_MAX_MS = 30_000;
/** With nothing to send, the drainer still looks this often (ms) even if not woken. */
export const OUTBOX_IDLE_POLL_MS = 1000;
/** Size the WAL file is truncated to after a checkpoint (bytes). */
export const OUTBOX_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** How long the SQLite writer waits for a lock (ms). */
export const OUTBOX_BUSY_TIMEOUT_MS = 5000;
/** Reason code of a document Elasticsearch refused (400 mapping error and other 4xx). */
export const ES_REJECTED_REASON = 'es_rejected';

export interface OutboxOptions {
  /** The outbox file (created with its directory). */
  path: string;
  es: ElasticsearchEvents;
  maxEvents?: number;
  /** Bound of the JSON waiting, in characters (= bytes for the ASCII JSON events are; at most 3 bytes each otherwise). */
  maxBytes?: number;
  bulkMaxEvents?: number;
  bulkMaxBytes?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  idlePollMs?: number;
  synchronous?: 'full' | 'normal';
  /** Start the drainer at open (default true). */
  drain?: boolean;
  /**
   * Install the ILM policy, templates and data stream at start (default true).
   * false: they were installed beforehand (deploy/elasticsearch/), and the
   * collector's user needs only the privilege to write to the data stream.
   */
  install?: boolean;
  /** Random source for the jitter (tests make it deterministic). */
  random?: () => number;
  log?: (msg: string) => void;
}

export interface OutboxStats {
  /** Events waiting to be sent, and the size of their JSON (characters: bytes for ASCII). */
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
  /** Elasticsearch objects installed (false until the first successful install; true from the start when installation is left to the operator). */
  installed: boolean;
  lastError: string | null;
}

/** One outbox row: a chunk of a batch. `ids` is a JSON array; `docs` the documents, one per line. */
interface Row { seq: number; agent_id: string; n: number; bytes: number; ids: string; docs: string }
/** A row being sent, split into its events. */
interface Chunk { row: Row; ids: string[]; docs: string[]; sizes: number[] }

/** The durable outbox + Elasticsearch store. */
export class OutboxStore implements EventStore {
  readonly path: string;
  readonly es: ElasticsearchEvents;
  private readonly db: Database.Database;
  private readonly opts: Required<Omit<OutboxOptions, 'path' | 'es' | 'log' | 'random' | 'synchronous' | 'drain' | 'install'>>;
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
  private readonly updateRow: Database.Statement;
  private readonly writeBatch: Database.Transaction<(chunks: readonly PendingChunk[], dead: readonly DeadLetter[]) => void>;
  private readonly applyResults: Database.Transaction<(chunks: readonly Chunk[], results: Uint8Array, reasons: Map<number, string>) => { removedBytes: number; removed: number }>;

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
    if (opts.install === false) this.st.installed = true;
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? ((m) => process.stderr.write(`umbra collector: elasticsearch: ${m}\n`));

    this.insertRow = db.prepare('INSERT INTO outbox (agent_id, n, bytes, ids, docs) VALUES (?, ?, ?, ?, ?)');
    this.insertDead = db.prepare('INSERT INTO dead_letters (received_at, agent_id, reason, detail, line, line_bytes) VALUES (?, ?, ?, ?, ?, ?)');
    this.selectHead = db.prepare('SELECT seq, agent_id, n, bytes, ids, docs FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1');
    this.deleteRow = db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.updateRow = db.prepare('UPDATE outbox SET n = ?, bytes = ?, ids = ?, docs = ? WHERE seq = ?');
    this.writeBatch = db.transaction((chunks: readonly PendingChunk[], dead: readonly DeadLetter[]) => {
      for (const c of chunks) this.insertRow.run(c.agentId, c.ids.length, c.bytes, JSON.stringify(c.ids), c.docs.join('\n'));
      for (const d of dead) this.insertDead.run(d.receivedAt, d.agentId, d.reason, d.detail, truncate(d.line), d.lineBytes);
    });
    this.applyResults = db.transaction((chunks: readonly Chunk[], results: Uint8Array, reasons: Map<number, string>) => {
      let removedBytes = 0;
      let removed = 0;
      const now = new Date().toISOString();
      let k = 0;
      for (const c of chunks) {
        const keepIds: string[] = [];
        const keepDocs: string[] = [];
        let keepBytes = 0;
        for (let i = 0; i < c.ids.length; i++, k++) {
          const r = results[k]!;
          if (r === ItemResult.Retry) { keepIds.push(c.ids[i]!); keepDocs.push(c.docs[i]!); keepBytes += c.sizes[i]!; continue; }
          if (r === ItemResult.Rejected) this.insertDead.run(now, c.row.agent_id, ES_REJECTED_REASON, reasons.get(k) ?? '', truncate(c.docs[i]!), c.sizes[i]!);
          removed++;
          removedBytes += c.sizes[i]!;
        }
        if (keepIds.length === 0) this.deleteRow.run(c.row.seq);
        else if (keepIds.length < c.ids.length) this.updateRow.run(keepIds.length, keepBytes, JSON.stringify(keepIds), keepDocs.join('\n'), c.row.seq);
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
      db.pragma(`page_size = ${SQLITE_PAGE_SIZE_BYTES}`); // as the SQLite store's: fewer WAL frames per commit (a new file only)
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.pragma(`busy_timeout = ${OUTBOX_BUSY_TIMEOUT_MS}`);
      // Rows come and go: after a checkpoint the WAL is truncated back to this size instead of staying at its peak.
      db.pragma(`journal_size_limit = ${OUTBOX_WAL_SIZE_LIMIT_BYTES}`);
      migrate(db);
      store = new OutboxStore(opts, db);
      const totals = db.prepare('SELECT coalesce(sum(n), 0) AS n, coalesce(sum(bytes), 0) AS b FROM outbox').get() as { n: number; b: number };
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

  /**
   * Commits the batch to the outbox (chunks of at most one bulk request each).
   * Rejects with nothing stored when the outbox is full or closed.
   */
  async insertBatch(events: readonly StoredEvent[], deadLetters: readonly DeadLetter[]): Promise<InsertResult> {
    if (this.closed) throw new UmbraError('UMBRA_E_STORE', this.path, 'store is closed');
    const chunks: PendingChunk[] = [];
    const seen = new Set<string>();
    const open = new Map<string, PendingChunk>();
    let accepted = 0;
    let bytes = 0;
    for (const s of events) {
      const id = s.id;
      if (seen.has(id)) continue;
      seen.add(id);
      const json = s.json;
      const b = json.length; // JSON characters: the bytes for the ASCII events are (a UTF-8 byte count costs as much as the insert)
      let c = open.get(s.agentId);
      if (!c || c.ids.length >= this.opts.bulkMaxEvents || (c.bytes + b > this.opts.bulkMaxBytes && c.ids.length > 0)) {
        c = { agentId: s.agentId, ids: [], docs: [], bytes: 0 };
        open.set(s.agentId, c);
        chunks.push(c);
      }
      c.ids.push(id);
      c.docs.push(json);
      c.bytes += b;
      accepted++;
      bytes += b;
    }
    if (this.st.pending + accepted > this.opts.maxEvents || this.st.pendingBytes + bytes > this.opts.maxBytes) {
      throw new UmbraError('UMBRA_E_STORE', this.path, `outbox full (${this.st.pending} events, ${this.st.pendingBytes} bytes waiting for Elasticsearch; limits ${this.opts.maxEvents} events, ${this.opts.maxBytes} bytes)`);
    }
    this.writeBatch.immediate(chunks, deadLetters);
    this.st.pending += accepted;
    this.st.pendingBytes += bytes;
    if (accepted) this.wake?.();
    return { accepted, duplicates: events.length - accepted };
  }

  /** Elasticsearch's count plus the outbox's pending rows (see the note at the top). */
  async count(): Promise<number> {
    return (await this.es.count()) + this.st.pending;
  }

  async query(q: EventQuery): Promise<UmbraEvent[]> {
    return this.es.query(q);
  }

  page(q: EventQuery): Promise<EventPage> {
    return this.es.page(q);
  }

  summarize<Q extends SummaryQuery>(q: Q): Promise<SummaryRows[Q['kind']]> {
    return this.es.summarize(q);
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

  /**
   * `@timestamp` (ms since the epoch) of the first event of the oldest row, the
   * one waiting longest; null when the outbox is empty. Read-only (metrics).
   */
  oldestPendingTimestampMs(): number | null {
    if (this.closed || this.st.pending === 0) return null;
    const r = this.db.prepare(
      `SELECT json_extract(substr(docs, 1, CASE instr(docs, char(10)) WHEN 0 THEN length(docs) ELSE instr(docs, char(10)) - 1 END), '$."@timestamp"') AS ts
       FROM outbox ORDER BY seq LIMIT 1`,
    ).get() as { ts: unknown } | undefined;
    const ms = typeof r?.ts === 'string' ? Date.parse(r.ts) : NaN;
    return Number.isFinite(ms) ? ms : null;
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
      const chunks = this.head();
      if (chunks.length === 0) {
        for (const w of this.waiters.splice(0)) w();
        await this.sleep(this.opts.idlePollMs);
        continue;
      }
      const docs: BulkDoc[] = [];
      for (const c of chunks) for (let i = 0; i < c.ids.length; i++) docs.push({ id: c.ids[i]!, json: c.docs[i]! });
      this.st.bulkRequests++;
      const out = await this.es.bulkCreate(docs);
      if (this.closed) return; // results of an interrupted round are not applied
      if (!out.ok) {
        this.st.failedRequests++;
        this.st.lastError = out.message;
        if (out.tooLarge && docs.length > 1) {
          this.bulkLimit = Math.max(1, docs.length >> 1);
          this.log(`bulk request too large (${docs.length} documents): sending at most ${this.bulkLimit}`);
          continue;
        }
        if (attempt === 0) this.log(`bulk request failed (${out.message}); retrying with backoff, events wait in the outbox`);
        await this.sleep(this.backoff(attempt++));
        continue;
      }
      const { removed, removedBytes } = this.applyResults(chunks, out.results, out.reasons);
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

  /**
   * The oldest chunks, up to the bulk limits (always at least one). A chunk
   * larger than the current limit (after a 413) is split in the file first.
   */
  private head(): Chunk[] {
    const out: Chunk[] = [];
    let events = 0;
    let bytes = 0;
    let after = 0;
    for (;;) {
      const row = this.selectHead.get(after) as Row | undefined;
      if (!row) break;
      if (out.length > 0 && (events + row.n > this.bulkLimit || bytes + row.bytes > this.opts.bulkMaxBytes)) break;
      const ids = JSON.parse(row.ids) as string[];
      const docs = row.docs.split('\n');
      const sizes = docs.map((d) => d.length);
      if (out.length === 0 && ids.length > this.bulkLimit) {
        this.splitRow(row, ids, docs, sizes, this.bulkLimit);
        continue; // read it again, now within the limit
      }
      out.push({ row, ids, docs, sizes });
      events += row.n;
      bytes += row.bytes;
      after = row.seq;
    }
    return out;
  }

  /** Keeps the first `keep` events in the row and moves the rest to a new row (at the end of the queue). */
  private splitRow(row: Row, ids: string[], docs: string[], sizes: number[], keep: number): void {
    const b1 = sizes.slice(0, keep).reduce((a, x) => a + x, 0);
    this.db.transaction(() => {
      this.updateRow.run(keep, b1, JSON.stringify(ids.slice(0, keep)), docs.slice(0, keep).join('\n'), row.seq);
      this.insertRow.run(row.agent_id, ids.length - keep, row.bytes - b1, JSON.stringify(ids.slice(keep)), docs.slice(keep).join('\n'));
    }).immediate();
  }
}

/** A chunk being built by insertBatch. */
interface PendingChunk { agentId: string; ids: string[]; docs: string[]; bytes: number }

const MIGRATIONS: string[] = [
  `CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     agent_id TEXT NOT NULL,
     n INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     ids TEXT NOT NULL,
     docs TEXT NOT NULL
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
