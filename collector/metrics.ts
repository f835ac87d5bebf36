// The collector's Prometheus metrics (`GET /metrics` on its HTTPS listener,
// collector/ingest/server.ts). One private prom-client Registry per collector
// (never the global one: several collectors may run in one process), scraped
// with the process metrics (common/process-metrics.ts). The ingest
// counts what it does per batch (not per event); store-side figures (the
// Elasticsearch outbox) are read when scraped. Names follow Prometheus
// conventions: `umbra_collector_*`, `_total` for counters, units in the name.
// Label values are bounded: agent ids come from the config, statuses and
// dead-letter reasons from fixed code paths.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { exposition } from '../common/process-metrics.js';
import type { OutboxStats } from './store/outbox.js';
import type { EventStore } from './store/store.js';

/** Path of the metrics endpoint. */
export const METRICS_PATH = '/metrics';
/** Buckets of the store commit latency (seconds): a SQLite commit with fsync is ms, an outbox full of work or a slow disk seconds. */
export const STORE_COMMIT_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Prefix of the default process metrics (process_cpu_seconds_total → umbra_collector_process_cpu_seconds_total). */
export const COLLECTOR_PROCESS_PREFIX = 'umbra_collector_';

/** What the Elasticsearch store (the outbox in front of it) reports; read at scrape time. */
export interface OutboxMetricsSource {
  stats(): OutboxStats;
  oldestPendingTimestampMs(): number | null;
}

function isOutbox(store: EventStore): store is EventStore & OutboxMetricsSource {
  const s = store as Partial<OutboxMetricsSource>;
  return typeof s.stats === 'function' && typeof s.oldestPendingTimestampMs === 'function';
}

export interface CollectorMetricsOptions {
  /** Agent ids of the config: their per-agent series exist from the start (0). */
  agents: readonly string[];
  /** Batches being decoded or stored now. */
  inflight: () => number;
  store: EventStore;
}

/** The collector's metrics; the ingest calls the `on*` methods, once per request. */
export class CollectorMetrics {
  readonly registry = new Registry();
  private readonly batches: Counter;
  private readonly accepted: Counter;
  private readonly duplicates: Counter;
  private readonly deadLetters: Counter<'reason'>;
  private readonly refusedByStatus: Counter<'status'>;
  private readonly storeFailures: Counter;
  private readonly receivedBytes: Counter;
  private readonly commitSeconds: Histogram;
  private readonly agentAccepted: Counter<'agent'>;
  private readonly agentLastSeen: Gauge<'agent'>;

  constructor(opts: CollectorMetricsOptions) {
    const registers = [this.registry];
    this.batches = new Counter({ name: 'umbra_collector_batches_total', help: 'Ingest batches stored and acknowledged (200).', registers });
    this.accepted = new Counter({ name: 'umbra_collector_events_accepted_total', help: 'Events newly stored.', registers });
    this.duplicates = new Counter({ name: 'umbra_collector_events_duplicate_total', help: 'Events received again (already stored: a replayed batch), acknowledged, not stored twice.', registers });
    this.deadLetters = new Counter({ name: 'umbra_collector_dead_letters_total', help: 'Lines of acknowledged batches that went to the dead-letter table, by reason.', labelNames: ['reason'], registers });
    this.refusedByStatus = new Counter({ name: 'umbra_collector_requests_refused_total', help: 'Requests answered with an error status (401, 404, 405, 413, 415, 429, 503, ...), by status.', labelNames: ['status'], registers });
    this.storeFailures = new Counter({ name: 'umbra_collector_store_failures_total', help: 'Batches the store failed to commit (answered 503, nothing acknowledged).', registers });
    this.receivedBytes = new Counter({ name: 'umbra_collector_received_bytes_total', help: 'Request body bytes of stored batches, as sent on the wire (compressed).', registers });
    this.commitSeconds = new Histogram({ name: 'umbra_collector_store_commit_duration_seconds', help: 'Time the store took to commit one batch (successful commits).', buckets: STORE_COMMIT_BUCKETS_S, registers });
    this.agentAccepted = new Counter({ name: 'umbra_collector_agent_events_accepted_total', help: 'Events newly stored, by agent.', labelNames: ['agent'], registers });
    this.agentLastSeen = new Gauge({ name: 'umbra_collector_agent_last_seen_timestamp_seconds', help: 'When the agent last had a batch stored (Unix time).', labelNames: ['agent'], registers });
    for (const a of opts.agents) this.agentAccepted.inc({ agent: a }, 0);
    new Gauge({
      name: 'umbra_collector_inflight_batches', help: 'Batches being received, decoded or stored now.', registers,
      collect() { this.set(opts.inflight()); },
    });
    if (isOutbox(opts.store)) registerOutbox(opts.store, registers);
  }

