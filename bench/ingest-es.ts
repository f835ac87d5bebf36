// The collector's Elasticsearch path, bulk side only: events/s committed into the
// durable outbox (what an ingest ack waits for), then drained from the outbox
// into Elasticsearch through the real client (bulk request building, the
// client's serialisation and transport, item handling, row deletion), and both
// at once. "Elasticsearch" is a Connection answering at once, so the figures are
// Umbra's cost, not a cluster's:
//   - `lean`: a counting connection that reads the body and answers as ES does
//     with filter_path (statuses only; --dup-every N makes every Nth item a 409,
//     so that the item-by-item path runs);
//   - `official`: @elastic/elasticsearch-mock (it also parses every NDJSON line
//     of each request into objects, which a real cluster does too, on its side).
// Prints figures, never passes or fails.
//   npx tsx bench/ingest-es.ts [--events N] [--batch N] [--mock lean|official] [--dup-every N] [--synchronous full|normal]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import type * as EsClient from '@elastic/elasticsearch';
// the CommonJS build, as collector/store/elasticsearch.ts loads it (one copy of the error classes)
const { BaseConnection, errors } = createRequire(import.meta.url)('@elastic/elasticsearch') as typeof EsClient;
import MockModule from '@elastic/elasticsearch-mock';
import type { UmbraEvent } from '../agent/event.js';
import { ElasticsearchEvents } from '../collector/store/elasticsearch.js';
import { OutboxStore } from '../collector/store/outbox.js';
import { storedEvent, type StoredEvent } from '../collector/store/store.js';

const Mock = MockModule as unknown as typeof MockModule.default;
const AGENT = 'bench-gw-1';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '1000' },
    mock: { type: 'string', default: 'lean' },
    'dup-every': { type: 'string', default: '0' },
    synchronous: { type: 'string', default: 'full' },
  },
});
const N = Number(args.events);
const BATCH = Number(args.batch);
const DUP_EVERY = Number(args['dup-every']);
const SYNC = args.synchronous === 'normal' ? 'normal' : 'full';

const SERVICES = [
  ['openai-chatgpt', 'ChatGPT', 'OpenAI', 'chatgpt.com'],
  ['anthropic-claude', 'Claude', 'Anthropic', 'claude.ai'],
  ['google-gemini', 'Gemini', 'Google', 'gemini.google.com'],
] as const;

/** An event as the agent ships it (~750 bytes of JSON), with its line as received. */
function stored(seq: number): StoredEvent {
  const [id, name, vendor, domain] = SERVICES[seq % SERVICES.length]!;
  const k = (Math.imul(seq, 2654435761) >>> 0) % 5000;
  const event: UmbraEvent = {
    '@timestamp': new Date(Date.UTC(2026, 10, 25, 9) + seq * 7).toISOString().replace('Z', '417Z'),
    event: { kind: 'event', category: ['network'], type: ['protocol'], action: 'tls-client-hello', dataset: 'umbra.tls', id: `${AGENT}:${seq}` },
    source: { ip: `10.20.${(k >> 8) & 255}.${k & 255}`, port: 32768 + (seq % 28000) },
    destination: { ip: '104.18.32.47', port: 443, domain },
    network: { transport: 'tcp', protocol: 'tls', type: 'ipv4' },
    tls: { client: { server_name: domain, ja4: 't13d1516h2_8daaf6152771_02713d6af862', supported_versions: ['1.3', '1.2'] }, next_protocol: 'h2' },
    observer: { id: AGENT, name: AGENT, hostname: 'gw1.example.org' },
    umbra: { service: { id, name, vendor, category: 'chat-assistant' }, match: { rule: domain, via: 'sni', kind: 'web' }, tls: { alpn: ['h2', 'http/1.1'] } },
  };
  return storedEvent(event, AGENT, Date.parse(event['@timestamp']));
}

let bulkDocs = 0;
let bulkBytes = 0;
let bulkRequests = 0;

