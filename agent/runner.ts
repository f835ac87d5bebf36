// The agent as one running thing: a packet source → Pipeline → Spool → Shipper.
// `umbra agent` (live capture) and `umbra demo` (a capture file replayed as if
// live) both start it here.
//
// API
//   const agent = await runAgent({
//     source: { kind: 'live', interfaces: ['eth1'], filter?: DEFAULT_BPF_FILTER }
//           | { kind: 'files', paths: ['x.pcapng'], paced?: false, speed?: 1 },
//     matcher,                                  // loadCatalog(...).matcher
//     observer: { id: 'gw-1', name?: 'Gateway 1' },
//     spool: { dir, maxBytes?, fsync?, ... },   // SpoolOptions without agentId/counters
//     shipper: { url, token, ca? | insecure?, ... },  // ShipperOptions without spool/counters
//     privileges?: { user?: 'nobody', allowRoot?, keepRoot? },  // live agent only
//     statsIntervalMs?: 60_000, handleSignals?: false, onEvent?, log?,
//     metrics?: { listen: { host: '127.0.0.1', port: 9464 } },  // GET /metrics (agent/metrics.ts)
//   });
//   agent.counters          // one Counters for pipeline, capture, spool and shipper
//   await agent.done        // AgentSummary, once stopped (signal, stop(), or a file source's end)
//   await agent.stop()      // graceful stop; same summary
//
// Order of start-up: catalog and secrets are the caller's (read before; a token
// file may be readable by root only) → open the source (live capture needs root)
// → metrics listener, if asked (a port below 1024 needs root) → spool directory given to the unprivileged user → privileges dropped
// (privileges.ts) → spool opened → shipper started → packets flow.
//
// Events are appended to the spool in batches (one write(2) per batch): when
// FLUSH_EVENTS are waiting, and otherwise once the packets at hand are done (a
// microtask queued by the batch's first event runs after the capture callback or
// the file chunk that made it), at the latest after flushIntervalMs. Events so
// rarely live through a young-generation scavenge (see FLUSH_EVENTS). A file source
// delivers as fast as it can be read unless `paced` (packet timestamps followed,
// divided by `speed`); at its end the tables are flushed (pipeline.finish()) and,
// unless stopOnSourceEnd is false, the agent stops: `done` resolves after the
// shipper delivered everything or stopTimeoutMs passed (summary.delivered says).
//
// Graceful stop (stop(), SIGTERM/SIGINT with handleSignals): stop the source
// (reading what the kernel rings still hold), pipeline.finish(), append the
// last events, fsync the spool, shipper.stop(stopTimeoutMs) (what is not
// acknowledged stays in the spool for the next start), close the spool.
//
// Counters (one namespace): pipeline (`packets`, `events.*`, decoder counters),
// `capture.kernel_received`/`capture.kernel_dropped`/`capture.if_dropped` (live),
// `agent.events` (handed to the spool), `spool.*`, `ship.*`. A stats line every
// statsIntervalMs (0: none) goes to log('info', ...).
import type { Matcher } from '../signatures/matcher.js';
import type { UmbraEvent } from './event.js';
import type { CapturedPacket } from './packet.js';
import { Counters } from './stats.js';
import { Pipeline } from './pipeline.js';
import { CaptureFileReader } from './capture/reader.js';
import { ADV_END, ADV_PACKET } from './capture/pcap-classic.js';
import { LiveCapture, type LiveCaptureOptions } from './capture/live.js';
import { DEFAULT_BPF_FILTER } from './capture/bpf.js';
import { Spool, SpoolError, type SpoolOptions } from './ship/spool.js';
import { UmbraError } from '../common/errors.js';
import { DEFAULT_STOP_TIMEOUT_MS, Shipper, type LogLevel, type ShipperOptions } from './ship/shipper.js';
import { AgentMetrics, startMetricsServer, type MetricsServer } from './metrics.js';
import type { MetricsListen } from './metrics-listen.js';
import { assertNotRootUnlessAllowed, dropPrivileges, lookupUser, prepareOwnedDir, isRoot, type DropResult, type PrivilegeOptions } from './privileges.js';

/**
 * Events waiting in memory before they are appended to the spool at once. Small: events
 * still waiting when V8 scavenges survive it, and once most of an allocation site's objects
 * survive one, V8 allocates them in old space from then on (pretenuring). With 256 that
 * happened to the events on a gateway capture (umbra agent replaying bench/live's prefiltered
 * capture: 42 MB promoted to old space instead of 24, peak RSS 150-185 MB instead of
 * 115-120 MB); 32 events still make one write(2) for ~25 KB of JSON.
 */
