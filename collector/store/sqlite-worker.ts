// The SQLite store as the collector runs it: SqliteStore inside a worker
// thread, so the synchronous SQLite work of one batch (tens of milliseconds for
// 1000 events) runs on the other core while the main thread decrypts, inflates
// and parses the next batches, and health checks and TLS handshakes are never
// held behind a commit. The main thread extracts the indexed columns
// (eventColumns: one array per column) so the worker receives plain arrays of strings and numbers.
// Queries run in a second thread on a read-only connection (SqliteWorkerStore).
// If the worker dies, every pending and later call rejects: the ingest answers
// 503 and the agents keep their spool until the collector is restarted.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { UmbraEvent } from '../../agent/event.js';
import { UmbraError } from '../../common/errors.js';
import { startWorker as startModuleWorker } from '../../common/start-worker.js';
import Database from 'better-sqlite3';
import { eventColumns, SqliteStore, type EventColumns, type SqliteStoreOptions } from './sqlite.js';
import type { DeadLetter, EventBytes, EventQuery, EventStore, InsertResult, StoredDeadLetter, StoredEvent } from './store.js';
import { InvalidQueryError, type EventPage, type SummaryQuery, type SummaryRows } from './store.js';

type Op =
  | { op: 'insert'; events: EventColumns; dead: DeadLetter[] }
  | { op: 'count' }
  | { op: 'countDeadLetters' }
  | { op: 'query'; q: EventQuery }
  | { op: 'page'; q: EventQuery }
  | { op: 'summarize'; q: SummaryQuery }
  | { op: 'deadLetters'; limit?: number }
  | { op: 'close' };
type Request = Op & { id: number };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; param?: string };
type Init = { umbraSqliteWorker: true; role: 'writer' | 'reader' | 'checkpointer'; path: string; opts: SqliteStoreOptions };

/** How often the checkpointer thread copies the WAL into the database file (ms). */
export const CHECKPOINT_INTERVAL_MS = 1000;
/**
 * WAL bytes past which the writer checkpoints by itself, should the
 * checkpointer fall behind: bounds the WAL to about this size.
 */
export const WRITER_CHECKPOINT_BYTES = 256 * 1024 * 1024;

/** Requests to one worker thread and their answers; once the thread fails, every call rejects. */
class WorkerLink {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  dead: Error | null = null;
  readonly exited: Promise<void>;

