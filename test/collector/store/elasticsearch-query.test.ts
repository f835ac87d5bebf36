// The Elasticsearch store's query side through the official client mock: the
// search bodies it sends (bool filters, sort and search_after, aggregations)
// and the parsing of answers shaped as Elasticsearch documents them (terms
// buckets with doc_count and sum_other_doc_count; cardinality and min/max
// `value` with `value_as_string`; top_hits `hits.hits[]._source`;
// date_histogram buckets keyed by epoch milliseconds with `key_as_string`).
import { expect } from 'chai';
import MockModule from '@elastic/elasticsearch-mock';
import { createRequire } from 'node:module';
import type * as EsClient from '@elastic/elasticsearch';
import { ElasticsearchEvents, ES_CARDINALITY_PRECISION } from '../../../collector/store/elasticsearch.js';
import { FIELD_BY_NAME } from '../../../collector/fields.js';
import { decodeCursor, encodeCursor } from '../../../collector/api/query.js';
import { InvalidQueryError, type EventFilter } from '../../../collector/store/store.js';
import { makeEvent } from '../helpers.js';

const { errors } = createRequire(import.meta.url)('@elastic/elasticsearch') as typeof EsClient;
const Mock = MockModule as unknown as typeof MockModule.default;

/** A client whose _search on the data stream records the body and answers `answer`. */
function mocked(): { es: ElasticsearchEvents; bodies: any[]; answer: { value: unknown } } {
  const mock = new Mock();
  const bodies: any[] = [];
  const answer: { value: unknown } = { value: null };
  mock.add({ method: ['GET', 'POST'], path: '/umbra-events/_search' } as never, ((p: { body: unknown }) => {
    bodies.push(p.body);
    return typeof answer.value === 'function' ? (answer.value as (b: unknown) => unknown)(p.body) : answer.value;
  }) as never);
  const Base = mock.getConnection() as unknown as new (...a: unknown[]) => object;
  const Connection = class extends Base { async close(): Promise<void> {} };
  const es = new ElasticsearchEvents({ node: 'http://localhost:9200', indexPrefix: 'umbra', clientOptions: { Connection: Connection as never, maxRetries: 0 } });
  return { es, bodies, answer };
}

const SHARDS = { total: 1, successful: 1, skipped: 0, failed: 0 };
const ALL_FILTERS: EventFilter = {
  sinceMs: 1795608000000, untilMs: 1795611600000, service: 'openai-chatgpt', category: 'chat-assistant', sourceIp: '10.0.0.1',
  user: 'alice', action: 'tls-client-hello', domain: 'chatgpt.com', domainSuffix: 'openai.com', agentId: 'gw-test-1',
};
const ALL_FILTERS_BODY = [
  { range: { '@timestamp': { format: 'epoch_millis', gte: 1795608000000, lt: 1795611600000 } } },
  { term: { 'umbra.service.id': 'openai-chatgpt' } },
  { term: { 'umbra.service.category': 'chat-assistant' } },
  { term: { 'source.ip': '10.0.0.1' } },
  { term: { 'user.name': 'alice' } },
  { term: { 'event.action': 'tls-client-hello' } },
  { term: { 'destination.domain': 'chatgpt.com' } },
  { term: { 'observer.id': 'gw-test-1' } },
  { bool: { should: [{ term: { 'destination.domain': 'openai.com' } }, { wildcard: { 'destination.domain': { value: '*.openai.com' } } }], minimum_should_match: 1 } },
];
const minMax = (ms: number) => ({ value: ms, value_as_string: new Date(ms).toISOString() });

