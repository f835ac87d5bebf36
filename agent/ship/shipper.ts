// Ships the spool to the collector: batches of the oldest unacknowledged events as gzip
// NDJSON, `POST /api/v1/events` over HTTPS (keep-alive, a pinned CA or, for a demo's
// self-signed certificate, `insecure`), `Authorization: Bearer <token>`. The spool is
// acknowledged only on 200, which the collector sends after its store committed, so an
// event leaves the disk only once it is stored; a batch sent again after a lost response
// is recognised by its deterministic event ids.
//
// Responses: 200 → ack; 413 → the batch is halved and each half sent in order (one event
// alone still too large → dropped, counted `ship.rejected_too_large`, acknowledged so the
// spool moves on); 429/503 → wait `Retry-After` (seconds or an HTTP date; exponential
// backoff without one); 401/403 → a logged error, retried with backoff (the operator fixes
// the token, nothing is lost); network errors, timeouts, 5xx and other statuses →
// exponential backoff with full jitter (delay = random × min(cap, base × 2^attempt)).
// 415 → gzip is turned off and the batch sent again as identity.
//
// Several requests in flight (`maxInflight`, default DEFAULT_MAX_INFLIGHT), a sliding
// window: batches are read ahead from the spool (Spool.readAhead) and sent while fewer
// than maxInflight are in flight; the spool is acknowledged batch by batch in sequence
// order, as each oldest batch in flight is stored, so acknowledgements stay a cumulative
// sequence. When one fails, no new batch is sent; those after it finish, and everything
// from the failed one on is sent again (the collector counts the stored ones as
// duplicates). One batch at a time, the agent and the collector would take turns waiting
// for each other (and a WAN round trip would bound the rate); batches arriving together
// are committed by the collector in one transaction.
import { Agent, request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { promisify } from 'node:util';
import { constants as zc, gzip } from 'node:zlib';
import { Counters } from '../stats.js';
import { ndjsonBody, SpoolArena, type Spool, type SpoolRecord } from './spool.js';

/** Path of the ingest endpoint under the collector URL. */
export const EVENTS_PATH = '/api/v1/events';
/** Default most events in one request (the collector's default limit is 10,000). */
export const DEFAULT_BATCH_MAX_EVENTS = 2000;
/** Default most JSON bytes in one request before gzip (the collector decodes up to 64 MiB). */
export const DEFAULT_BATCH_MAX_BYTES = 4 * 1024 * 1024;
/** How long a partial batch waits for more events before it is sent. */
export const DEFAULT_LINGER_MS = 200;
/** A request with no complete response after this long is abandoned and retried. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Backoff: the first retry waits up to this long (full jitter). */
export const BACKOFF_BASE_MS = 250;
/** Backoff: no retry waits longer than this (full jitter). */
export const BACKOFF_CAP_MS = 60_000;
/** A `Retry-After` longer than this is shortened to it. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;
/** Default time `stop()` keeps shipping what is left. */
export const DEFAULT_STOP_TIMEOUT_MS = 5000;
/** Largest response body read (the collector answers a few dozen bytes). */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Successful batches after a 413 before the batch size doubles back towards the maximum. */
export const SPLIT_RECOVERY_BATCHES = 8;
/**
 * Default batches in flight at once. The collector accepts 8 in flight by default
 * (collector.limits.max_inflight_batches) across all its agents; 429 beyond.
 */
export const DEFAULT_MAX_INFLIGHT = 3;
/** gzip level: fastest; NDJSON events compress ~10× even so. */
export const DEFAULT_GZIP_LEVEL = zc.Z_BEST_SPEED;

export type LogLevel = 'info' | 'warn' | 'error';

export interface ShipperOptions {
  spool: Spool;
  /** Collector base URL, `https://host:port` (a path prefix is kept). */
  url: string;
  /** The agent's bearer token. */
  token: string;
  /** PEM of the CA (or the self-signed certificate itself) to trust: pins the collector. */
  ca?: string | Buffer;
  /** Accept any certificate (demo only; prefer `ca`). */
  insecure?: boolean;
  /** Client certificate and key (PEM) when the collector requires mTLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  batchMaxEvents?: number;
  batchMaxBytes?: number;
  /** Batches in flight at once (default DEFAULT_MAX_INFLIGHT; 1 = one request at a time). */
  maxInflight?: number;
  lingerMs?: number;
  requestTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Default true; false sends identity-encoded NDJSON. */
  gzip?: boolean;
  gzipLevel?: number;
  /** Where `ship.*` is counted; default the spool's counters. */
  counters?: Counters;
  /** Default: one line on stderr. */
  log?: (level: LogLevel, message: string) => void;
  /** For the jitter; default Math.random. */
  random?: () => number;
  /** Called once per request when its answer is complete (status) or it failed (null): the metrics' latency histogram. */
  onRequest?: (seconds: number, status: number | null) => void;
}

/**
 * What the collector said about the stored part of a batch, counted only once that part is
 * acknowledged in the spool (answers for batches sent again after an earlier one failed are
 * not counted).
 */
interface Tally {
  batches: number;
  events: number;
  accepted: number;
  duplicates: number;
  deadLettered: number;
  unparsed: number;
  /** Sequences of lone events the collector refused as too large: dropped. */
  dropped: number[];
}

const noTally = (): Tally => ({ batches: 0, events: 0, accepted: 0, duplicates: 0, deadLettered: 0, unparsed: 0, dropped: [] });

function addTally(a: Tally, b: Tally): Tally {
  return { batches: a.batches + b.batches, events: a.events + b.events, accepted: a.accepted + b.accepted, duplicates: a.duplicates + b.duplicates, deadLettered: a.deadLettered + b.deadLettered, unparsed: a.unparsed + b.unparsed, dropped: [...a.dropped, ...b.dropped] };
}

/** How sending one batch ended; `doneUpTo`: a retry after the batch's first part was stored (a split after 413), `tally` covering that part. */
type Outcome = { kind: 'ok'; tally: Tally } | { kind: 'retry'; delayMs?: number; reason: string; doneUpTo?: number; tally?: Tally };

/** A batch in flight: its records (views into its arena) and how its sending ends. */
interface InFlight {
  records: SpoolRecord[];
  arena: SpoolArena;
  done: Promise<Outcome>;
}

interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const gzipAsync = promisify(gzip);
/** zlib's smallest output chunk (zlib.constants.Z_MIN_CHUNK). */
const GZIP_MIN_CHUNK_BYTES = 64;
/**
 * gzip output chunk: a 2,000-event batch (~1.5 MB of NDJSON) compresses to 40-200 KB.
 * Each request in flight holds one such chunk until it is answered.
 */
export const GZIP_CHUNK_BYTES = 256 * 1024;

/** Milliseconds to wait from a `Retry-After` value (delta-seconds or HTTP-date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/** Full-jitter exponential backoff for the attempt-th consecutive failure (0-based). */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}

