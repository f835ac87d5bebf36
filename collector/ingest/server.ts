// The collector's HTTPS server: agent ingest (`POST /api/v1/events`, the wire
// protocol in HELPER-BRIEF.md), health, the token-protected query API
// (collector/api/query.ts) and Prometheus metrics (`GET /metrics`, a metrics or
// admin token; collector/metrics.ts).
// The order of checks on ingest is the order of cost: token (401, body unread),
// encoding (415), declared size (413), load (429), then the body is read with a
// byte cap, gunzipped with a cap on the output (a gzip bomb stops there, 413),
// split into lines under the line and batch caps (413), each line parsed and
// checked (bad lines → dead letters), and the batch stored. The 200 ack goes out
// only after the store committed; a store failure is 503 with Retry-After and
// nothing acknowledged. No request can throw out of a handler.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { UmbraError } from '../../common/errors.js';
import { bearerToken, TokenTable } from '../auth/tokens.js';
import type { UmbraConfig } from '../config.js';
import { openStore } from '../store/open.js';
import type { EventStore, InsertResult } from '../store/store.js';
import { answerQuery, isQueryPath } from '../api/query.js';
import { CollectorMetrics, METRICS_PATH } from '../metrics.js';
import { decodeBatch, type BatchTooLarge, type DecodedBatch } from './batch.js';

/** Query API requests answered at once (they queue in the store's reader); more get 429. */
export const MAX_CONCURRENT_QUERIES = 4;
/** Seconds an agent is told to wait after a 429 (too many batches in flight). */
export const RETRY_AFTER_BUSY_S = 1;
/** Seconds an agent is told to wait after a 503 (store failing, or shutting down). */
export const RETRY_AFTER_UNAVAILABLE_S = 5;
/** Whole request (headers and body) must arrive within this (ms). */
export const REQUEST_TIMEOUT_MS = 60_000;
/** Request headers must arrive within this (ms). */
export const HEADERS_TIMEOUT_MS = 20_000;
/** The TLS handshake of a new connection must be done within this (ms). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How often slow connections are checked against the timeouts (ms); Node's default is 30 s. */
export const TIMEOUT_CHECK_MS = 1000;
/** Connections at once (agents keep one per batch in flight, plus scrapers and queries); more are refused. */
export const MAX_CONNECTIONS = 4096;
/** An idle keep-alive connection is closed after this (ms). */
export const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** On close, in-flight batches get this long to finish before connections are cut (ms). */
export const SHUTDOWN_GRACE_MS = 30_000;
/** After the last in-flight batch is answered, its answer gets this long to be flushed (ms). */
export const SHUTDOWN_FLUSH_MS = 2000;
export const INGEST_PATH = '/api/v1/events';
export const HEALTH_PATH = '/api/v1/health';


export interface IngestStats {
  batches: number;
  accepted: number;
  duplicates: number;
  deadLettered: number;
  /** Requests refused, by HTTP status. */
  refused: Record<number, number>;
  storeFailures: number;
}

export interface CollectorOptions {
  /** Use this store instead of opening the configured one (the caller then owns and closes it). */
  store?: EventStore;
  /** One line per notable happening (default: stderr with a timestamp). */
  log?: (line: string) => void;
}

export interface RunningCollector {
  /** `https://host:port` actually listened on. */
  url: string;
  port: number;
  store: EventStore;
  server: Server;
  stats: IngestStats;
  /** The Prometheus metrics (null when collector.metrics.enabled is false). */
  metrics: CollectorMetrics | null;
  /** Stops accepting, lets in-flight batches finish (SHUTDOWN_GRACE_MS at most), closes the store if it opened it. */
  close(): Promise<void>;
}