describe('Elasticsearch store: queries and summaries (official client mock)', () => {
  it('page: bool filter on the ECS fields, sort @timestamp then event.id, one extra hit for the next page, search_after from the cursor', async () => {
    const { es, bodies, answer } = mocked();
    const e = [makeEvent(3), makeEvent(2), makeEvent(1)];
    const hit = (ev: ReturnType<typeof makeEvent>) => ({ _index: '.ds-umbra-events-2026.11.25-000001', _id: ev.event.id, _score: null, _source: ev, sort: [Date.parse(ev['@timestamp']), ev.event.id] });
    answer.value = { took: 2, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: e.map(hit) } };
    const p = await es.page({ ...ALL_FILTERS, limit: 2 });
    expect(p.events).to.deep.equal([e[0], e[1]]);
    expect(p.next).to.deep.equal({ tsMs: Date.parse(e[1]!['@timestamp']), key: 'gw-test-1:2' });
    expect(bodies[0]).to.deep.equal({
      size: 3,
      sort: [{ '@timestamp': { order: 'desc' } }, { 'event.id': { order: 'desc' } }],
      query: { bool: { filter: ALL_FILTERS_BODY } },
      track_total_hits: false,
    });
    // The cursor goes through the API's encoding and back unchanged (an event id has colons).
    const cursor = decodeCursor(encodeCursor(p.next!));
    answer.value = { took: 1, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [hit(e[2]!)] } };
    const p2 = await es.page({ limit: 2, after: cursor });
    expect(p2).to.deep.equal({ events: [e[2]], next: null });
    expect(bodies[1].search_after).to.deep.equal([Date.parse(e[1]!['@timestamp']), 'gw-test-1:2']);
    expect(bodies[1].query).to.deep.equal({ bool: { filter: [] } });
    await es.close();
  });

  it('summary of services: terms on umbra.service.id with distinct sources, first/last seen and the latest names (top_hits)', async () => {
    const { es, bodies, answer } = mocked();
    answer.value = {
      took: 5, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] },
      aggregations: {
        top: {
          doc_count_error_upper_bound: 0, sum_other_doc_count: 3,
          buckets: [
            {
              key: 'github-copilot', doc_count: 9, sources: { value: 3 }, first: minMax(1795608300000), last: minMax(1795615200000),
              latest: { hits: { total: { value: 9, relation: 'eq' }, max_score: null, hits: [{ _index: '.ds-umbra-events-2026.11.25-000001', _id: 'gw-test-1:18', _score: null, _source: { umbra: { service: { name: 'GitHub Copilot', vendor: 'GitHub', category: 'coding-assistant' } } }, sort: [1795615200000] }] } },
            },
            {
              key: 'openai-chatgpt', doc_count: 4, sources: { value: 2 }, first: minMax(1795607999999), last: minMax(1795651200000),
              latest: { hits: { total: { value: 4, relation: 'eq' }, max_score: null, hits: [{ _index: '.ds-umbra-events-2026.11.26-000002', _id: 'gw-test-2:9', _score: null, _source: { umbra: { service: { name: 'ChatGPT', vendor: 'OpenAI', category: 'chat-assistant' } } }, sort: [1795651200000] }] } },
            },
          ],
        },
      },
    };
    const rows = await es.summarize({ kind: 'services', filter: { agentId: 'gw-test-1' }, limit: 2 });
    expect(rows).to.deep.equal([
      { id: 'github-copilot', name: 'GitHub Copilot', vendor: 'GitHub', category: 'coding-assistant', events: 9, sources: 3, firstMs: 1795608300000, lastMs: 1795615200000 },
      { id: 'openai-chatgpt', name: 'ChatGPT', vendor: 'OpenAI', category: 'chat-assistant', events: 4, sources: 2, firstMs: 1795607999999, lastMs: 1795651200000 },
    ]);
    expect(bodies[0]).to.deep.equal({
      size: 0,
      query: { bool: { filter: [{ term: { 'observer.id': 'gw-test-1' } }] } },
      aggs: {
        top: {
          terms: { field: 'umbra.service.id', size: 2 },
          aggs: {
            sources: { cardinality: { field: 'source.ip', precision_threshold: ES_CARDINALITY_PRECISION } },
            first: { min: { field: '@timestamp' } },
            last: { max: { field: '@timestamp' } },
            latest: { top_hits: { size: 1, sort: [{ '@timestamp': { order: 'desc' } }], _source: { includes: ['umbra.service.name', 'umbra.service.vendor', 'umbra.service.category'] } } },
          },
        },
      },
      track_total_hits: false,
    });
    await es.close();
  });

  it('summary of sources (terms on the ip field, users sorted by key) and of categories', async () => {
    const { es, bodies, answer } = mocked();
    answer.value = {
      took: 3, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] },
      aggregations: {
        top: {
          doc_count_error_upper_bound: 0, sum_other_doc_count: 0,
          buckets: [
            { key: '10.0.0.1', doc_count: 4, services: { value: 2 }, first: minMax(1795607999999), last: minMax(1795651199999), users: { doc_count_error_upper_bound: 0, sum_other_doc_count: 0, buckets: [{ key: 'alice', doc_count: 3 }, { key: 'carol', doc_count: 1 }] } },
            { key: '2001:db8::1', doc_count: 1, services: { value: 1 }, first: minMax(1795651200000), last: minMax(1795651200000), users: { doc_count_error_upper_bound: 0, sum_other_doc_count: 0, buckets: [] } },
          ],
        },
      },
    };
    expect(await es.summarize({ kind: 'sources', filter: {}, limit: 10 })).to.deep.equal([
      { sourceIp: '10.0.0.1', users: ['alice', 'carol'], events: 4, services: 2, firstMs: 1795607999999, lastMs: 1795651199999 },
      { sourceIp: '2001:db8::1', users: [], events: 1, services: 1, firstMs: 1795651200000, lastMs: 1795651200000 },
    ]);
    expect(bodies[0].aggs).to.deep.equal({
      top: {
        terms: { field: 'source.ip', size: 10 },
        aggs: {
          services: { cardinality: { field: 'umbra.service.id', precision_threshold: ES_CARDINALITY_PRECISION } },
          first: { min: { field: '@timestamp' } },
          last: { max: { field: '@timestamp' } },
          users: { terms: { field: 'user.name', size: 10, order: { _key: 'asc' } } },
        },
      },
    });
    answer.value = {
      took: 3, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] },
      aggregations: { top: { doc_count_error_upper_bound: 0, sum_other_doc_count: 0, buckets: [{ key: 'chat-assistant', doc_count: 7, services: { value: 2 }, sources: { value: 3 }, first: minMax(1795607999999), last: minMax(1795651200000) }] } },
    };
    expect(await es.summarize({ kind: 'categories', filter: { user: 'alice' }, limit: 5 })).to.deep.equal([
      { category: 'chat-assistant', events: 7, services: 2, sources: 3, firstMs: 1795607999999, lastMs: 1795651200000 },
    ]);
    expect(bodies[1].query).to.deep.equal({ bool: { filter: [{ term: { 'user.name': 'alice' } }] } });
    expect(bodies[1].aggs.top.terms).to.deep.equal({ field: 'umbra.service.category', size: 5 });
    expect(Object.keys(bodies[1].aggs.top.aggs)).to.deep.equal(['services', 'sources', 'first', 'last']);
    await es.close();
  });

  it('timeline: date_histogram with a fixed interval (UTC, epoch-aligned), non-empty buckets; split by terms with (none) for missing and (other) from sum_other_doc_count', async () => {
    const { es, bodies, answer } = mocked();
    answer.value = {
      took: 4, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] },
      aggregations: {
        timeline: {
          buckets: [
            { key_as_string: '2026-11-25T11:00:00.000Z', key: 1795604400000, doc_count: 2 },
            { key_as_string: '2026-11-25T12:00:00.000Z', key: 1795608000000, doc_count: 5 },
          ],
        },
      },
    };
    expect(await es.summarize({ kind: 'timeline', filter: { sinceMs: 1795604400000 }, intervalMs: 3_600_000 })).to.deep.equal([
      { startMs: 1795604400000, events: 2 }, { startMs: 1795608000000, events: 5 },
    ]);
    expect(bodies[0].aggs).to.deep.equal({ timeline: { date_histogram: { field: '@timestamp', fixed_interval: '3600000ms', min_doc_count: 1 } } });
    answer.value = {
      took: 4, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] },
      aggregations: {
        timeline: {
          buckets: [{
            key_as_string: '2026-11-25T12:00:00.000Z', key: 1795608000000, doc_count: 60,
            by: { doc_count_error_upper_bound: 0, sum_other_doc_count: 4, buckets: [{ key: 'github-copilot', doc_count: 50 }, { key: '(none)', doc_count: 6 }] },
          }],
        },
      },
    };
    expect(await es.summarize({ kind: 'timeline', filter: {}, intervalMs: 300_000, split: 'service' })).to.deep.equal([
      { startMs: 1795608000000, events: 60, by: { 'github-copilot': 50, '(none)': 6, '(other)': 4 } },
    ]);
    expect(bodies[1].aggs).to.deep.equal({
      timeline: {
        date_histogram: { field: '@timestamp', fixed_interval: '300000ms', min_doc_count: 1 },
        aggs: { by: { terms: { field: 'umbra.service.id', size: 50, missing: '(none)' } } },
      },
    });
    await es.summarize({ kind: 'timeline', filter: {}, intervalMs: 86_400_000, split: 'category' });
    expect(bodies[2].aggs.timeline.aggs.by.terms.field).to.equal('umbra.service.category');
    await es.close();
  });

  it('timeline over an open range: the span of the matching events is read first; more than maxBuckets is an InvalidQueryError, not a histogram', async () => {
    const { es, bodies, answer } = mocked();
    const t0 = 1795608000000; // 2026-11-25T12:00:00Z, a multiple of 5 minutes
    let span = 0;
    answer.value = (body: any) => body.aggs.timeline
      ? { took: 2, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] }, aggregations: { timeline: { buckets: [{ key_as_string: '2026-11-25T12:00:00.000Z', key: t0, doc_count: 3 }] } } }
      : { took: 1, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] }, aggregations: { first: minMax(t0), last: minMax(t0 + span) } };
    // 1000 buckets of 5 minutes: first in the 12:00 bucket, last 4 999 minutes later, in the 1000th.
    span = 999 * 300_000 + 299_999;
    expect(await es.summarize({ kind: 'timeline', filter: { sinceMs: t0 }, intervalMs: 300_000, maxBuckets: 1000 })).to.deep.equal([{ startMs: t0, events: 3 }]);
    expect(bodies.map((b) => Object.keys(b.aggs))).to.deep.equal([['first', 'last'], ['timeline']]);
    expect(bodies[0].query).to.deep.equal({ bool: { filter: [{ range: { '@timestamp': { format: 'epoch_millis', gte: t0 } } }] } });
    span += 1; // one bucket more
    let err: unknown = null;
    await es.summarize({ kind: 'timeline', filter: {}, intervalMs: 300_000, maxBuckets: 1000 }).catch((e: unknown) => { err = e; });
    expect(err).to.be.instanceOf(InvalidQueryError);
    expect((err as InvalidQueryError).param).to.equal('interval');
    expect((err as Error).message).to.equal('interval: the matching events span 1001 buckets, at most 1000; give since and until or take a longer interval');
    expect(bodies.length).to.equal(3); // no histogram asked for
    // A closed range is checked by the API before; no look first.
    await es.summarize({ kind: 'timeline', filter: { sinceMs: t0, untilMs: t0 + 3_600_000 }, intervalMs: 300_000, maxBuckets: 1000 });
    expect(Object.keys(bodies[3].aggs)).to.deep.equal(['timeline']);
    await es.close();
  });

  it('before the data stream exists (404): empty page and empty summaries', async () => {
    const { es, answer } = mocked();
    answer.value = new errors.ResponseError({ body: { error: { type: 'index_not_found_exception', reason: 'no such index [umbra-events]' }, status: 404 }, statusCode: 404, headers: {}, warnings: null, meta: {} as never });
    expect(await es.page({})).to.deep.equal({ events: [], next: null });
    expect(await es.summarize({ kind: 'services', filter: {}, limit: 10 })).to.deep.equal([]);
    expect(await es.summarize({ kind: 'timeline', filter: {}, intervalMs: 300_000 })).to.deep.equal([]);
    await es.close();
  });

  it('every field the queries filter, sort or aggregate on is declared keyword, ip or date (the template maps them so)', async () => {
    const { es, bodies, answer } = mocked();
    answer.value = { took: 1, timed_out: false, _shards: SHARDS, hits: { max_score: null, hits: [] }, aggregations: {} };
    await es.page({ ...ALL_FILTERS, after: { tsMs: 1, key: 'x' } });
    for (const kind of ['services', 'sources', 'categories'] as const) await es.summarize({ kind, filter: ALL_FILTERS, limit: 10 });
    for (const split of ['service', 'category'] as const) await es.summarize({ kind: 'timeline', filter: ALL_FILTERS, intervalMs: 300_000, split });
    const fields = new Set<string>();
    const walk = (v: unknown, parent: string | null): void => {
      if (Array.isArray(v)) { v.forEach((x) => walk(x, parent)); return; }
      if (typeof v !== 'object' || v === null) return;
      for (const [k, x] of Object.entries(v)) {
        if (k === 'field' && typeof x === 'string') fields.add(x);
        else if ((parent === 'term' || parent === 'range' || parent === 'wildcard' || parent === 'sort') && k.includes('.') || k === '@timestamp') fields.add(k);
        if (k === 'includes') continue; // _source paths, not searched
        walk(x, k === 'sort' ? 'sort' : k);
      }
    };
    walk(bodies, null);
    expect([...fields].sort()).to.deep.equal(['@timestamp', 'destination.domain', 'event.action', 'event.id', 'observer.id', 'source.ip', 'umbra.service.category', 'umbra.service.id', 'user.name']);
    for (const f of fields) expect(['keyword', 'ip', 'date'], f).to.include(FIELD_BY_NAME.get(f)?.type);
    await es.close();
  });
});
