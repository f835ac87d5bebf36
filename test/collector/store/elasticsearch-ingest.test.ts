// The collector's real HTTPS ingest on a loopback port with the Elasticsearch store
// (outbox + official client mock): acks come from the outbox, whether
// Elasticsearch is up or down; a full outbox is a 503 with Retry-After.
import { expect } from 'chai';
import { join } from 'node:path';
import { startCollector, type RunningCollector } from '../../../collector/ingest/server.js';
import { OutboxStore } from '../../../collector/store/outbox.js';
import { AGENT, call, makeEvent, ndjson, tempDirWithCert, testConfig, type TempDir } from '../helpers.js';
import { FakeElasticsearch } from './es-fake.js';

describe('collector ingest (HTTPS) → outbox → Elasticsearch (official client mock)', function () {
  this.timeout(60_000);
  let t: TempDir;
  let c: RunningCollector | null = null;
  let store: OutboxStore | null = null;
  before(async () => { t = await tempDirWithCert(); });
  afterEach(async () => {
    await c?.close();
    await store?.close();
    c = null;
    store = null;
  });
  after(() => t.remove());

  const start = async (fake: FakeElasticsearch, file: string, maxEvents?: number) => {
    store = await OutboxStore.open({ path: join(t.dir, file), es: fake.events(), retryBaseMs: 1, retryMaxMs: 5, idlePollMs: 5, log: () => {}, ...(maxEvents ? { maxEvents } : {}) });
    c = await startCollector(testConfig(t), { store, log: () => {} });
    return (body: string) => call(c!.url, '/api/v1/events', body, { ca: t.cert.certPem });
  };

  it('acks batches while Elasticsearch resets every connection; they are all indexed once it is back, replays included', async () => {
    const fake = new FakeElasticsearch();
    let down = true;
    fake.requestFault = () => (down ? 'reset' : null);
    const post = await start(fake, 'a.sqlite');
    const batch1 = Array.from({ length: 500 }, (_, i) => makeEvent(i));
    const batch2 = Array.from({ length: 500 }, (_, i) => makeEvent(500 + i));
    const r1 = await post(ndjson(batch1));
    expect(r1.status).to.equal(200);
    expect(r1.json).to.deep.equal({ accepted: 500, duplicates: 0, dead_lettered: 0 });
    const r2 = await post(ndjson([...batch2, '{not json']));
    expect(r2.json).to.deep.equal({ accepted: 500, duplicates: 0, dead_lettered: 1 });
    expect(fake.docs.size).to.equal(0);
    down = false;
    await store!.flush(20_000);
    expect(fake.docs.size).to.equal(1000);
    // Replay after it was indexed: accepted by the outbox, a 409 at Elasticsearch, never a second document.
    const r3 = await post(ndjson(batch1));
    expect(r3.status).to.equal(200);
    await store!.flush(20_000);
    expect(fake.docs.size).to.equal(1000);
    expect([...fake.created.values()].every((n) => n === 1)).to.equal(true);
    expect(store!.stats().duplicates).to.equal(500);
    expect(await store!.count()).to.equal(1000);
    expect((await store!.deadLetters()).map((d) => d.reason)).to.deep.equal(['json_invalid']);
    const sent = JSON.parse(JSON.stringify(batch2[499]));
    expect(fake.docs.get(`${AGENT}:999`)).to.deep.equal(sent);
  });

  it('a full outbox answers 503 with Retry-After and stores nothing of the batch', async () => {
    const fake = new FakeElasticsearch();
    fake.requestFault = () => 503;
    const post = await start(fake, 'b.sqlite', 600);
    expect((await post(ndjson(Array.from({ length: 500 }, (_, i) => makeEvent(i))))).status).to.equal(200);
    const r = await post(ndjson(Array.from({ length: 200 }, (_, i) => makeEvent(500 + i))));
    expect(r.status).to.equal(503);
    expect(r.headers['retry-after']).to.match(/^\d+$/);
    expect(store!.stats().pending).to.equal(500);
    fake.requestFault = () => null;
    await store!.flush(20_000);
    expect((await post(ndjson(Array.from({ length: 200 }, (_, i) => makeEvent(500 + i))))).status).to.equal(200);
    await store!.flush(20_000);
    expect(fake.docs.size).to.equal(700);
  });
});