  /** A batch committed and acknowledged. */
  onBatch(agent: string, accepted: number, duplicates: number, deadLetterReasons: readonly string[], bodyBytes: number, commitSeconds: number): void {
    this.batches.inc();
    this.accepted.inc(accepted);
    this.duplicates.inc(duplicates);
    for (const r of deadLetterReasons) this.deadLetters.inc({ reason: r });
    this.receivedBytes.inc(bodyBytes);
    this.commitSeconds.observe(commitSeconds);
    this.agentAccepted.inc({ agent }, accepted);
    this.agentLastSeen.set({ agent }, Date.now() / 1000);
  }

  onRefused(status: number): void {
    this.refusedByStatus.inc({ status: String(status) });
  }

  onStoreFailure(): void {
    this.storeFailures.inc();
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return exposition(this.registry, COLLECTOR_PROCESS_PREFIX);
  }
}

/** Gauges and counters of the Elasticsearch outbox, read from its stats when scraped. */
function registerOutbox(store: OutboxMetricsSource, registers: Registry[]): void {
  // stats() is a copy of a few numbers: each metric takes its own when scraped.
  const gauge = (name: string, help: string, read: (s: OutboxStats) => number): void => {
    new Gauge({ name, help, registers, collect() { this.set(read(store.stats())); } });
  };
  const counter = (name: string, help: string, read: (s: OutboxStats) => number): void => {
    new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(store.stats())); } });
  };
  gauge('umbra_collector_outbox_pending_events', 'Events in the durable outbox waiting for Elasticsearch.', (s) => s.pending);
  gauge('umbra_collector_outbox_pending_bytes', 'Size of the JSON of the events waiting in the outbox (characters; bytes for ASCII).', (s) => s.pendingBytes);
  new Gauge({
    name: 'umbra_collector_outbox_oldest_event_age_seconds',
    help: 'Age (now minus its @timestamp) of the event waiting longest in the outbox; 0 when the outbox is empty. How far Elasticsearch lags behind capture.',
    registers,
    collect() {
      const ms = store.oldestPendingTimestampMs();
      this.set(ms === null ? 0 : Math.max(0, Date.now() - ms) / 1000);
    },
  });
  gauge('umbra_collector_elasticsearch_installed', '1 once the ILM policy, templates and data stream are installed (or left to the operator).', (s) => (s.installed ? 1 : 0));
  counter('umbra_collector_elasticsearch_indexed_events_total', 'Events Elasticsearch created (since start).', (s) => s.indexed);
  counter('umbra_collector_elasticsearch_duplicate_events_total', 'Events Elasticsearch already had (409; a replay), removed from the outbox.', (s) => s.duplicates);
  counter('umbra_collector_elasticsearch_rejected_events_total', 'Events Elasticsearch refused (4xx), dead-lettered with reason es_rejected.', (s) => s.deadLettered);
  counter('umbra_collector_elasticsearch_retried_items_total', 'Bulk items answered 429/5xx and sent again.', (s) => s.retriedItems);
  counter('umbra_collector_elasticsearch_bulk_requests_total', 'Bulk requests sent.', (s) => s.bulkRequests);
  counter('umbra_collector_elasticsearch_failed_requests_total', 'Bulk requests that failed as a whole (network, timeout, 5xx) and were retried.', (s) => s.failedRequests);
}
