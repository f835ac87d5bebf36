import { expect } from 'chai';
import { ElasticsearchEvents, ItemResult } from '../../../collector/store/elasticsearch.js';
import { buildMappings, DEFAULT_ILM, DEFAULT_ILM_DELETE_AFTER_DAYS, DEFAULT_ILM_ROLLOVER_MAX_AGE, DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE } from '../../../collector/store/es-template.js';
import { makeEvent } from '../helpers.js';
import { FakeElasticsearch } from './es-fake.js';

const doc = (seq: number, over: Parameters<typeof makeEvent>[1] = {}) => {
  const e = makeEvent(seq, over);
  return { id: e.event.id!, json: JSON.stringify(e) };
};

describe('Elasticsearch store: installation and bulk (official client mock)', () => {
  it('installs ILM policy, component templates, index template and data stream; a second start only reads', async () => {
    const fake = new FakeElasticsearch();
    const es = fake.events();
    const first = await es.install();
    expect(first.created).to.deep.equal([
      'ilm policy umbra-events-policy',
      'component template umbra-events-mappings',
      'component template umbra-events-settings',
      'index template umbra-events',
      'data stream umbra-events',
    ]);
    expect(fake.writes().map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      'PUT /_ilm/policy/umbra-events-policy',
      'PUT /_component_template/umbra-events-mappings',
      'PUT /_component_template/umbra-events-settings',
      'PUT /_index_template/umbra-events',
      'PUT /_data_stream/umbra-events',
    ]);
    // What was installed, as Elasticsearch's API documents these bodies.
    const policy = fake.policies.get('umbra-events-policy') as { phases: Record<string, { min_age: string; actions: Record<string, unknown> }> };
    expect(policy.phases.hot!.actions.rollover).to.deep.equal({ max_primary_shard_size: DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE, max_age: DEFAULT_ILM_ROLLOVER_MAX_AGE });
    expect(policy.phases.delete).to.deep.equal({ min_age: `${DEFAULT_ILM_DELETE_AFTER_DAYS}d`, actions: { delete: {} } });
    const tpl = fake.indexTemplates.get('umbra-events') as Record<string, unknown>;
    expect(tpl.index_patterns).to.deep.equal(['umbra-events*']);
    expect(tpl.data_stream).to.deep.equal({});
    expect(tpl.composed_of).to.deep.equal(['umbra-events-mappings', 'umbra-events-settings']);
    const settings = fake.componentTemplates.get('umbra-events-settings') as { template: { settings: Record<string, unknown> } };
    expect(settings.template.settings['index.lifecycle.name']).to.equal('umbra-events-policy');
    const mappings = fake.componentTemplates.get('umbra-events-mappings') as { template: { mappings: { properties: Record<string, { type?: string; properties?: Record<string, { type: string }> }> } } };
    expect(mappings.template.mappings.properties['@timestamp']).to.deep.equal({ type: 'date' });
    expect(mappings.template.mappings.properties.source!.properties!.ip!.type).to.equal('ip');
    expect(mappings.template.mappings).to.deep.equal(buildMappings());
    await es.close();

    // Second start (a new client, as after a restart): reads only, nothing created, updated or deleted.
    const mark = fake.calls.length;
    const es2 = fake.events();
    const second = await es2.install();
    expect(second.created).to.deep.equal([]);
    expect(second.updated).to.deep.equal([]);
    expect(second.unchanged).to.have.length(5);
    expect(fake.writes(mark)).to.deep.equal([]);
    expect(fake.calls.slice(mark).every((c) => c.method === 'GET')).to.equal(true);
    await es2.close();

    // Changed retention: only the policy is rewritten; never a DELETE, the data stream is left as it is.
    const mark3 = fake.calls.length;
    const es3 = fake.events({ ilm: { ...DEFAULT_ILM, deleteAfterDays: 30 } });
    const third = await es3.install();
    expect(third.updated).to.deep.equal(['ilm policy umbra-events-policy']);
    expect(fake.writes(mark3).map((c) => `${c.method} ${c.path}`)).to.deep.equal(['PUT /_ilm/policy/umbra-events-policy']);
    expect(fake.calls.some((c) => c.method === 'DELETE')).to.equal(false);
    await es3.close();
  });

  it('a changed mappings template is also put on the live data stream (additive); a data stream created meanwhile by another collector is fine', async () => {
    const fake = new FakeElasticsearch();
    const es = fake.events();
    await es.install();
    // An older Umbra installed different mappings.
    const old = fake.componentTemplates.get('umbra-events-mappings') as { _meta: { umbra_hash: string } };
    old._meta.umbra_hash = 'older';
    const r = await es.install();
    expect(r.updated).to.deep.equal(['component template umbra-events-mappings']);
    expect(fake.mappingUpdates).to.have.length(1);
    expect((fake.mappingUpdates[0] as { properties: unknown }).properties).to.deep.equal((buildMappings() as { properties: unknown }).properties);
    // Race: another collector creates the data stream between our read and our create.
    const fake2 = new FakeElasticsearch();
    await fake2.events().install();
    fake2.hideDataStreams = true;
    const es2 = fake2.events();
    const r2 = await es2.install();
    expect(r2.created).to.deep.equal([]);
    expect(r2.unchanged).to.include('data stream umbra-events');
    await es.close();
    await es2.close();
  });

  it('bulk: create actions with _id = event.id on the data stream; items sorted into created, 409 duplicate, 429/5xx retry, 400 rejected with the reason', async () => {
    const fake = new FakeElasticsearch();
    const es = fake.events();
    await es.install();
    const docs = [doc(1), doc(2), doc(3), doc(4), doc(5)];
    fake.docs.set(docs[1]!.id, {}); // already there (an earlier replay)
    fake.itemFault = (id) => (id === docs[2]!.id ? 429 : id === docs[3]!.id ? 400 : id === docs[4]!.id ? 503 : null);
    const out = await es.bulkCreate(docs);
    expect(fake.lastBulk!.path).to.equal('/umbra-events/_bulk');
    expect(fake.lastBulk!.body).to.have.length(10);
    for (let i = 0; i < docs.length; i++) {
      expect(fake.lastBulk!.body[2 * i]).to.deep.equal({ create: { _id: docs[i]!.id } });
      expect(fake.lastBulk!.body[2 * i + 1]).to.deep.equal(JSON.parse(docs[i]!.json));
    }
    expect(out.ok).to.equal(true);
    if (!out.ok) return;
    expect([...out.results]).to.deep.equal([ItemResult.Created, ItemResult.Duplicate, ItemResult.Retry, ItemResult.Rejected, ItemResult.Retry]);
    expect(out.retryStatuses).to.deep.equal([429, 503]);
    expect(out.reasons.get(3)).to.match(/^400 document_parsing_exception: \[1:42\] failed to parse field \[source\.ip\] of type \[ip\]/);
    // The same request again: the created one is now a duplicate, nothing is created twice.
    fake.itemFault = () => null;
    const again = await es.bulkCreate(docs);
    expect(again.ok && [...again.results]).to.deep.equal([ItemResult.Duplicate, ItemResult.Duplicate, ItemResult.Created, ItemResult.Created, ItemResult.Created]);
    expect([...fake.created.values()].every((n) => n === 1)).to.equal(true);
    await es.close();
  });

  it('bulk: a failed request (reset, 503, 429, 413) is ok:false with the status, nothing known about the items', async () => {
    const fake = new FakeElasticsearch();
    const es = fake.events();
    await es.install();
    const faults = ['reset', 503, 429, 413] as const;
    fake.requestFault = (n) => faults[n - 1] ?? null;
    const seen = [];
    for (let i = 0; i < faults.length; i++) {
      const out = await es.bulkCreate([doc(i)]);
      expect(out.ok).to.equal(false);
      if (!out.ok) seen.push([out.status, out.tooLarge, out.message.split(' ')[0]]);
    }
    expect(seen).to.deep.equal([[null, false, 'ConnectionError:'], [503, false, 'HTTP'], [429, false, 'HTTP'], [413, true, 'HTTP']]);
    expect(fake.bulkRequests).to.equal(4); // the client did not retry on its own (the outbox does)
    expect(fake.docs.size).to.equal(0);
    await es.close();
  });

  it('count and query search the data stream (filters by service, source, agent, time; newest first); 0 before it exists', async () => {
    const fake = new FakeElasticsearch();
    const es = fake.events();
    expect(await es.count()).to.equal(0);
    expect(await es.query({})).to.deep.equal([]);
    await es.install();
    const docs = [doc(1), doc(2, { service: 'anthropic-claude' }), doc(3, { sourceIp: '10.9.9.9' }), doc(4, { agent: 'gw-other' })];
    await es.bulkCreate(docs);
    expect(await es.count()).to.equal(4);
    const ids = (evs: { event: { id?: string } }[]) => evs.map((e) => e.event.id);
    expect(ids(await es.query({}))).to.deep.equal(['gw-other:4', 'gw-test-1:3', 'gw-test-1:2', 'gw-test-1:1']);
    expect(ids(await es.query({ service: 'anthropic-claude' }))).to.deep.equal(['gw-test-1:2']);
    expect(ids(await es.query({ sourceIp: '10.9.9.9' }))).to.deep.equal(['gw-test-1:3']);
    expect(ids(await es.query({ agentId: 'gw-other' }))).to.deep.equal(['gw-other:4']);
    const t2 = Date.parse(makeEvent(2)['@timestamp']);
    expect(ids(await es.query({ sinceMs: t2, untilMs: t2 + 2000 }))).to.deep.equal(['gw-test-1:3', 'gw-test-1:2']);
    expect(ids(await es.query({ limit: 1 }))).to.deep.equal(['gw-other:4']);
    // The search request as sent: data stream, filters, sort.
    const search = fake.calls.filter((c) => c.path.endsWith('/_search'));
    expect(search.every((c) => c.path === '/umbra-events/_search')).to.equal(true);
    await es.close();
  });
});