export const FLUSH_EVENTS = 32;
/** Longest time an event waits in memory before it is appended (ms); normally it waits only
 * until the current capture callback returns (see the header). */
export const FLUSH_INTERVAL_MS = 100;
/** Default period of the stats line (ms). */
export const DEFAULT_STATS_INTERVAL_MS = 60_000;
/** Kernel statistics are read at least this often (ms), for the counters. */
export const KERNEL_STATS_INTERVAL_MS = 5_000;
/** A paced replay sleeps only when it is ahead by at least this much (ms). */
export const PACE_MIN_SLEEP_MS = 2;

export type LiveSource = { kind: 'live' } & Omit<LiveCaptureOptions, 'filter' | 'onWarning'> & {
  /** BPF filter (default DEFAULT_BPF_FILTER; '' = everything). */
  filter?: string;
};
export interface FileSource {
  kind: 'files';
  /** pcap/pcapng files, merged in timestamp order. */
  paths: string[];
  /** Follow the packets' timestamps (default false: as fast as possible). */
  paced?: boolean;
  /** With paced: replay this many times faster than captured (default 1). */
  speed?: number;
}
export type AgentSource = LiveSource | FileSource;

export interface AgentOptions {
  source: AgentSource;
  matcher: Matcher;
  /** observer.id (also the spool's agent id and event id prefix) and observer.name. */
  observer: { id: string; name?: string };
  spool: Omit<SpoolOptions, 'agentId' | 'counters'>;
  shipper: Omit<ShipperOptions, 'spool' | 'counters' | 'log'>;
  /** Also ship observations that match no catalog entry (`--all`). */
  all?: boolean;
  /** Drop root after opening the source (see privileges.ts). Absent: ids are left alone. */
  privileges?: PrivilegeOptions;
  flushEvents?: number;
  flushIntervalMs?: number;
  /** Period of the stats line; 0 = none (default DEFAULT_STATS_INTERVAL_MS). */
  statsIntervalMs?: number;
  /** Time the final flush to the collector may take on stop (default DEFAULT_STOP_TIMEOUT_MS). */
  stopTimeoutMs?: number;
  /** File source: stop when it ends (default true). */
  stopOnSourceEnd?: boolean;
  /** Stop gracefully on SIGTERM and SIGINT (default false; `umbra agent` sets it). */
  handleSignals?: boolean;
  /** Sees every event before it is spooled (e.g. a summary); must not keep or change it. */
  onEvent?: (e: UmbraEvent) => void;
  /** Default: `umbra agent: <level>: message` on stderr. */
  log?: (level: LogLevel, message: string) => void;
  /** Serve Prometheus metrics on plain HTTP (agent/metrics.ts); `option` names the setting in errors (default --metrics-listen). */
  metrics?: { listen: MetricsListen; option?: string };
}

export type StopReason = 'source-end' | 'signal' | 'stop' | 'error';

export interface AgentSummary {
  reason: StopReason;
  /** Every spooled event was acknowledged by the collector when the agent stopped. */
  delivered: boolean;
  /** Unacknowledged events left in the spool (shipped at the next start). */
  pending: number;
  elapsedSec: number;
  counters: Record<string, number>;
  /** Set when reason is 'error'. */
  error?: Error;
}

export interface RunningAgent {
  readonly counters: Counters;
  /** What the privilege drop did (null without `privileges`). */
  readonly privileges: DropResult | null;
  /** `http://host:port/metrics` while the agent runs (null without `metrics`); closed when it stops. */
  readonly metricsUrl: string | null;
  /** Resolves once the agent has stopped (never rejects: errors are in the summary). */
  readonly done: Promise<AgentSummary>;
  /** Graceful stop (idempotent). */
  stop(reason?: StopReason): Promise<AgentSummary>;
  /** The periodic stats line, now. */
  statsLine(): string;
}

interface SourceHandle {
  start(onPacket: (p: CapturedPacket) => void): Promise<void>;
  stop(): void;
  stats(): void;
}

function liveSource(src: LiveSource, counters: Counters, log: (l: LogLevel, m: string) => void): SourceHandle {
  const lc = LiveCapture.open({ ...src, filter: src.filter ?? DEFAULT_BPF_FILTER, onWarning: (m) => log('warn', m) }, counters);
  return {
    start: (onPacket) => {
      lc.start(onPacket);
      return new Promise<void>(() => {}); // a live capture ends only by stop()
    },
    stop: () => lc.close(),
    stats: () => lc.stats(),
  };
}

