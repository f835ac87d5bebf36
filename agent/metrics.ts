// The agent's Prometheus metrics: `GET /metrics` over plain HTTP on
// `--metrics-listen HOST:PORT` (bare port: 127.0.0.1), off by default. One private
// prom-client Registry per agent, scraped with the process metrics
// (common/process-metrics.ts). Nothing here runs per packet: every figure is
// read when scraped, from the agent's one Counters namespace (agent/stats.ts), the
// spool's getters and the capture's kernel statistics; only the ship request
// latency is observed as it happens, once per request.
//
// The Counters names map to metric families: dedicated families for packets,
// bytes, kernel drops, observations, events, spool and shipping; pipeline
// counters of normal traffic (TRAFFIC_COUNTERS) become umbra_agent_traffic_total{kind};
// every other named counter (decoder anomalies, evictions, timeouts, spool and
// ship problems) becomes umbra_agent_anomalies_total{reason="<counter name>"}.
// Label values are counter names from fixed code paths and HTTP statuses: bounded.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Histogram, Registry } from 'prom-client';
import { UmbraError } from '../common/errors.js';
import { exposition, promClient } from '../common/process-metrics.js';
import type { Counters } from './stats.js';
import { DEFAULT_METRICS_HOST, type MetricsListen } from './metrics-listen.js';

export { DEFAULT_METRICS_HOST, parseMetricsListen, type MetricsListen } from './metrics-listen.js';

/** Path of the metrics endpoint. */
export const AGENT_METRICS_PATH = '/metrics';
/** Buckets of the ship request latency (seconds): a loopback batch is ms, a collector far away or busy seconds, a timeout 30 s. */
export const SHIP_LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Prefix of the default process metrics (process_resident_memory_bytes → umbra_agent_process_resident_memory_bytes). */
export const AGENT_PROCESS_PREFIX = 'umbra_agent_';
/** A scrape request must arrive within this (ms). */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;
/** Connections to the metrics listener at once (a scraper needs one); more are refused. */
export const METRICS_MAX_CONNECTIONS = 16;
/** How often slow connections are checked against the timeouts (ms); Node's default is 30 s. */
export const METRICS_TIMEOUT_CHECK_MS = 1000;
/** An idle kept-alive scrape connection is closed after this (ms). */
export const METRICS_KEEP_ALIVE_MS = 5000;

/** Pipeline counters of normal traffic (not problems): umbra_agent_traffic_total{kind}. */
export const TRAFFIC_COUNTERS: ReadonlySet<string> = new Set([
  'dns.queries', 'dns.responses',
  'tcp.flows', 'tcp.flows_midstream', 'tcp.flow_expired', 'tcp.server_first', 'tcp.nameless_connections',
  'tls.client_hellos',
  'quic.initial', 'quic.initial_after_hello', 'quic.hello_complete', 'quic.server_initial', 'quic.retry',
  'quic.version_negotiation', 'quic.skipped_handshake', 'quic.skipped_0rtt',
  'udp.other', 'ipv4.other_protocol', 'ipv6.other_protocol', 'link.not_ip',
]);

/** Counters that have a family of their own (anything else of these prefixes is an anomaly). */
const DEDICATED: ReadonlySet<string> = new Set([
  'packets', 'bytes', 'capture.kernel_received', 'capture.kernel_dropped', 'capture.if_dropped', 'agent.events', 'events.matched',
  'spool.appended', 'spool.acked', 'spool.dropped', 'spool.dropped_write_error', 'spool.rejected_too_large',
  'ship.batches_sent', 'ship.batches_acked', 'ship.events_sent', 'ship.events_acked', 'ship.bytes_sent', 'ship.retries', 'ship.network_errors',
  'ship.rejected_too_large', 'ship.collector_accepted', 'ship.collector_duplicates', 'ship.collector_dead_lettered',
]);

const SHIP_HTTP = /^ship\.http_(\d{3})$/;


/** What the agent's metrics read at scrape time. */
export interface AgentMetricsSource {
  counters: Counters;
  /** The spool's figures, once it is open (undefined before). */
  spool(): { bytes: number; segments: number; pending: number; maxBytes: number } | undefined;
  /** Reads the kernel's capture statistics into the counters now (a live capture; nothing for a file). */
  refreshCapture?(): void;
}