/** Starts the HTTPS collector on config.collector.listen (port 0: any free port). */
export async function startCollector(config: UmbraConfig, opts: CollectorOptions = {}): Promise<RunningCollector> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} collector: ${line}\n`));
  const c = config.collector;
  const read = (what: string, f: string): Buffer => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new UmbraError('UMBRA_E_CONFIG', config.file, `/collector/tls/${what}: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const tls = {
    cert: read('cert_file', c.tls.certFile),
    key: read('key_file', c.tls.keyFile),
    ...(c.tls.clientCaFile ? { ca: read('client_ca_file', c.tls.clientCaFile), requestCert: true, rejectUnauthorized: true } : {}),
  };
  const ownStore = !opts.store;
  const store = opts.store ?? (await openStore(config));
  const agents = new TokenTable(c.agents);
  const admins = new TokenTable(c.adminTokens);
  const scrapers = new TokenTable(c.metrics.tokens);
  const limits = c.limits;
  const stats: IngestStats = { batches: 0, accepted: 0, duplicates: 0, deadLettered: 0, refused: {}, storeFailures: 0 };
  let inflight = 0;
  /** The batch being decoded (decodeBatch yields to the event loop between slices of lines). */
  let decoding: Promise<void> = Promise.resolve();
  let queries = 0;
  let closing = false;
  let idle: (() => void) | null = null;
  const metrics = c.metrics.enabled ? new CollectorMetrics({ agents: c.agents.map((a) => a.id), inflight: () => inflight, store }) : null;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    if (closing) res.shouldKeepAlive = false; // the connection ends by itself once this answer is flushed
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
    res.end(text);
  };
  /** Refuses before or while reading the body: the connection is closed after the answer, the rest of the body is not read. */
  const refuse = (res: ServerResponse, status: number, error: string, headers: Record<string, string | number> = {}): void => {
    stats.refused[status] = (stats.refused[status] ?? 0) + 1;
    metrics?.onRefused(status);
    res.shouldKeepAlive = false;
    send(res, status, { error }, { Connection: 'close', ...headers });
  };

  const ingest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const agentId = agents.lookup(bearerToken(req.headers.authorization));
    if (agentId === null) return refuse(res, 401, 'missing or unknown agent token', { 'WWW-Authenticate': 'Bearer' });
    const enc = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (enc !== 'gzip' && enc !== 'identity' && enc !== 'x-gzip') return refuse(res, 415, `Content-Encoding '${enc}' not supported (gzip or identity)`);
    const type = req.headers['content-type']?.split(';')[0]!.trim().toLowerCase();
    if (type !== undefined && type !== 'application/x-ndjson') return refuse(res, 415, `Content-Type '${type}' not supported (application/x-ndjson)`);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limits.maxBodyBytes) return refuse(res, 413, `body of ${declared} bytes, at most ${limits.maxBodyBytes}`);
    if (closing) return refuse(res, 503, 'collector is shutting down', { 'Retry-After': RETRY_AFTER_UNAVAILABLE_S });
    if (inflight >= limits.maxInflightBatches) return refuse(res, 429, 'too many batches in flight', { 'Retry-After': RETRY_AFTER_BUSY_S });
    inflight++;
    try {
      const raw = await readBody(req, limits.maxBodyBytes);
      if (raw === 'too_large') return refuse(res, 413, `body larger than ${limits.maxBodyBytes} bytes`);
      if (raw === 'aborted') return;
      let body: Buffer;
      if (enc === 'identity') {
        if (raw.length > limits.maxDecodedBytes) return refuse(res, 413, `body larger than ${limits.maxDecodedBytes} bytes`);
        body = raw;
      } else {
        try {
          // On this thread, not libuv's pool: the hand-off to a pool thread and back cost more CPU
          // than the inflate itself (perf: ~2 % of the collector), and the lines are parsed
          // synchronously right after anyway.
          body = gunzipSync(raw, { maxOutputLength: limits.maxDecodedBytes, chunkSize: gunzipChunkBytes(raw, limits.maxDecodedBytes) });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return refuse(res, 413, `decompressed body larger than ${limits.maxDecodedBytes} bytes`);
          if (e instanceof RangeError) throw e; // not the body's fault (a 500, logged)
          return refuse(res, 400, `gzip body cannot be decompressed: ${(e as Error).message}`);
        }
      }
      const rawBytes = raw.length; // the store may take the body over (identity: raw itself)
      // One batch decodes at a time, in arrival order (interleaved, every batch finished late),
      // and is handed to the store in that order. What the handler keeps is handOver's answer,
      // not the decoded lines.
      const turn = decoding.then(async () => handOver(store, await decodeBatch(body, agentId, limits, new Date().toISOString())));
      decoding = turn.then(noop, noop);
      const handed = await turn;
      if ('tooLarge' in handed) return refuse(res, 413, handed.tooLarge);
      const { dead, t0 } = handed;
      let result;
      try {
        result = await handed.stored;
      } catch (e) {
        stats.storeFailures++;
        log(`store failed, batch from ${agentId} refused (503): ${(e as Error).message}`);
        stats.refused[503] = (stats.refused[503] ?? 0) + 1;
        metrics?.onStoreFailure();
        metrics?.onRefused(503);
        return send(res, 503, { error: 'store unavailable' }, { 'Retry-After': RETRY_AFTER_UNAVAILABLE_S });
      }
      stats.batches++;
      stats.accepted += result.accepted;
      stats.duplicates += result.duplicates;
      stats.deadLettered += dead.reasons.length;
      metrics?.onBatch(agentId, result.accepted, result.duplicates, dead.reasons, rawBytes, (performance.now() - t0) / 1000);
      if (dead.first) log(`${dead.reasons.length} dead-lettered line(s) from ${agentId}, first: ${dead.first}`);
      send(res, 200, { accepted: result.accepted, duplicates: result.duplicates, dead_lettered: dead.reasons.length });
    } finally {
      inflight--;
      if (inflight === 0 && idle) idle();
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Origin-form targets only (`/path?query`); anything else is the client's error, not ours.
    let url: URL;
    try {
      if (!req.url?.startsWith('/') || req.url.startsWith('//')) throw new Error('not a path');
      url = new URL(req.url, 'https://collector');
    } catch {
      return refuse(res, 400, 'the request target must be a path');
    }
    const path = url.pathname;
    if (path === INGEST_PATH && req.method === 'POST') return ingest(req, res);
    if (path === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) return send(res, closing ? 503 : 200, { status: closing ? 'closing' : 'ok' });
    if (path === METRICS_PATH && metrics && (req.method === 'GET' || req.method === 'HEAD')) {
      const token = bearerToken(req.headers.authorization);
      if (scrapers.lookup(token) === null && admins.lookup(token) === null) return refuse(res, 401, 'missing or unknown metrics token', { 'WWW-Authenticate': 'Bearer' });
      const { contentType, text } = await metrics.scrape();
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    if (req.method === 'GET' && isQueryPath(path)) {
      if (admins.lookup(bearerToken(req.headers.authorization)) === null) return refuse(res, 401, 'missing or unknown admin token', { 'WWW-Authenticate': 'Bearer' });
      if (queries >= MAX_CONCURRENT_QUERIES) return refuse(res, 429, `more than ${MAX_CONCURRENT_QUERIES} queries at once`, { 'Retry-After': RETRY_AFTER_BUSY_S });
      queries++;
      try {
        const answer = await answerQuery(path, url.searchParams, store);
        if (answer) return send(res, answer.status, answer.body);
      } finally {
        queries--;
      }
    }
    if (path === INGEST_PATH || path === HEALTH_PATH || isQueryPath(path) || (path === METRICS_PATH && metrics)) return refuse(res, 405, `method ${req.method} not allowed`);
    return refuse(res, 404, 'not found');
  };

  const server = createServer({ ...tls, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      log(`internal error on ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS;
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('tlsClientError', () => { /* refused handshakes (no client certificate, bad TLS): nothing to do */ });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(c.listen.port, c.listen.host, () => { server.off('error', reject); resolve(); });
    });
  } catch (e) {
    if (ownStore) await store.close();
    throw new UmbraError('UMBRA_E_CONFIG', config.file, `/collector/listen: cannot listen on ${c.listen.host}:${c.listen.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  server.on('error', (e) => log(`server error: ${e.message}`));
  const port = (server.address() as AddressInfo).port;
  const host = c.listen.host.includes(':') ? `[${c.listen.host}]` : c.listen.host;
  const url = `https://${host}:${port}`;

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, SHUTDOWN_GRACE_MS);
          idle = () => { clearTimeout(t); resolve(); };
        });
      }
      // Answers given while closing carry Connection: close; let them flush before cutting what is left.
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_FLUSH_MS).unref())]);
      server.closeAllConnections();
      await stopped;
      if (ownStore) await store.close();
    })());

  return { url, port, store, server, stats, metrics, close };
}