async function fileSource(src: FileSource, counters: Counters): Promise<SourceHandle> {
  const readers: CaptureFileReader[] = [];
  try {
    for (const p of src.paths) readers.push(await CaptureFileReader.open(p, counters));
  } catch (e) {
    for (const r of readers) r.close();
    throw e;
  }
  let stopped = false;
  let started = false;
  const speed = src.speed ?? 1;
  const close = (): void => {
    for (const r of readers) r.close();
    readers.length = 0;
  };
  return {
    async start(onPacket) {
      started = true;
      try {
        // k-way merge by linear scan (a handful of files); each reader holds its current packet
        const live: CaptureFileReader[] = [];
        for (const r of readers) if (await r.advance()) live.push(r);
        let t0 = -1;
        let wall0 = 0;
        while (live.length > 0 && !stopped) {
          let k = 0;
          for (let i = 1; i < live.length; i++) {
            const a = live[i]!.packet;
            const b = live[k]!.packet;
            if (a.tsSec < b.tsSec || (a.tsSec === b.tsSec && a.tsNsec < b.tsNsec)) k = i;
          }
          const r = live[k]!;
          const p = r.packet;
          if (src.paced) {
            const t = p.tsSec * 1000 + p.tsNsec / 1e6;
            if (t0 < 0) {
              t0 = t;
              wall0 = performance.now();
            }
            const ahead = (t - t0) / speed - (performance.now() - wall0);
            if (ahead >= PACE_MIN_SLEEP_MS) {
              // p may point into a buffer the reader refills: only the reader's own I/O does that,
              // and none happens while we sleep
              await new Promise((res) => setTimeout(res, ahead));
              if (stopped) break;
            }
          }
          onPacket(p);
          let s = r.next();
          while (s !== ADV_PACKET && s !== ADV_END) {
            await r.more();
            s = r.next();
          }
          if (s === ADV_END) live.splice(k, 1);
        }
      } finally {
        close();
      }
    },
    stop() {
      stopped = true;
      if (!started) close(); // a start-up that failed after the files were opened
    },
    stats() {},
  };
}

const defaultLog = (level: LogLevel, message: string): void => {
  process.stderr.write(`${new Date().toISOString()} umbra agent: ${level}: ${message}\n`);
};

