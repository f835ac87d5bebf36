// The Elasticsearch store against a real cluster, when UMBRA_TEST_ELASTICSEARCH_URL
// is set (e.g. http://127.0.0.1:9200 for a local single-node cluster with security
// off, or https://elastic:PASSWORD@127.0.0.1:9200 with UMBRA_TEST_ELASTICSEARCH_CA).
// Everything is installed under a prefix of its own and removed afterwards.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElasticsearchEvents } from '../../../collector/store/elasticsearch.js';
import { ES_REJECTED_REASON, OutboxStore } from '../../../collector/store/outbox.js';
import { storedEvent, type StoredEvent } from '../../../collector/store/store.js';
import type { UmbraEvent } from '../../../agent/event.js';
import { answerQuery } from '../../../collector/api/query.js';
import { AGENT, makeEvent } from '../helpers.js';
import { ALL, BATCH_G1, BATCH_G2, CATEGORIES, FILTER_CASES, G1, G2, SERVICES, short, SOURCES, TIMELINE_1H, TIMELINE_1H_QS } from '../api/query-fixture.js';

const URL_ENV = 'UMBRA_TEST_ELASTICSEARCH_URL';
const url = process.env[URL_ENV];

describe('Elasticsearch store against a real cluster', function () {
  this.timeout(120_000);
  const prefix = `umbra-test-${randomBytes(4).toString('hex')}`;
  let dir: string;
  let es: ElasticsearchEvents;

  before(function () {
    if (!url) {
      console.log(`      (skipped: set ${URL_ENV}=http://127.0.0.1:9200 to run against a real cluster)`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'umbra-es-real-'));
    const ca = process.env.UMBRA_TEST_ELASTICSEARCH_CA;
    es = new ElasticsearchEvents({ node: url!, indexPrefix: prefix, ...(ca ? { caFile: ca } : {}) });
  });
  after(async () => {
    if (!url) return;
    const n = es.names;
    const c = es.client;
    // Test clean-up only (the store itself never deletes anything).
    await c.indices.deleteDataStream({ name: n.dataStream }).catch(() => {});
    await c.indices.deleteIndexTemplate({ name: n.indexTemplate }).catch(() => {});
    await c.cluster.deleteComponentTemplate({ name: n.mappingsTemplate }).catch(() => {});
    await c.cluster.deleteComponentTemplate({ name: n.settingsTemplate }).catch(() => {});
    await c.ilm.deleteLifecycle({ name: n.ilmPolicy }).catch(() => {});
    await es.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stored = (seq: number, service?: string): StoredEvent => {
    const event = makeEvent(seq, service ? { service } : {});
    return storedEvent(event, AGENT, Date.parse(event['@timestamp']));
  };

  it('installs idempotently: the second time everything is unchanged', async () => {
    const first = await es.install();
    expect(first.created).to.have.length(5);
    const second = await es.install();
    expect(second.created).to.deep.equal([]);
    expect(second.updated).to.deep.equal([]);
    const ds = await es.client.indices.getDataStream({ name: es.names.dataStream });
    expect(ds.data_streams[0]!.ilm_policy).to.equal(es.names.ilmPolicy);
    const mapping = await es.client.indices.getMapping({ index: es.names.dataStream });
    const props = Object.values(mapping)[0]!.mappings.properties!;
    expect((props.source as { properties: Record<string, { type: string }> }).properties.ip!.type).to.equal('ip');
  });

  it('1000 events written twice through the outbox: count 1000, query by service; a document the mapping refuses is dead-lettered with the reason', async () => {
    const store = await OutboxStore.open({ path: join(dir, 'outbox.sqlite'), es: new ElasticsearchEvents({ node: url!, indexPrefix: prefix, ...(process.env.UMBRA_TEST_ELASTICSEARCH_CA ? { caFile: process.env.UMBRA_TEST_ELASTICSEARCH_CA } : {}) }), log: () => {} });
    try {
      const batch = Array.from({ length: 1000 }, (_, i) => stored(i, i % 10 === 0 ? 'anthropic-claude' : undefined));
      await store.insertBatch(batch, []);
      await store.flush(60_000);
      await store.insertBatch(batch, []);
      await store.flush(60_000);
      expect(await es.count()).to.equal(1000);
      expect(await store.count()).to.equal(1000);
      expect(store.stats()).to.include({ indexed: 1000, duplicates: 1000 });
      const claude = await store.query({ service: 'anthropic-claude', limit: 1000 });
      expect(claude).to.have.length(100);
      expect(claude[0]!.event.id).to.equal(`${AGENT}:990`);
      // source.ip is mapped ip: a value that is not an address is refused by Elasticsearch itself.
      const bad = stored(5000);
      const json = JSON.stringify({ ...JSON.parse(bad.json), source: { ip: 'not-an-ip', port: 1 } });
      await store.insertBatch([{ ...bad, json }], []);
      await store.flush(60_000);
      const dl = await store.deadLetters(1);
      expect(dl[0]!.reason).to.equal(ES_REJECTED_REASON);
      expect(dl[0]!.detail).to.match(/^400 (document_parsing_exception|mapper_parsing_exception): .*source\.ip/);
      expect(await es.count()).to.equal(1000);
    } finally {
      await store.close();
    }
  });

  it('the query API on Elasticsearch: the hand-made 18 events give the same filters, pages and summaries as on SQLite', async () => {
    const qes = new ElasticsearchEvents({ node: url!, indexPrefix: `${prefix}-q`, ...(process.env.UMBRA_TEST_ELASTICSEARCH_CA ? { caFile: process.env.UMBRA_TEST_ELASTICSEARCH_CA } : {}) });
    const store = await OutboxStore.open({ path: join(dir, 'outbox-q.sqlite'), es: qes, log: () => {} });
    try {
      const toStored = (agentId: string) => (e: unknown): StoredEvent => {
        const event = e as UmbraEvent;
        return storedEvent(event, agentId, Date.parse(event['@timestamp']));
      };
      await store.insertBatch(BATCH_G1.map(toStored(G1)), []);
      await store.insertBatch(BATCH_G2.map(toStored(G2)), []);
      await store.flush(60_000);
      const get = async (path: string, qs = ''): Promise<any> => {
        const a = await answerQuery(path, new URLSearchParams(qs), store);
        expect(a?.status, `${path}?${qs}: ${JSON.stringify(a?.body)}`).to.equal(200);
        return a!.body;
      };
      // Ties at the same millisecond: event.id descending here, which gives the same order as SQLite's storage order for these ids.
      expect((await get('/api/v1/events', 'limit=1000')).events.map((e: any) => short(e.event.id))).to.deep.equal(ALL);
      for (const [qs, want] of FILTER_CASES) expect((await get('/api/v1/events', qs)).events.map((e: any) => short(e.event.id)), qs).to.deep.equal(want);
      const pages: string[] = [];
      let cursor: string | null = null;
      do {
        const j: any = await get('/api/v1/events', `limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        pages.push(...j.events.map((e: any) => short(e.event.id)));
        cursor = j.next_cursor;
      } while (cursor !== null && pages.length < 100);
      expect(pages).to.deep.equal(ALL);
      expect((await get('/api/v1/summary/services')).services).to.deep.equal(SERVICES);
      expect((await get('/api/v1/summary/sources')).sources).to.deep.equal(SOURCES);
      expect((await get('/api/v1/summary/categories')).categories).to.deep.equal(CATEGORIES);
      expect(await get('/api/v1/summary/timeline', TIMELINE_1H_QS)).to.deep.equal(TIMELINE_1H);
    } finally {
      const n = qes.names; // clean-up first: closing the outbox closes the client
      await qes.client.indices.deleteDataStream({ name: n.dataStream }).catch(() => {});
      await qes.client.indices.deleteIndexTemplate({ name: n.indexTemplate }).catch(() => {});
      await qes.client.cluster.deleteComponentTemplate({ name: n.mappingsTemplate }).catch(() => {});
      await qes.client.cluster.deleteComponentTemplate({ name: n.settingsTemplate }).catch(() => {});
      await qes.client.ilm.deleteLifecycle({ name: n.ilmPolicy }).catch(() => {});
      await store.close();
    }
  });
});