/** The agent's metrics (see the file header). */
export class AgentMetrics {
  readonly registry: Registry;
  private snap: Record<string, number> = {};
  private readonly shipSeconds: Histogram;

  constructor(private readonly src: AgentMetricsSource) {
    const { Counter, Gauge, Histogram, Registry } = promClient();
    this.registry = new Registry();
    const registers = [this.registry];
    const at = (name: string): number => (name === 'packets' ? src.counters.packets : name === 'bytes' ? src.counters.bytes : this.snap[name] ?? 0);
    const counter = (name: string, help: string, from: string): void => {
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(at(from)); } });
    };
    /** A family with one label, its series from the snapshot's names. */
    const family = (name: string, help: string, label: string, pick: (counter: string) => string | null, fixed: Record<string, string> = {}): void => {
      const snap = (): Record<string, number> => this.snap;
      new Counter({
        name, help, labelNames: [label], registers,
        collect() {
          this.reset();
          for (const [labelValue, c] of Object.entries(fixed)) this.inc({ [label]: labelValue }, at(c));
          for (const [c, v] of Object.entries(snap())) {
            const l = pick(c);
            if (l !== null) this.inc({ [label]: l }, v);
          }
        },
      });
    };
    const gauge = (name: string, help: string, read: () => number | undefined): void => {
      new Gauge({ name, help, registers, collect() { const v = read(); if (v !== undefined) this.set(v); } });
    };

    counter('umbra_agent_packets_total', 'Packets handed to the decoders (captured past the kernel prefilter, or read from a file).', 'packets');
    counter('umbra_agent_captured_bytes_total', 'Wire length of those packets, bytes.', 'bytes');
    counter('umbra_agent_kernel_received_packets_total', 'Packets the kernel passed the prefilter (pcap stats ps_recv; live capture, read every few seconds and at each scrape).', 'capture.kernel_received');
    family('umbra_agent_capture_dropped_packets_total', 'Packets lost before the agent: where="kernel" (ring full, ps_drop), where="interface" (ps_ifdrop).', 'where', () => null,
      { kernel: 'capture.kernel_dropped', interface: 'capture.if_dropped' });
    family('umbra_agent_observations_total', 'Observations the decoders produced (DNS questions and answers, ClientHellos, QUIC Initials, HTTP requests, connections), by action, matched or not.', 'action',
      (c) => (c.startsWith('events.') && c !== 'events.matched' ? c.slice(7) : null));
    counter('umbra_agent_observations_matched_total', 'Observations that matched the AI catalog.', 'events.matched');
    counter('umbra_agent_events_total', 'Events produced and handed to the spool.', 'agent.events');
    family('umbra_agent_traffic_total', 'Normal traffic the decoders counted (DNS messages, TCP flows, ClientHellos, QUIC Initials, other UDP, ...), by kind (its counter name).', 'kind',
      (c) => (TRAFFIC_COUNTERS.has(c) ? c : null));
    family('umbra_agent_anomalies_total', 'Every other named counter: malformed or truncated input, checksum failures, evictions and timeouts of the flow tables, spool damage, ship problems; reason = the counter name.', 'reason',
      (c) => (TRAFFIC_COUNTERS.has(c) || DEDICATED.has(c) || c.startsWith('events.') || SHIP_HTTP.test(c) ? null : c));

    counter('umbra_agent_spool_appended_events_total', 'Events written to the disk spool.', 'spool.appended');
    counter('umbra_agent_spool_acked_events_total', 'Spooled events the collector acknowledged (deleted from the spool).', 'spool.acked');
    family('umbra_agent_spool_dropped_events_total', 'Events not spooled, by reason: full (the spool bound), write_error (disk), too_large (one event over the frame limit).', 'reason', () => null,
      { full: 'spool.dropped', write_error: 'spool.dropped_write_error', too_large: 'spool.rejected_too_large' });
    gauge('umbra_agent_spool_bytes', 'Bytes in the spool segment files.', () => src.spool()?.bytes);
    gauge('umbra_agent_spool_max_bytes', 'The spool bound, bytes (events are dropped beyond it).', () => src.spool()?.maxBytes);
    gauge('umbra_agent_spool_segments', 'Spool segment files.', () => src.spool()?.segments);
    gauge('umbra_agent_spool_pending_frames', 'Spooled frames (one event each) not yet acknowledged by the collector.', () => src.spool()?.pending);

    counter('umbra_agent_ship_requests_total', 'Batches sent to the collector (POST /api/v1/events), retries included.', 'ship.batches_sent');
    counter('umbra_agent_ship_acked_batches_total', 'Batches the collector acknowledged (200).', 'ship.batches_acked');
    counter('umbra_agent_shipped_events_total', 'Events sent to the collector, retries included.', 'ship.events_sent');
    counter('umbra_agent_acked_events_total', 'Events the collector acknowledged (stored, already stored, or dead-lettered there); they leave the spool.', 'ship.events_acked');
    counter('umbra_agent_shipped_bytes_total', 'Request body bytes sent (gzip, unless the collector refused it).', 'ship.bytes_sent');
    counter('umbra_agent_ship_retries_total', 'Waits before sending again (backoff or Retry-After).', 'ship.retries');
    family('umbra_agent_ship_failures_total', 'Ship requests that failed, by status: the HTTP status, or "network" (connection error, timeout).', 'status',
      (c) => SHIP_HTTP.exec(c)?.[1] ?? null, { network: 'ship.network_errors' });
    counter('umbra_agent_ship_dropped_events_total', 'Events the collector refused as too large even alone (413), dropped from the spool.', 'ship.rejected_too_large');
    family('umbra_agent_collector_events_total', "What the collector's acknowledgements said about the events: result=accepted (stored), duplicate (already stored), dead_lettered.", 'result', () => null,
      { accepted: 'ship.collector_accepted', duplicate: 'ship.collector_duplicates', dead_lettered: 'ship.collector_dead_lettered' });
    this.shipSeconds = new Histogram({ name: 'umbra_agent_ship_request_duration_seconds', help: 'Time from sending a batch to the complete answer of the collector (or the network error).', buckets: SHIP_LATENCY_BUCKETS_S, registers });
  }

  /** One ship request done (for the shipper's onRequest). */
  observeShip(seconds: number): void {
    this.shipSeconds.observe(seconds);
  }

  /** The exposition text: kernel statistics and the counters are read now, once. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    try {
      this.src.refreshCapture?.();
    } catch {
      /* a failing pcap stats call is counted by the capture itself */
    }
    this.snap = this.src.counters.toJSON();
    return exposition(this.registry, AGENT_PROCESS_PREFIX);
  }
}