/** Starts the agent (see the file header). Throws UmbraError/SpoolError when it cannot start; nothing is left open then. */
export async function runAgent(opts: AgentOptions): Promise<RunningAgent> {
  const log = opts.log ?? defaultLog;
  const counters = new Counters();
  const started = performance.now();
  const flushEvents = opts.flushEvents ?? FLUSH_EVENTS;
  const flushIntervalMs = opts.flushIntervalMs ?? FLUSH_INTERVAL_MS;

  // 1. source (as root for a live capture)
  const source = opts.source.kind === 'live' ? liveSource(opts.source, counters, log) : await fileSource(opts.source, counters);

  // 1b. metrics listener, still privileged (figures are read when scraped: nothing per packet)
  let spool: Spool | undefined;
  const metrics = opts.metrics
    ? new AgentMetrics({
      counters,
      spool: () => (spool ? { bytes: spool.bytes, segments: spool.segmentCount, pending: spool.pending, maxBytes: spool.maxBytes } : undefined),
      refreshCapture: () => source.stats(),
    })
    : null;
  let metricsServer: MetricsServer | null = null;
  if (metrics) {
    try {
      metricsServer = await startMetricsServer(opts.metrics!.listen, metrics, opts.metrics!.option);
    } catch (e) {
      source.stop();
      throw e;
    }
  }

  // 2. privileges, then the spool as the unprivileged user
  let dropped: DropResult | null = null;
  try {
    if (opts.privileges) {
      const p = opts.privileges;
      if (isRoot() && !p.keepRoot) {
        const ids = lookupUser(p.user ?? 'nobody');
        prepareOwnedDir(opts.spool.dir, ids);
        dropped = dropPrivileges(p, ids);
      } else {
        dropped = dropPrivileges(p);
      }
      assertNotRootUnlessAllowed(p);
    }
    try {
      spool = Spool.open({ ...opts.spool, agentId: opts.observer.id, counters });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new UmbraError('UMBRA_E_USAGE', `spool ${opts.spool.dir}: ${code} as uid ${process.geteuid?.()}: the directory must be writable by the agent's user and its parent directories searchable`);
      }
      if (e instanceof SpoolError) throw new UmbraError('UMBRA_E_USAGE', `spool ${e.message}`);
      throw e;
    }
  } catch (e) {
    source.stop();
    await metricsServer?.close();
    throw e;
  }
  const onRequest = opts.shipper.onRequest;
  const shipper = new Shipper({
    ...opts.shipper, spool, counters, log,
    ...(metrics ? { onRequest: (sec: number, status: number | null) => { metrics.observeShip(sec); onRequest?.(sec, status); } } : {}),
  });

  // 3. pipeline with batched spooling
  const batch: UmbraEvent[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    counters.inc('agent.events', batch.length);
    spool.appendMany(batch);
    batch.length = 0;
  };
  const onEvent = opts.onEvent;
  const pipeline = new Pipeline({
    matcher: opts.matcher,
    all: opts.all,
    observer: opts.observer.name ? { name: opts.observer.name, id: opts.observer.id } : { id: opts.observer.id },
    counters,
    onEvent: (e) => {
      onEvent?.(e);
      if (batch.push(e) === 1) queueMicrotask(flush);
      if (batch.length >= flushEvents) flush();
    },
    onWarning: (m) => log('warn', m),
  });

  let finished = false;
  /** End of input: the tables' leftovers become events (once). */
  const finish = (): void => {
    if (finished) return;
    finished = true;
    pipeline.finish();
  };

  let lastLine = { t: started, packets: 0 };
  const statsLine = (): string => {
    const c = counters;
    const now = performance.now();
    const secs = Math.max((now - lastLine.t) / 1000, 1e-3);
    const rate = (c.packets - lastLine.packets) / secs;
    lastLine = { t: now, packets: c.packets };
    return [
      `packets=${c.packets}`, `rate=${rate.toFixed(0)}/s`,
      `kernel_dropped=${c.get('capture.kernel_dropped')}`, `if_dropped=${c.get('capture.if_dropped')}`,
      `events=${c.get('agent.events')}`, `matched=${c.get('events.matched')}`,
      `spooled=${c.get('spool.appended')}`, `spool_dropped=${c.get('spool.dropped') + c.get('spool.dropped_write_error') + c.get('spool.rejected_too_large')}`,
      `acked=${c.get('ship.events_acked')}`, `pending=${spool.pending}`, `spool_bytes=${spool.bytes}`,
      `rss_mb=${(process.memoryUsage.rss() / 1048576).toFixed(0)}`,
      ...(shipper.lastError ? [`ship_error="${shipper.lastError}"`] : []),
    ].join(' ');
  };

  const flushTimer = setInterval(flush, flushIntervalMs);
  const kernelTimer = setInterval(() => source.stats(), KERNEL_STATS_INTERVAL_MS);
  kernelTimer.unref();
  const statsMs = opts.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
  const statsTimer = statsMs > 0 ? setInterval(() => {
    source.stats();
    log('info', statsLine());
  }, statsMs) : undefined;
  statsTimer?.unref();

  let resolveDone!: (s: AgentSummary) => void;
  const done = new Promise<AgentSummary>((r) => (resolveDone = r));
  let stopping: Promise<AgentSummary> | undefined;

  const onSignal = (sig: NodeJS.Signals): void => {
    log('info', `${sig}: stopping`);
    void stop('signal');
  };
  if (opts.handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  const stop = (reason: StopReason = 'stop', error?: Error): Promise<AgentSummary> => {
    if (stopping) return stopping;
    stopping = (async () => {
      if (opts.handleSignals) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
      try {
        source.stop();
      } catch (e) {
        log('error', `closing the capture: ${(e as Error).message}`);
      }
      finish();
      clearInterval(flushTimer);
      clearInterval(kernelTimer);
      if (statsTimer) clearInterval(statsTimer);
      let delivered = false;
      try {
        flush();
        spool.sync();
        delivered = await shipper.stop(opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
      } catch (e) {
        log('error', `final flush: ${(e as Error).message}`);
        error ??= e as Error;
      }
      const pending = spool.pending;
      spool.close();
      await metricsServer?.close();
      const summary: AgentSummary = { reason, delivered, pending, elapsedSec: (performance.now() - started) / 1000, counters: counters.toJSON() };
      if (error) summary.error = error;
      log('info', `stopped (${reason}): ${statsLine()}`);
      resolveDone(summary);
      return summary;
    })();
    return stopping;
  };

  // 4. go
  shipper.start();
  const stopOnEnd = opts.stopOnSourceEnd ?? true;
  source.start((p) => pipeline.onPacket(p)).then(
    () => {
      if (stopping) return;
      finish();
      flush();
      if (stopOnEnd) void stop('source-end');
    },
    (e: unknown) => {
      log('error', `capture source failed: ${(e as Error).message}`);
      void stop('error', e as Error);
    },
  );
  return { counters, privileges: dropped, metricsUrl: metricsServer?.url ?? null, done, stop: (r) => stop(r), statsLine };
}