  constructor(readonly worker: Worker, what: string) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(m.param !== undefined ? new InvalidQueryError(m.param, m.message) : new Error(m.message));
    });
    const fail = (e: Error): void => {
      this.dead ??= e;
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(new Error(`SQLite ${what} failed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`SQLite ${what} exited (${code})`)));
  }

  /** `transfer`: ArrayBuffers whose memory moves to the thread (detached here). */
  call<T>(op: Op, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...op, id }, transfer);
    });
  }

  /** Closes the store in the thread and waits for the thread to end. */
  async close(): Promise<void> {
    if (this.dead) return;
    await this.call({ op: 'close' });
    await this.exited;
  }
}

/** Waits for a worker's first message: its store opened, or why not. */
function opened(worker: Worker): Promise<{ ok: true } | { ok: false; message: string }> {
  return new Promise((resolve) => {
    const onMessage = (m: { ok: true } | { ok: false; message: string }): void => done(m);
    const onError = (e: Error): void => done({ ok: false, message: e.message });
    const onExit = (code: number): void => done({ ok: false, message: `SQLite worker exited (${code}) while opening` });
    // Only our listeners are removed: Worker keeps internal ones of its own.
    const done = (v: { ok: true } | { ok: false; message: string }): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve(v);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Three threads, each with its own connection: the writer (group commits), a reader
 * for every query (WAL readers never block the writer, so a dashboard's summaries
 * over millions of rows do not hold acknowledgements back) and the checkpointer.
 * A read sees every batch whose insertBatch has resolved.
 */
export class SqliteWorkerStore implements EventStore {
  readonly path: string;
  private readonly writer: WorkerLink;
  private readonly reader: WorkerLink;
  private readonly checkpointer: Worker | null;
  private readonly checkpointerExited: Promise<void>;

  private constructor(path: string, writer: Worker, reader: Worker, checkpointer: Worker | null) {
    this.path = path;
    this.writer = new WorkerLink(writer, 'writer');
    this.reader = new WorkerLink(reader, 'reader');
    this.checkpointer = checkpointer;
    this.checkpointerExited = checkpointer ? new Promise((resolve) => checkpointer.once('exit', () => resolve())) : Promise.resolve();
  }

  /** Starts the threads and opens the database in them; UmbraError(UMBRA_E_STORE) if that fails. */
  static async open(path: string, opts: SqliteStoreOptions = {}): Promise<SqliteWorkerStore> {
    const writer = startWorker({ umbraSqliteWorker: true, role: 'writer', path, opts: { walAutocheckpointBytes: WRITER_CHECKPOINT_BYTES, ...opts } });
    const ready = await opened(writer);
    if (!ready.ok) {
      await writer.terminate();
      throw new UmbraError('UMBRA_E_STORE', path, ready.message.replace(`${path}: `, ''));
    }
    // The reader opens the file the writer created and migrated.
    const reader = startWorker({ umbraSqliteWorker: true, role: 'reader', path, opts });
    const readerReady = await opened(reader);
    if (!readerReady.ok) {
      await Promise.all([writer.terminate(), reader.terminate()]);
      throw new UmbraError('UMBRA_E_STORE', path, readerReady.message.replace(`${path}: `, ''));
    }
    // Checkpoints (the WAL copied into the database file, with its fsync) run in
    // their own thread on their own connection, beside the commits.
    const checkpointer = startWorker({ umbraSqliteWorker: true, role: 'checkpointer', path, opts });
    checkpointer.on('error', () => { /* the writer's safety checkpoint still bounds the WAL */ });
    return new SqliteWorkerStore(path, writer, reader, checkpointer);
  }

  insertBatch(events: readonly StoredEvent[], deadLetters: readonly DeadLetter[], bytes?: EventBytes | null): Promise<InsertResult> {
    let columns;
    try {
      columns = eventColumns(events, bytes);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (Array.isArray(columns.doc)) return this.writer.call({ op: 'insert', events: columns, dead: deadLetters as DeadLetter[] });
    // The body's memory moves to the writer when the body is all of it; a view into a larger
    // (pooled, shared) buffer is copied out first, so nothing else is detached.
    const body = columns.doc.body;
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const moved = own ? body : new Uint8Array(body);
    columns.doc = { ...columns.doc, body: moved }; // not the caller's object: its body stays as it was given
    return this.writer.call({ op: 'insert', events: columns, dead: deadLetters as DeadLetter[] }, [moved.buffer as ArrayBuffer]);
  }
  count(): Promise<number> { return this.reader.call({ op: 'count' }); }
  countDeadLetters(): Promise<number> { return this.reader.call({ op: 'countDeadLetters' }); }
  query(q: EventQuery): Promise<UmbraEvent[]> { return this.reader.call({ op: 'query', q }); }
  page(q: EventQuery): Promise<EventPage> { return this.reader.call({ op: 'page', q }); }
  summarize<Q extends SummaryQuery>(q: Q): Promise<SummaryRows[Q['kind']]> { return this.reader.call({ op: 'summarize', q }); }
  deadLetters(limit?: number): Promise<StoredDeadLetter[]> { return this.reader.call(limit === undefined ? { op: 'deadLetters' } : { op: 'deadLetters', limit }); }

  async close(): Promise<void> {
    this.checkpointer?.postMessage('stop');
    await this.checkpointerExited;
    await this.reader.close();
    await this.writer.close();
  }
}

/** The worker runs this very module. */
function startWorker(init: Init): Worker {
  return startModuleWorker(import.meta.url, { workerData: init });
}

/** The checkpointer thread: PASSIVE checkpoints never block the writer. */
function checkpoint(init: Init): void {
  const port = parentPort!;
  let db: Database.Database | null = null;
  const timer = setInterval(() => {
    try {
      if (!db) {
        db = new Database(init.path, { fileMustExist: true });
        db.pragma('busy_timeout = 0');
      }
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or not ready: the next tick tries again; the writer's safety checkpoint bounds the WAL.
    }
  }, CHECKPOINT_INTERVAL_MS);
  port.on('message', () => {
    clearInterval(timer);
    db?.close();
    port.close();
  });
}

function serve(init: Init): void {
  const port = parentPort!;
  let store: SqliteStore;
  try {
    store = init.role === 'reader' ? SqliteStore.openReader(init.path) : SqliteStore.open(init.path, init.opts);
  } catch (e) {
    port.postMessage({ ok: false, message: (e as Error).message });
    return;
  }
  port.postMessage({ ok: true });
  // Group commit: batches that arrived while the previous commit ran are stored
  // in one transaction (far fewer index pages written per event), each still
  // answered with its own counts and only after the commit.
  let queue: (Request & { op: 'insert' })[] = [];
  const flush = (): void => {
    if (!queue.length) return;
    const group = queue;
    queue = [];
    try {
      const results = store.insertGroup(group);
      group.forEach((r, i) => port.postMessage({ id: r.id, ok: true, value: results[i] } satisfies Reply));
    } catch {
      // One bad batch must not fail the others: store them one by one.
      for (const r of group) {
        try {
          port.postMessage({ id: r.id, ok: true, value: store.insertColumns(r) } satisfies Reply);
        } catch (e) {
          port.postMessage({ id: r.id, ok: false, message: (e as Error).message } satisfies Reply);
        }
      }
    }
  };
  port.on('message', (r: Request) => {
    if (r.op === 'insert') {
      if (queue.push(r) === 1) setImmediate(flush);
      return;
    }
    flush(); // reads and close see every batch sent before them
    void (async () => {
      try {
        let value: unknown;
        switch (r.op) {
          case 'count': value = await store.count(); break;
          case 'countDeadLetters': value = await store.countDeadLetters(); break;
          case 'query': value = await store.query(r.q); break;
          case 'page': value = await store.page(r.q); break;
          case 'summarize': value = await store.summarize(r.q); break;
          case 'deadLetters': value = await store.deadLetters(r.limit); break;
          case 'close':
            await store.close();
            port.postMessage({ id: r.id, ok: true, value: null } satisfies Reply);
            port.close();
            return;
        }
        port.postMessage({ id: r.id, ok: true, value } satisfies Reply);
      } catch (e) {
        const param = e instanceof InvalidQueryError ? { param: e.param } : {};
        port.postMessage({ id: r.id, ok: false, message: (e as Error).message, ...param } satisfies Reply);
      }
    })();
  });
}

if (!isMainThread && (workerData as Init | undefined)?.umbraSqliteWorker === true && parentPort) {
  if ((workerData as Init).role === 'checkpointer') checkpoint(workerData as Init);
  else serve(workerData as Init);
}
