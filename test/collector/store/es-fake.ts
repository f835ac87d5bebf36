// A small stateful Elasticsearch behind the client's official mock
// (@elastic/elasticsearch-mock: a real Client over a mock Connection). It keeps
// what the store installs (ILM policies, component and index templates, data
// streams) and the documents created, answers bulk `create` with 201 or 409 as
// Elasticsearch does, and lets a test inject failures per request and per item.
import MockModule from '@elastic/elasticsearch-mock';
import { createRequire } from 'node:module';
import type * as EsClient from '@elastic/elasticsearch';
// the CommonJS build, as collector/store/elasticsearch.ts and the mock load it (one copy of the error classes)
const { errors } = createRequire(import.meta.url)('@elastic/elasticsearch') as typeof EsClient;
import { ElasticsearchEvents } from '../../../collector/store/elasticsearch.js';
import type { IlmOptions } from '../../../collector/store/es-template.js';

// The mock is CommonJS (`module.exports = ClientMock`) with an `export default` typing: under NodeNext the default import is the class itself.
const Mock = MockModule as unknown as typeof MockModule.default;

export interface Call { method: string; path: string }

type Params = { method: string; path: string; body: unknown; querystring: Record<string, string> };

/** A failure for a whole request: a connection reset, or an HTTP status with an error body. */
export type RequestFault = 'reset' | 429 | 500 | 502 | 503 | 413 | null;

export class FakeElasticsearch {
  readonly mock = new Mock();
  readonly calls: Call[] = [];
  readonly policies = new Map<string, unknown>();
  readonly componentTemplates = new Map<string, unknown>();
  readonly indexTemplates = new Map<string, unknown>();
  readonly dataStreams = new Set<string>();
  readonly mappingUpdates: unknown[] = [];
  /** Documents by _id. */
  readonly docs = new Map<string, Record<string, unknown>>();
  /** How many times each _id was created (must never exceed 1). */
  readonly created = new Map<string, number>();
  /** Bulk actions other than `create` (must stay 0). */
  nonCreateActions = 0;
  /** Bulk requests received (faulted or not), and the bodies of the last one. */
  bulkRequests = 0;
  lastBulk: { path: string; body: unknown[] } | null = null;
  /** Per request (1-based number): a whole-request failure. */
  requestFault: (n: number) => RequestFault = () => null;
  /** Per item: a status to answer instead of creating (null: normal behaviour). `attempt` counts this id's items so far, from 1. */
  itemFault: (id: string, attempt: number) => number | null = () => null;
  /** GET _data_stream answers 404 even for an existing one (a create racing another collector's). */
  hideDataStreams = false;
  /** Called at each bulk request before it is answered. */
  onBulk: ((n: number) => void) | null = null;
  private readonly attempts = new Map<string, number>();

  constructor() {
    // The mock's typings want a resolver of its pattern type; ours receive the normalized request.
    const m = { add: (pattern: { method: string | string[]; path: string }, fn: (p: Params) => unknown): void => { this.mock.add(pattern, fn as never); } };
    const rec = (p: Params): void => { this.calls.push({ method: p.method, path: p.path }); };
    const notFound = (what: string): EsClient.errors.ResponseError => respErr(404, { error: { type: 'resource_not_found_exception', reason: `${what} missing` }, status: 404 });

    m.add({ method: 'GET', path: '/_ilm/policy/:name' }, (p: Params) => {
      rec(p);
      const name = p.path.split('/')[3]!;
      const pol = this.policies.get(name);
      return pol === undefined ? notFound(name) : { [name]: { version: 1, modified_date: '2026-11-25T00:00:00Z', policy: pol } };
    });
    m.add({ method: 'PUT', path: '/_ilm/policy/:name' }, (p: Params) => {
      rec(p);
      this.policies.set(p.path.split('/')[3]!, (p.body as { policy: unknown }).policy);
      return { acknowledged: true };
    });
    m.add({ method: 'GET', path: '/_component_template/:name' }, (p: Params) => {
      rec(p);
      const name = p.path.split('/')[2]!;
      const t = this.componentTemplates.get(name);
      return t === undefined ? notFound(name) : { component_templates: [{ name, component_template: t }] };
    });
    m.add({ method: 'PUT', path: '/_component_template/:name' }, (p: Params) => {
      rec(p);
      this.componentTemplates.set(p.path.split('/')[2]!, p.body);
      return { acknowledged: true };
    });
    m.add({ method: 'GET', path: '/_index_template/:name' }, (p: Params) => {
      rec(p);
      const name = p.path.split('/')[2]!;
      const t = this.indexTemplates.get(name);
      return t === undefined ? notFound(name) : { index_templates: [{ name, index_template: t }] };
    });
    m.add({ method: 'PUT', path: '/_index_template/:name' }, (p: Params) => {
      rec(p);
      this.indexTemplates.set(p.path.split('/')[2]!, p.body);
      return { acknowledged: true };
    });
    m.add({ method: 'GET', path: '/_data_stream/:name' }, (p: Params) => {
      rec(p);
      const name = p.path.split('/')[2]!;
      return this.dataStreams.has(name) && !this.hideDataStreams ? { data_streams: [{ name, timestamp_field: { name: '@timestamp' } }] } : notFound(name);
    });
    m.add({ method: 'PUT', path: '/_data_stream/:name' }, (p: Params) => {
      rec(p);
      const name = p.path.split('/')[2]!;
      if (this.dataStreams.has(name)) return respErr(400, { error: { type: 'resource_already_exists_exception', reason: name }, status: 400 });
      if (![...this.indexTemplates.values()].some((t) => (t as { data_stream?: unknown; index_patterns: string[] }).data_stream && (t as { index_patterns: string[] }).index_patterns.some((x) => name.startsWith(x.replace(/\*$/, ''))))) {
        return respErr(400, { error: { type: 'illegal_argument_exception', reason: `no matching index template found for data stream [${name}]` }, status: 400 });
      }
      this.dataStreams.add(name);
      return { acknowledged: true };
    });
    m.add({ method: 'PUT', path: '/:index/_mapping' }, (p: Params) => {
      rec(p);
      this.mappingUpdates.push(p.body);
      return { acknowledged: true };
    });
    m.add({ method: ['POST', 'PUT'], path: '/:index/_bulk' }, (p: Params) => this.bulk(p));
    m.add({ method: ['GET', 'POST'], path: '/:index/_count' }, (p: Params) => {
      rec(p);
      return this.dataStreams.has(p.path.split('/')[1]!) ? { count: this.docs.size } : notFound('index');
    });
    m.add({ method: 'POST', path: '/:index/_refresh' }, (p: Params) => { rec(p); return { _shards: { total: 1, successful: 1, failed: 0 } }; });
    m.add({ method: ['GET', 'POST'], path: '/:index/_search' }, (p: Params) => { rec(p); return this.search(p.body as SearchBody); });
  }