export class Shipper {
  readonly counters: Counters;
  private readonly spool: Spool;
  private readonly url: URL;
  private readonly agent: Agent;
  private readonly token: string;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly maxInflight: number;
  private readonly lingerMs: number;
  private readonly timeoutMs: number;
  private readonly baseMs: number;
  private readonly capMs: number;
  private useGzip: boolean;
  private readonly gzipLevel: number;
  private readonly log: (level: LogLevel, message: string) => void;
  private readonly random: () => number;
  private readonly onRequest: ((seconds: number, status: number | null) => void) | undefined;
  /** Batches in flight, oldest first. */
  private readonly window: InFlight[] = [];
  /** A batch of the window failed: no new batch is sent until the window is over. */
  private windowFailed = false;
  /** Free read buffers (see SpoolArena): each batch in flight holds its own until its request is over. */
  private readonly arenas: SpoolArena[] = [];

  private running: Promise<void> | undefined;
  private stopping = false;
  private deadline = Infinity;
  private wake: (() => void) | undefined;
  private readonly inflight = new Set<ReturnType<typeof request>>();
  /** stop()'s time is up: requests not yet made are not made. */
  private abandoned = false;
  private attempt = 0;
  private retryAt = 0;
  private lingered = false;
  private eventsNow: number;
  private okSinceSplit = 0;
  private lastProblem = '';
  /** The last failure, for status displays; empty after a success. */
  lastError = '';