export interface MetricsServer {
  /** `http://host:port/metrics` actually listened on. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on `listen` and answers `GET /metrics` (plain HTTP: bind it to loopback or a
 * management network). Open it before dropping privileges: a port below 1024 needs root.
 */
export async function startMetricsServer(listen: MetricsListen, metrics: AgentMetrics, option = '--metrics-listen'): Promise<MetricsServer> {
  const server: Server = createServer({ connectionsCheckingInterval: METRICS_TIMEOUT_CHECK_MS }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== AGENT_METRICS_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    metrics.scrape().then(
      ({ contentType, text }) => {
        res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (e: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${(e as Error).message}\n`);
      },
    );
  });
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = METRICS_KEEP_ALIVE_MS;
  server.maxConnections = METRICS_MAX_CONNECTIONS;
  server.on('clientError', (_e, socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    const hint = code === 'EACCES' ? ' (a port below 1024 needs root at start-up)' : code === 'EADDRINUSE' ? ' (port in use)' : code === 'EADDRNOTAVAIL' ? ' (no such local address)' : '';
    throw new UmbraError('UMBRA_E_USAGE', `${option} ${listen.host}:${listen.port}: cannot listen: ${code}${hint}`);
  }
  server.unref(); // the agent's life is its capture and shipper, not this listener
  const port = (server.address() as AddressInfo).port;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}${AGENT_METRICS_PATH}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