const noop = (): void => {};

/**
 * Smallest output chunk a gzip body is inflated in: zlib's default (Z_DEFAULT_CHUNK,
 * 16 KiB). A trailer announcing less (the last member of several, or a forged one) must
 * not set it lower: 64 MiB inflated 64 bytes at a time took ~1.7 s and ~130 MB of heap
 * (a million slices) against ~0.4 s in 16 KiB chunks.
 */
export const GUNZIP_MIN_CHUNK_BYTES = zlibConstants.Z_DEFAULT_CHUNK;
/** Deflate's largest compression ratio (1032:1, zlib's technical details): a trailer announcing more is not believed. */
export const DEFLATE_MAX_RATIO = 1032;

/**
 * Output chunk size for inflating a gzip body: the size its trailer announces (ISIZE,
 * the last 4 bytes, RFC 1952 2.3.1), capped at `max` and at DEFLATE_MAX_RATIO times the
 * body (a forged trailer gets no `max`-sized buffer for a few bytes), and never below
 * GUNZIP_MIN_CHUNK_BYTES. Inflated into one buffer of that size, the body is that buffer:
 * zlib's default 16 KiB chunks were copied into one at the end (Buffer.concat: ~300 ms
 * per 200,000 events in bench/ingest's profile), and a buffer of its own moves to the
 * SQLite writer without a copy. Only a hint: a wrong or multi-member ISIZE costs chunks
 * and a copy, never a wrong result, and the output cap still applies.
 */