  constructor(opts: ShipperOptions) {
    this.spool = opts.spool;
    this.url = new URL(EVENTS_PATH.slice(1), opts.url.endsWith('/') ? opts.url : opts.url + '/');
    if (this.url.protocol !== 'https:') throw new Error(`collector URL ${opts.url}: only https is supported`);
    this.token = opts.token;
    this.counters = opts.counters ?? opts.spool.counters;
    this.maxEvents = opts.batchMaxEvents ?? DEFAULT_BATCH_MAX_EVENTS;
    this.maxBytes = opts.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES;
    this.maxInflight = opts.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    if (!Number.isSafeInteger(this.maxInflight) || this.maxInflight < 1) throw new Error(`maxInflight ${opts.maxInflight}: a positive integer`);
    this.lingerMs = opts.lingerMs ?? DEFAULT_LINGER_MS;
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.baseMs = opts.backoffBaseMs ?? BACKOFF_BASE_MS;
    this.capMs = opts.backoffCapMs ?? BACKOFF_CAP_MS;
    this.useGzip = opts.gzip ?? true;
    this.gzipLevel = opts.gzipLevel ?? DEFAULT_GZIP_LEVEL;
    this.log = opts.log ?? ((level, message) => process.stderr.write(`umbra agent: ${level}: ${message}\n`));
    this.random = opts.random ?? Math.random;
    this.onRequest = opts.onRequest;
    this.eventsNow = this.maxEvents;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: this.maxInflight,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.cert !== undefined ? { cert: opts.cert } : {}),
      ...(opts.key !== undefined ? { key: opts.key } : {}),
      rejectUnauthorized: !opts.insecure,
    });
  }

  /** Starts shipping in the background. */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.abandoned = false;
    this.deadline = Infinity;
    this.running = this.loop().catch((e: unknown) => {
      this.log('error', `shipper stopped: ${(e as Error).stack ?? String(e)}`);
    });
  }

  /**
   * Ships what it can within `timeoutMs`, then abandons a request in flight and stops.
   * Resolves true when nothing was left unacknowledged.
   */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<boolean> {
    this.stopping = true;
    this.deadline = Date.now() + timeoutMs;
    this.wakeUp();
    if (this.running) {
      const timer = setTimeout(() => {
        this.abandoned = true;
        for (const req of this.inflight) req.destroy(new Error('shipper stopped'));
      }, timeoutMs);
      await this.running;
      clearTimeout(timer);
      this.running = undefined;
    }
    this.agent.destroy();
    return this.spool.readBatch(1, 1).length === 0;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    while (!(this.stopping && Date.now() >= this.deadline)) {
      let more: boolean;
      try {
        more = await this.step();
      } catch (e) {
        // The spool failed (an I/O error reading or acknowledging): count, log, wait, go on.
        this.counters.inc('ship.spool_errors');
        const reason = `spool: ${(e as Error).message}`;
        // Nothing in flight: the next read starts from the oldest unacknowledged event.
        if (this.window.length === 0) this.spool.rewind();
        if (reason !== this.lastProblem) this.log('error', reason);
        this.lastProblem = this.lastError = reason;
        more = await this.wait(backoffDelay(this.attempt++, this.baseMs, this.capMs, this.random));
      }
      if (!more) return;
    }
  }

  /** Waits before the next attempt; false when stopping and the wait would pass the deadline. */
  private async wait(delay: number): Promise<boolean> {
    this.retryAt = Date.now() + delay;
    if (this.stopping && this.retryAt >= this.deadline) return false;
    await this.sleep(delay);
    return true;
  }

  /**
   * One turn of the loop: fill the window (batches read ahead from the spool and sent while
   * fewer than maxInflight are in flight), then wait for the oldest batch in flight. Stored:
   * the spool is acknowledged up to its end. Failed: the batches after it are let finish
   * (and will be sent again), the stored part of the failed one is acknowledged, the spool
   * rewound, and the loop waits before sending again. False: stop now.
   */
  private async step(): Promise<boolean> {
    // Woken early from a wait by stop(): the wait still holds (Retry-After is the collector's word).
    if (Date.now() < this.retryAt) return this.wait(this.retryAt - Date.now());
    while (this.window.length < this.maxInflight && !this.windowFailed && !this.pastDeadline()) {
      const unread = this.spool.unread;
      if (unread === 0) break;
      if (unread < this.eventsNow) {
        // A partial batch: sent only when nothing else is in flight, after waiting once for
        // more events (unless flushing). Decided from the spool's count before reading:
        // records read before the wait would be garbage after it, old enough by then to be
        // promoted (bench/live: ~half the shipper's garbage).
        if (this.window.length > 0) break;
        if (!this.lingered && !this.stopping && this.lingerMs > 0) {
          this.lingered = true;
          await this.sleep(this.lingerMs);
          return true;
        }
      }
      const arena = this.arenas.pop() ?? new SpoolArena();
      const records = this.spool.readAhead(this.eventsNow, this.maxBytes, arena);
      if (records.length === 0) {
        this.arenas.push(arena);
        break;
      }
      this.lingered = false;
      const b: InFlight = { records, arena, done: undefined as unknown as Promise<Outcome> };
      b.done = this.send(records).then((o) => {
        if (o.kind !== 'ok') this.windowFailed = true;
        return o;
      });
      this.window.push(b);
    }
    const head = this.window[0];
    if (!head) {
      if (this.stopping) return false;
      await this.sleep(this.lingerMs);
      return true;
    }
    const out = await head.done;
    if (out.kind === 'ok') {
      this.window.shift();
      this.arenas.push(head.arena);
      this.spool.ack(head.records[head.records.length - 1]!.seq);
      this.count(out.tally);
      if (!this.windowFailed) {
        this.attempt = 0;
        this.lastError = '';
        if (this.lastProblem) this.log('info', `collector accepts events again (after: ${this.lastProblem})`);
        this.lastProblem = '';
      }
      return true;
    }
    // The oldest batch in flight failed: the later ones finish (their answers are not used:
    // acknowledgements are a cumulative sequence, so they are sent again), then start over.
    const outcomes = await Promise.all(this.window.map((x) => x.done));
    for (const x of this.window) this.arenas.push(x.arena);
    this.window.length = 0;
    this.windowFailed = false;
    try {
      if (out.doneUpTo !== undefined) {
        this.spool.ack(out.doneUpTo);
        if (out.tally) this.count(out.tally);
      }
    } finally {
      this.spool.rewind();
    }
    // The longest wait any batch was told to observe (Retry-After), with the oldest failure's reason.
    const delays = outcomes.flatMap((x) => (x.kind === 'retry' && x.delayMs !== undefined ? [x.delayMs] : []));
    this.lastError = out.reason;
    if (out.reason !== this.lastProblem) {
      this.log(out.reason.startsWith('HTTP 401') || out.reason.startsWith('HTTP 403') ? 'error' : 'warn', `shipping to ${this.url.origin}: ${out.reason}; retrying`);
      this.lastProblem = out.reason;
    }
    const delay = delays.length ? Math.max(...delays) : backoffDelay(this.attempt, this.baseMs, this.capMs, this.random);
    this.attempt++;
    this.counters.inc('ship.retries');
    return this.wait(delay);
  }

  /**
   * Sends the records in order, halving on 413; ok when the collector stored every record
   * (or refused a lone one as too large: dropped, counted). Does not acknowledge the spool:
   * step() does, in sequence order.
   */
  private async send(records: SpoolRecord[]): Promise<Outcome> {
    const body = ndjsonBody(records);
    let res: HttpResult;
    let gzipped: boolean;
    try {
      ({ res, gzipped } = await this.post(body, records.length));
    } catch (e) {
      this.counters.inc('ship.network_errors');
      return { kind: 'retry', reason: `network: ${(e as Error).message}` };
    }
    const last = records[records.length - 1]!.seq;
    if (res.status === 200) {
      if (this.eventsNow < this.maxEvents && ++this.okSinceSplit >= SPLIT_RECOVERY_BATCHES) {
        this.eventsNow = Math.min(this.maxEvents, this.eventsNow * 2);
        this.okSinceSplit = 0;
      }
      return { kind: 'ok', tally: { ...resultTally(res.body), batches: 1, events: records.length } };
    }
    this.counters.inc(`ship.http_${res.status}`);
    if (res.status === 413) {
      if (records.length === 1) return { kind: 'ok', tally: { ...noTally(), dropped: [last] } };
      this.counters.inc('ship.split_batches');
      const half = Math.ceil(records.length / 2);
      this.eventsNow = Math.max(1, Math.min(this.eventsNow, half));
      this.okSinceSplit = 0;
      const first = await this.send(records.slice(0, half));
      if (first.kind !== 'ok') return first;
      const second = await this.send(records.slice(half));
      if (second.kind === 'ok') return { kind: 'ok', tally: addTally(first.tally, second.tally) };
      return { ...second, doneUpTo: second.doneUpTo ?? records[half - 1]!.seq, tally: second.tally ? addTally(first.tally, second.tally) : first.tally };
    }
    const detail = res.body.length > 200 ? res.body.slice(0, 200) + '…' : res.body;
    if (res.status === 415 && gzipped) {
      // A collector (or a proxy in front of it) that does not take gzip: send identity from now on
      // (another batch in flight may have found out first).
      if (this.useGzip) {
        this.useGzip = false;
        this.log('warn', `collector refused gzip (HTTP 415 ${detail}); sending uncompressed NDJSON from now on`);
      }
      return this.send(records);
    }
    if (res.status === 404 || res.status === 405) {
      return { kind: 'retry', reason: `HTTP ${res.status}: no ingest endpoint at ${this.url.href} (check the collector URL) ${detail}` };
    }
    if (res.status === 429 || res.status === 503) {
      const ra = parseRetryAfter(headerValue(res.headers['retry-after']));
      return { kind: 'retry', ...(ra !== undefined ? { delayMs: ra } : {}), reason: `HTTP ${res.status} (collector busy${ra !== undefined ? `, Retry-After ${ra} ms` : ''})` };
    }
    if (res.status === 401 || res.status === 403) {
      return { kind: 'retry', reason: `HTTP ${res.status}: the collector refused this agent's token (check the token and the agent id configured on the collector) ${detail}` };
    }
    return { kind: 'retry', reason: `HTTP ${res.status} ${detail}` };
  }

  /** Counts what the collector said about a stored (and now acknowledged) part. */
  private count(t: Tally): void {
    const inc = (name: string, n: number): void => { if (n > 0) this.counters.inc(name, n); };
    inc('ship.batches_acked', t.batches);
    inc('ship.events_acked', t.events);
    inc('ship.collector_accepted', t.accepted);
    inc('ship.collector_duplicates', t.duplicates);
    inc('ship.collector_dead_lettered', t.deadLettered);
    inc('ship.unparsed_responses', t.unparsed);
    for (const seq of t.dropped) {
      this.counters.inc('ship.rejected_too_large');
      this.log('error', `collector refused event ${this.spool.idPrefix}${seq} as too large (HTTP 413 for it alone); dropped`);
    }
  }

  /** True once stop()'s time is up. */
  private pastDeadline(): boolean {
    return this.abandoned || (this.stopping && Date.now() >= this.deadline);
  }

  /** One request; `gzipped`: how this body was sent (useGzip may change while it is being compressed). */
  private async post(ndjson: Buffer, events: number): Promise<{ res: HttpResult; gzipped: boolean }> {
    const gzipped = this.useGzip;
    // identity: a copy, as a socket may still be writing it after an early answer, when the arena is reused
    // zlib's async API makes a round trip to its thread pool per output chunk (16 KiB by
    // default) and joins the chunks after: one chunk holds a usual batch's gzip.
    const body = gzipped ? await gzipAsync(ndjson, { level: this.gzipLevel, chunkSize: Math.min(GZIP_CHUNK_BYTES, Math.max(GZIP_MIN_CHUNK_BYTES, ndjson.length)) }) : Buffer.from(ndjson);
    if (this.pastDeadline()) throw new Error('shipper stopped');
    // While stopping, no request outlives stop()'s deadline.
    const timeoutMs = this.stopping ? Math.max(1, Math.min(this.timeoutMs, this.deadline - Date.now())) : this.timeoutMs;
    this.counters.inc('ship.batches_sent');
    this.counters.inc('ship.events_sent', events);
    this.counters.inc('ship.bytes_sent', body.length);
    const t0 = performance.now();
    let timedOnce = false;
    const timed = (status: number | null): void => {
      if (timedOnce) return;
      timedOnce = true;
      this.onRequest?.((performance.now() - t0) / 1000, status);
    };
    const res = await new Promise<HttpResult>((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/x-ndjson',
          ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
          'content-length': body.length,
        },
        timeout: timeoutMs,
      });
      this.inflight.add(req);
      const done = (): void => {
        this.inflight.delete(req);
      };
      req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
      req.on('error', (e) => {
        done();
        timed(null);
        reject(e);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
        });
        res.on('end', () => {
          done();
          timed(res.statusCode ?? 0);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => {
          done();
          timed(null);
          reject(e);
        });
      });
      req.end(body);
    });
    return { res, gzipped };
  }
}

/** The collector's answer to a stored batch (`{"accepted":N,"duplicates":N,"dead_lettered":N}`) as a tally. */
function resultTally(body: string): Tally {
  const t = noTally();
  try {
    const r = JSON.parse(body) as { accepted?: unknown; duplicates?: unknown; dead_lettered?: unknown };
    if (typeof r.accepted === 'number') t.accepted = r.accepted;
    if (typeof r.duplicates === 'number') t.duplicates = r.duplicates;
    if (typeof r.dead_lettered === 'number') t.deadLettered = r.dead_lettered;
  } catch {
    t.unparsed = 1;
  }
  return t;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