  /** An ElasticsearchEvents whose client talks to this fake. */
  events(opts: { indexPrefix?: string; ilm?: IlmOptions } = {}): ElasticsearchEvents {
    return new ElasticsearchEvents({
      node: 'http://localhost:9200',
      indexPrefix: opts.indexPrefix ?? 'umbra',
      ...(opts.ilm ? { ilm: opts.ilm } : {}),
      clientOptions: { Connection: this.connection() },
    });
  }

  /** The mock's Connection class; transport 9 closes connections on client.close(), which the mock (written for 8) does not implement. */
  connection(): never {
    const Base = this.mock.getConnection() as unknown as new (...a: unknown[]) => object;
    return class extends Base { async close(): Promise<void> {} } as never;
  }

  /** Calls other than reads (what a second start must not make). */
  writes(since = 0): Call[] {
    return this.calls.slice(since).filter((c) => c.method !== 'GET' && c.method !== 'HEAD');
  }

  private bulk(p: Params): unknown {
    this.calls.push({ method: p.method, path: p.path });
    const n = ++this.bulkRequests;
    const body = p.body as Record<string, unknown>[];
    this.lastBulk = { path: p.path, body };
    this.onBulk?.(n);
    const fault = this.requestFault(n);
    if (fault === 'reset') return new errors.ConnectionError('socket hang up (ECONNRESET)');
    if (fault !== null) {
      const type = fault === 429 ? 'es_rejected_execution_exception' : fault === 413 ? 'content_too_long' : 'unavailable_shards_exception';
      return respErr(fault, { error: { type, reason: `injected ${fault}` }, status: fault });
    }
    const items: unknown[] = [];
    let anyError = false;
    for (let i = 0; i < body.length; i += 2) {
      const action = body[i]!;
      const doc = body[i + 1]!;
      const op = Object.keys(action)[0]!;
      if (op !== 'create') this.nonCreateActions++;
      const id = (action[op] as { _id: string })._id;
      const attempt = (this.attempts.get(id) ?? 0) + 1;
      this.attempts.set(id, attempt);
      const st = this.itemFault(id, attempt);
      let item: Record<string, unknown>;
      if (st !== null) {
        const type = st === 400 ? 'document_parsing_exception' : st === 429 ? 'es_rejected_execution_exception' : 'unavailable_shards_exception';
        item = { _id: id, status: st, error: { type, reason: st === 400 ? `[1:42] failed to parse field [source.ip] of type [ip] in document with id '${id}'` : `injected ${st}` } };
      } else if (this.docs.has(id)) {
        item = { _id: id, status: 409, error: { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [1])` } };
      } else {
        this.docs.set(id, doc);
        this.created.set(id, (this.created.get(id) ?? 0) + 1);
        item = { _id: id, status: 201, result: 'created' };
      }
      if ((item.status as number) >= 300) anyError = true;
      items.push({ [op]: { _index: '.ds-umbra-events-000001', ...item } });
    }
    return { took: 1, errors: anyError, items };
  }

  private search(body: SearchBody): unknown {
    const filters = body?.query?.bool?.filter ?? [];
    const get = (doc: Record<string, unknown>, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
    let hits = [...this.docs.entries()].filter(([, d]) => filters.every((f) => {
      if (f.term) { const [k, v] = Object.entries(f.term)[0]!; return get(d, k) === v; }
      if (f.range) {
        const r = f.range['@timestamp']!;
        const t = Date.parse(d['@timestamp'] as string);
        return (r.gte === undefined || t >= r.gte) && (r.lt === undefined || t < r.lt);
      }
      return true;
    }));
    hits.sort((a, b) => Date.parse(b[1]['@timestamp'] as string) - Date.parse(a[1]['@timestamp'] as string));
    hits = hits.slice(0, body.size ?? 10);
    return { hits: { hits: hits.map(([id, d]) => ({ _index: '.ds-umbra-events-000001', _id: id, _source: d })) } };
  }
}

interface SearchBody {
  size?: number;
  query?: { bool?: { filter?: { term?: Record<string, unknown>; range?: Record<string, { gte?: number; lt?: number }> }[] } };
}

function respErr(statusCode: number, body: unknown): EsClient.errors.ResponseError {
  return new errors.ResponseError({ body, statusCode, headers: {}, warnings: null, meta: {} as never });
}