export function gunzipChunkBytes(raw: Buffer, max: number): number {
  const announced = raw.length < 4 ? 0 : raw.readUInt32LE(raw.length - 4);
  return Math.max(GUNZIP_MIN_CHUNK_BYTES, Math.min(announced, max, raw.length * DEFLATE_MAX_RATIO));
}

/**
 * Gives a decoded batch to the store and keeps only what the answer needs. The
 * decoded lines (~1 MB per batch) are then referenced by nothing in the request
 * handler while the commit runs, so they die young instead of being promoted to
 * the old generation with every batch in flight (measured: ~2 µs of GC per event).
 * `t0` is taken before the call: a store may commit inside it (SqliteStore and
 * OutboxStore do, synchronously) and that time is the commit's.
 */
function handOver(store: EventStore, batch: DecodedBatch | BatchTooLarge): { stored: Promise<InsertResult>; t0: number; dead: { reasons: string[]; first: string | null } } | BatchTooLarge {
  if ('tooLarge' in batch) return batch;
  const first = batch.deadLetters[0];
  const t0 = performance.now();
  let stored: Promise<InsertResult>;
  try {
    stored = store.insertBatch(batch.events, batch.deadLetters, batch.bytes);
  } catch (e) {
    stored = Promise.reject(e as Error); // a store that throws instead of rejecting is still a 503
  }
  return {
    stored,
    t0,
    dead: { reasons: batch.deadLetters.map((d) => d.reason), first: first ? `${first.reason} ${first.detail}` : null },
  };
}

/** The request body, at most `max` bytes; 'too_large' as soon as it goes past (the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const done = (v: Buffer | 'too_large' | 'aborted'): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      if (v !== 'aborted') req.on('error', () => {}); // late errors on a refused body are expected
      resolve(v);
    };
    const onData = (chunk: Buffer): void => {
      n += chunk.length;
      if (n > max) {
        req.pause();
        done('too_large');
      } else chunks.push(chunk);
    };
    const onEnd = (): void => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n));
    const onError = (): void => done('aborted');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
