// The collector's Prometheus /metrics through the real HTTPS server: batches are
// posted as an agent would (good lines, invalid lines, a replay, a wrong token),
// the exposition is scraped over HTTPS and parsed, and every figure must equal
// what the test sent and what the store holds.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseConfig, type UmbraConfig } from '../../collector/config.js';
import { hashToken } from '../../collector/auth/tokens.js';
import { startCollector, type RunningCollector } from '../../collector/ingest/server.js';
import { OutboxStore } from '../../collector/store/outbox.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import type { EventStore } from '../../collector/store/store.js';
import { parseExposition, scrape } from '../helpers/prom-text.js';
import { ROOT } from '../helpers/root.js';
import { ADMIN_TOKEN, AGENT, AGENT_TOKEN, call, makeEvent, ndjson, OTHER_AGENT, OTHER_TOKEN, tempDirWithCert, type TempDir } from './helpers.js';
import { FakeElasticsearch } from './store/es-fake.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef012345678';
let dataDirs = 0;

function config(t: TempDir, metrics: Record<string, unknown> = { tokens: [{ name: 'prometheus', token_sha256: hashToken(METRICS_TOKEN).toString('hex') }] }): UmbraConfig {
  return parseConfig({
    data_dir: join(t.dir, `data-${++dataDirs}`), // a fresh SQLite store per collector
    collector: {
      listen: { host: '127.0.0.1', port: 0 },
      tls: { cert_file: t.cert.certFile, key_file: t.cert.keyFile },
      agents: [
        { id: AGENT, token_sha256: hashToken(AGENT_TOKEN).toString('hex') },
        { id: OTHER_AGENT, token_sha256: hashToken(OTHER_TOKEN).toString('hex') },
      ],
      admin_tokens: [{ name: 'test-admin', token_sha256: hashToken(ADMIN_TOKEN).toString('hex') }],
      metrics,
    },
  }, '(test)');
}