/** Answers like Elasticsearch with filter_path=errors,items.*.status,...: counts documents, 201 (or 409 for every dup-every-th). */
class LeanConnection extends BaseConnection {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the transport's overloads (stream or not); this one never streams
  override async request(params: { method: string; path: string; body?: string | Buffer | null }): Promise<any> {
    const headers = { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' };
    if (!params.path.endsWith('/_bulk')) {
      // install: everything absent (404 on GET), acknowledged on PUT; refresh/count trivial.
      if (params.method === 'GET') return { body: '{"error":{"type":"resource_not_found_exception"},"status":404}', statusCode: 404, headers };
      if (params.path.endsWith('/_count')) return { body: `{"count":${bulkDocs}}`, statusCode: 200, headers };
      return { body: '{"acknowledged":true}', statusCode: 200, headers };
    }
    const body = typeof params.body === 'string' ? params.body : params.body ? params.body.toString('utf8') : '';
    bulkRequests++;
    bulkBytes += Buffer.byteLength(body);
    let lines = 0;
    for (let i = body.indexOf('\n'); i !== -1; i = body.indexOf('\n', i + 1)) lines++;
    const docs = lines >> 1;
    const first = bulkDocs;
    bulkDocs += docs;
    if (DUP_EVERY <= 0) return { body: '{"errors":false}', statusCode: 200, headers };
    const items: string[] = new Array(docs);
    for (let i = 0; i < docs; i++) items[i] = (first + i) % DUP_EVERY === 0 ? '{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"document already exists"}}}' : '{"create":{"status":201}}';
    return { body: `{"errors":true,"items":[${items.join(',')}]}`, statusCode: 200, headers };
  }
  override async close(): Promise<void> {}
}

function officialConnection(): unknown {
  const mock = new Mock();
  // Nothing installed yet: every GET is a 404, every PUT acknowledged.
  const installPaths = ['/_ilm/policy/:name', '/_component_template/:name', '/_index_template/:name', '/_data_stream/:name'];
  mock.add({ method: 'GET', path: installPaths }, () => new errors.ResponseError({ body: { error: { type: 'resource_not_found_exception' }, status: 404 }, statusCode: 404, headers: {}, warnings: null, meta: {} as never }) as never);
  mock.add({ method: 'PUT', path: installPaths }, () => ({ acknowledged: true }));
  mock.add({ method: 'POST', path: '/:index/_refresh' }, () => ({ _shards: { total: 1, successful: 1, failed: 0 } }));
  mock.add({ method: ['PUT', 'POST'], path: '/:index/_bulk' }, (p) => {
    const body = p.body as unknown as unknown[];
    bulkRequests++;
    const docs = body.length >> 1;
    bulkDocs += docs;
    return { errors: false, items: [] };
  });
  mock.add({ method: ['GET', 'POST'], path: '/:index/_count' }, () => ({ count: bulkDocs }));
  const Base = mock.getConnection() as unknown as new (...a: unknown[]) => object;
  return class extends Base { async close(): Promise<void> {} };
}

function es(): ElasticsearchEvents {
  const Connection = args.mock === 'official' ? officialConnection() : LeanConnection;
  return new ElasticsearchEvents({ node: 'http://localhost:9200', indexPrefix: 'bench', clientOptions: { Connection: Connection as never } });
}

const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} events/s`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-es-'));
  try {
    const t0 = performance.now();
    const batches: StoredEvent[][] = [];
    for (let s = 0; s < N; s += BATCH) batches.push(Array.from({ length: Math.min(BATCH, N - s) }, (_, i) => stored(s + i)));
    const avgBytes = batches[0]!.reduce((a, e) => a + e.json!.length, 0) / batches[0]!.length;
    console.log(`bench/ingest-es: ${N.toLocaleString('en-US')} events (~${Math.round(avgBytes)} bytes of JSON each), batches of ${BATCH}, outbox synchronous=${SYNC}, Elasticsearch = ${args.mock} mock${DUP_EVERY > 0 ? `, every ${DUP_EVERY}th item a 409` : ''}; built in ${Math.round(performance.now() - t0)} ms`);

    // 1. The ack path: batches committed into the outbox, nothing draining.
    const path = join(dir, 'outbox.sqlite');
    let store = await OutboxStore.open({ path, es: es(), synchronous: SYNC, drain: false, log: () => {} });
    let t = performance.now();
    for (const b of batches) await store.insertBatch(b, []);
    const insertMs = performance.now() - t;
    console.log(`  outbox commit (the ack path):     ${rate(N, insertMs)}  (${(insertMs / batches.length).toFixed(2)} ms per batch of ${BATCH}; file ${(statSync(path).size / 1048576).toFixed(0)} MiB + WAL)`);

    // 2. Drain: outbox → bulk → item handling → row deletion.
    const rss0 = process.memoryUsage().rss;
    t = performance.now();
    store.startDrainer();
    await store.flush(600_000);
    const drainMs = performance.now() - t;
    const st = store.stats();
    console.log(`  drain outbox → bulk → items:      ${rate(N, drainMs)}  (${bulkRequests} bulk requests, ${(bulkBytes / 1048576).toFixed(0)} MiB of NDJSON${args.mock === 'lean' ? '' : ' (not measured by this mock)'}; indexed ${st.indexed}, duplicates ${st.duplicates}; RSS +${Math.round((process.memoryUsage().rss - rss0) / 1048576)} MiB)`);
    await store.close();

    // 3. Both at once (steady state): ingest commits while the drainer sends.
    rmSync(path, { force: true });
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    bulkDocs = 0;
    store = await OutboxStore.open({ path, es: es(), synchronous: SYNC, log: () => {} });
    await store.flush(10_000); // installed
    t = performance.now();
    for (const b of batches) {
      await store.insertBatch(b, []);
      await new Promise((r) => setImmediate(r)); // let the drainer's I/O in between, as between requests
    }
    const ackMs = performance.now() - t;
    await store.flush(600_000);
    const bothMs = performance.now() - t;
    console.log(`  ingest while draining:            ${rate(N, ackMs)} acknowledged, ${rate(N, bothMs)} through to Elasticsearch`);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