describe('collector /metrics (Prometheus, HTTPS)', function () {
  this.timeout(60_000);
  let t: TempDir;
  let c: RunningCollector | null = null;
  let store: OutboxStore | null = null;
  const metricsOf = async (token = METRICS_TOKEN) => {
    const r = await scrape(`${c!.url}/metrics`, { token, ca: t.cert.certPem });
    expect(r.status, r.text).to.equal(200);
    expect(r.contentType).to.match(/^text\/plain; version=0\.0\.4/);
    return parseExposition(r.text);
  };
  const post = (body: string, token = AGENT_TOKEN, gzip = true) => call(c!.url, '/api/v1/events', body, { ca: t.cert.certPem, token, gzip });

  before(async () => { t = await tempDirWithCert(); });
  afterEach(async () => {
    await c?.close();
    await store?.close();
    c = null;
    store = null;
  });
  after(() => t.remove());

  it('needs a metrics or admin token (401 otherwise, an agent token included)', async () => {
    c = await startCollector(config(t), { log: () => {} });
    for (const token of [undefined, AGENT_TOKEN, 'wrong']) {
      const r = await scrape(`${c.url}/metrics`, { ...(token ? { token } : {}), ca: t.cert.certPem });
      expect(r.status, String(token)).to.equal(401);
      expect(r.text).to.not.match(/umbra_collector/);
    }
    expect((await scrape(`${c.url}/metrics`, { token: ADMIN_TOKEN, ca: t.cert.certPem })).status).to.equal(200);
    const m = await metricsOf();
    // the three refusals just made are counted
    expect(m.get('umbra_collector_requests_refused_total', { status: '401' })).to.equal(3);
    // default process metrics of this registry
    expect(m.get('umbra_collector_process_resident_memory_bytes')).to.be.greaterThan(1e6);
    const post405 = await call(c.url, '/metrics', 'x', { ca: t.cert.certPem, token: METRICS_TOKEN });
    expect(post405.status).to.equal(405);
  });

  it('counts exactly what was posted: accepted, duplicates, dead letters by reason, refusals, per agent', async () => {
    c = await startCollector(config(t, { tokens: [{ name: 'prometheus', token_sha256: hashToken(METRICS_TOKEN).toString('hex') }] }), { log: () => {} });
    const t0 = Date.now() / 1000;
    const sentBytes: number[] = [];
    // 1. ten good events (gzip)
    const a = ndjson(Array.from({ length: 10 }, (_, i) => makeEvent(i)));
    sentBytes.push(gzipSync(Buffer.from(a)).length);
    expect((await post(a)).json).to.deep.equal({ accepted: 10, duplicates: 0, dead_lettered: 0 });
    // 2. five good, two lines that are not JSON, one with another agent's observer.id (identity)
    const b = ndjson([...Array.from({ length: 5 }, (_, i) => makeEvent(10 + i)), '{"not json', 'nope', makeEvent(99, { agent: OTHER_AGENT })]);
    sentBytes.push(Buffer.byteLength(b));
    expect((await post(b, AGENT_TOKEN, false)).json).to.deep.equal({ accepted: 5, duplicates: 0, dead_lettered: 3 });
    // 3. the first batch replayed
    sentBytes.push(gzipSync(Buffer.from(a)).length);
    expect((await post(a)).json).to.deep.equal({ accepted: 0, duplicates: 10, dead_lettered: 0 });
    // 4. a wrong token, and a bad encoding: refused, nothing stored
    expect((await post(ndjson([makeEvent(50)]), 'wrong-token')).status).to.equal(401);
    expect((await call(c.url, '/api/v1/events', 'x', { ca: t.cert.certPem, gzip: false, headers: { 'Content-Encoding': 'br' } })).status).to.equal(415);
    // 5. the other agent, three events
    const d = ndjson(Array.from({ length: 3 }, (_, i) => makeEvent(i, { agent: OTHER_AGENT })));
    sentBytes.push(gzipSync(Buffer.from(d)).length);
    expect((await post(d, OTHER_TOKEN)).json).to.deep.equal({ accepted: 3, duplicates: 0, dead_lettered: 0 });
    const t1 = Date.now() / 1000;

    const m = await metricsOf();
    expect(await c.store.count()).to.equal(18);
    expect(await c.store.countDeadLetters()).to.equal(3);
    expect(m.get('umbra_collector_batches_total')).to.equal(4);
    expect(m.get('umbra_collector_events_accepted_total')).to.equal(18);
    expect(m.get('umbra_collector_events_duplicate_total')).to.equal(10);
    expect(m.all('umbra_collector_dead_letters_total').map((s) => [s.labels.reason, s.value]).sort()).to.deep.equal([['json_invalid', 2], ['observer_mismatch', 1]]);
    expect(m.all('umbra_collector_requests_refused_total').map((s) => [s.labels.status, s.value]).sort()).to.deep.equal([['401', 1], ['415', 1]]);
    expect(m.get('umbra_collector_store_failures_total')).to.equal(0);
    expect(m.get('umbra_collector_received_bytes_total')).to.equal(sentBytes.reduce((x, y) => x + y, 0));
    expect(m.get('umbra_collector_agent_events_accepted_total', { agent: AGENT })).to.equal(15);
    expect(m.get('umbra_collector_agent_events_accepted_total', { agent: OTHER_AGENT })).to.equal(3);
    for (const agent of [AGENT, OTHER_AGENT]) {
      const seen = m.get('umbra_collector_agent_last_seen_timestamp_seconds', { agent })!;
      expect(seen).to.be.within(t0 - 0.001, t1 + 0.001);
    }
    expect(m.get('umbra_collector_store_commit_duration_seconds_count')).to.equal(4);
    expect(m.get('umbra_collector_store_commit_duration_seconds_sum')).to.be.greaterThan(0);
    expect(m.get('umbra_collector_store_commit_duration_seconds_bucket', { le: '+Inf' })).to.equal(4);
    expect(m.types.get('umbra_collector_store_commit_duration_seconds')).to.equal('histogram');
    expect(m.types.get('umbra_collector_events_accepted_total')).to.equal('counter');
    expect(m.get('umbra_collector_inflight_batches')).to.equal(0);
    // the SQLite store has no outbox
    expect(m.get('umbra_collector_outbox_pending_events')).to.equal(undefined);
    // the same figures as the server's own stats
    expect(c.stats).to.deep.include({ batches: 4, accepted: 18, duplicates: 10, deadLettered: 3 });
  });

  it('agents of the config are listed from the start with 0; another collector in the same process has its own registry', async () => {
    c = await startCollector(config(t), { log: () => {} });
    const other = await startCollector(config(t), { store: c.store, log: () => {} });
    try {
      await call(other.url, '/api/v1/events', ndjson([makeEvent(1)]), { ca: t.cert.certPem });
      const m = await metricsOf();
      expect(m.get('umbra_collector_agent_events_accepted_total', { agent: AGENT })).to.equal(0);
      expect(m.get('umbra_collector_agent_events_accepted_total', { agent: OTHER_AGENT })).to.equal(0);
      expect(m.get('umbra_collector_agent_last_seen_timestamp_seconds', { agent: AGENT })).to.equal(undefined);
      expect(m.get('umbra_collector_events_accepted_total')).to.equal(0);
      const r = await scrape(`${other.url}/metrics`, { token: METRICS_TOKEN, ca: t.cert.certPem });
      expect(parseExposition(r.text).get('umbra_collector_events_accepted_total')).to.equal(1);
    } finally {
      await other.close();
    }
  });

  it('a store failure is counted (503) and no batch', async () => {
    const failing = {
      insertBatch: () => Promise.reject(new Error('disk gone')),
      close: () => Promise.resolve(),
    } as unknown as EventStore;
    c = await startCollector(config(t), { store: failing, log: () => {} });
    expect((await post(ndjson([makeEvent(1)]))).status).to.equal(503);
    const m = await metricsOf();
    expect(m.get('umbra_collector_store_failures_total')).to.equal(1);
    expect(m.get('umbra_collector_requests_refused_total', { status: '503' })).to.equal(1);
    expect(m.get('umbra_collector_batches_total')).to.equal(0);
    expect(m.get('umbra_collector_store_commit_duration_seconds_count')).to.equal(0);
  });

  it('the commit duration includes a store that commits inside the insertBatch call (SqliteStore, OutboxStore)', async () => {
    // Both run their transaction synchronously when insertBatch is called and return a settled
    // promise: the time the store took is the time inside that call, measured here around it.
    const inner = SqliteStore.open(join(t.dir, 'sync-commit.sqlite'));
    let insideSeconds = 0;
    const timed = Object.assign(Object.create(inner) as SqliteStore, {
      insertBatch(...args: Parameters<SqliteStore['insertBatch']>) {
        const t0 = performance.now();
        try {
          return inner.insertBatch(...args);
        } finally {
          insideSeconds += (performance.now() - t0) / 1000;
        }
      },
    });
    try {
      c = await startCollector(config(t), { store: timed, log: () => {} });
      for (let b = 0; b < 3; b++) {
        const events = Array.from({ length: 1000 }, (_, i) => makeEvent(b * 1000 + i));
        expect((await post(ndjson(events))).json).to.deep.equal({ accepted: 1000, duplicates: 0, dead_lettered: 0 });
      }
      const m = await metricsOf();
      expect(m.get('umbra_collector_store_commit_duration_seconds_count')).to.equal(3);
      expect(insideSeconds).to.be.greaterThan(0);
      expect(m.get('umbra_collector_store_commit_duration_seconds_sum')).to.be.at.least(insideSeconds);
    } finally {
      await c?.close();
      c = null;
      await inner.close();
    }
  });

  it('collector.metrics.enabled: false → /metrics is 404 for everyone', async () => {
    c = await startCollector(config(t, { enabled: false }), { log: () => {} });
    expect(c.metrics).to.equal(null);
    for (const token of [METRICS_TOKEN, ADMIN_TOKEN]) expect((await scrape(`${c.url}/metrics`, { token, ca: t.cert.certPem })).status).to.equal(404);
  });

  it('Elasticsearch store: outbox depth and oldest event while the cluster is down, indexed once it is back', async () => {
    const fake = new FakeElasticsearch();
    let down = true;
    fake.requestFault = () => (down ? 'reset' : null);
    store = await OutboxStore.open({ path: join(t.dir, 'metrics-outbox.sqlite'), es: fake.events(), retryBaseMs: 1, retryMaxMs: 5, idlePollMs: 5, log: () => {} });
    c = await startCollector(config(t), { store, log: () => {} });
    const events = Array.from({ length: 300 }, (_, i) => makeEvent(i));
    const body = ndjson(events);
    expect((await post(body)).json).to.deep.equal({ accepted: 300, duplicates: 0, dead_lettered: 0 });
    // The drainer's first attempt runs beside the ingest: wait until it has failed at least once.
    const deadline = Date.now() + 10_000;
    while ((await metricsOf()).get('umbra_collector_elasticsearch_failed_requests_total') === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const before = Date.now();
    let m = await metricsOf();
    const after = Date.now();
    expect(m.get('umbra_collector_outbox_pending_events')).to.equal(300);
    expect(m.get('umbra_collector_outbox_pending_bytes')).to.equal(body.length - 300); // the lines without their newlines
    const ts0 = Date.parse(events[0]!['@timestamp']);
    expect(m.get('umbra_collector_outbox_oldest_event_age_seconds')).to.be.within((before - ts0) / 1000, (after - ts0) / 1000);
    expect(m.get('umbra_collector_elasticsearch_indexed_events_total')).to.equal(0);
    expect(m.get('umbra_collector_elasticsearch_failed_requests_total')).to.be.greaterThan(0);
    down = false;
    await store.flush(30_000);
    m = await metricsOf();
    expect(m.get('umbra_collector_outbox_pending_events')).to.equal(0);
    expect(m.get('umbra_collector_outbox_oldest_event_age_seconds')).to.equal(0);
    expect(m.get('umbra_collector_elasticsearch_indexed_events_total')).to.equal(300);
    expect(m.get('umbra_collector_elasticsearch_installed')).to.equal(1);
    // docs/metrics.md lists exactly the families exported (the process metrics aside)
    const exported = [...m.types.keys()].filter((n) => n.startsWith('umbra_collector_') && !/^umbra_collector_(process_|nodejs_)/.test(n)).sort();
    const documented = [...readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8').matchAll(/^\| `(umbra_collector_[a-z_]+)`/gm)].map((x) => x[1]!).sort();
    expect(exported).to.deep.equal(documented);
  });
});
