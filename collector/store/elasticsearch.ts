// Elasticsearch side of the Elasticsearch store (@elastic/elasticsearch): installs
// the ILM policy, templates and data stream idempotently, writes one bulk request
// at a time and sorts its items (created, duplicate, retry, rejected), and answers
// the EventStore queries by searching the data stream. The durable outbox
// (outbox.ts) is the EventStore the collector runs: it owns retries, backoff and
// dead letters; this module never loops and never drops anything by itself.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as EsClient from '@elastic/elasticsearch';
// The client ships separate CommonJS and ESM builds whose error classes are
// different objects (dual-package hazard): a CommonJS plugin or connection (the
// official mock among them) throws errors that fail `instanceof` against the ESM
// copy. Loading the CommonJS build everywhere keeps one copy.
const { Client, errors } = createRequire(import.meta.url)('@elastic/elasticsearch') as typeof EsClient;
type Client = EsClient.Client;
import type { UmbraEvent } from '../../agent/event.js';
import { UmbraError } from '../../common/errors.js';
import {
  buildIlmPolicy, buildIndexTemplate, buildMappings, buildMappingsTemplate, buildSettingsTemplate, DEFAULT_ILM, esNames,
  type EsNames, type IlmOptions,
} from './es-template.js';
import {
  bucketStart, capSplit, clampLimit, InvalidQueryError, MAX_TIMELINE_SPLIT_KEYS, MAX_USERS_PER_SOURCE, NONE_KEY, OTHER_KEY,
  type CategorySummary, type EventFilter, type EventPage, type EventQuery, type ServiceSummary, type SourceSummary,
  type SummaryQuery, type SummaryRows, type TimelineBucket,
} from './store.js';

/** Timeout of one bulk request (ms); a slower answer counts as a failed request and the items are resent. */
export const ES_BULK_TIMEOUT_MS = 60_000;
/** Timeout of install, count and search requests (ms). */
export const ES_REQUEST_TIMEOUT_MS = 30_000;
/** Retries the client itself makes for install/query requests on connection errors and 502/503/504. Bulk: 0 (the outbox retries). */
export const ES_CLIENT_MAX_RETRIES = 3;
/** precision_threshold of the distinct counts (cardinality): exact below about this many values, approximate above. */
export const ES_CARDINALITY_PRECISION = 3000;
/** Longest reason kept from an item error. */
export const MAX_ES_REASON_CHARS = 1000;

type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[0]>;

export interface ElasticsearchOptions {
  /** `http(s)://host:port` of a node (or a load balancer). */
  node: string;
  /** Prefix of everything installed: the data stream is `<prefix>-events`. */
  indexPrefix: string;
  ilm?: IlmOptions;
  /** API key (the base64 `id:key` form Kibana shows). */
  apiKey?: string;
  username?: string;
  password?: string;
  /** PEM file of the CA that signed the cluster's certificate. */
  caFile?: string;
  /** Extra client options (tests pass the mock's Connection here). */
  clientOptions?: Partial<ClientOptions>;
}

/** What one item of a bulk request came to. */
export const ItemResult = { Created: 0, Duplicate: 1, Retry: 2, Rejected: 3 } as const;

/** A document to create: its `_id` (= event.id) and its JSON. */
export interface BulkDoc {
  id: string;
  json: string;
}

export type BulkOutcome =
  | { ok: true; results: Uint8Array; reasons: Map<number, string>; retryStatuses: number[] }
  | { ok: false; status: number | null; tooLarge: boolean; message: string };

export interface InstallReport {
  /** Objects created (absent before). */
  created: string[];
  /** Objects whose body differed (older Umbra version, changed ILM options) and were updated. */
  updated: string[];
  unchanged: string[];
}

const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

/** The Elasticsearch half of the store. */
export class ElasticsearchEvents {
  readonly names: EsNames;
  readonly client: Client;
  private readonly ilm: IlmOptions;
  /** Pre-built `{"create":{"_id":` prefix of every action line. */
  private static readonly ACTION_HEAD = '{"create":{"_id":';

  constructor(opts: ElasticsearchOptions) {
    this.names = esNames(opts.indexPrefix);
    this.ilm = opts.ilm ?? DEFAULT_ILM;
    const auth = opts.apiKey ? { apiKey: opts.apiKey } : opts.username ? { username: opts.username, password: opts.password ?? '' } : undefined;
    let ca: string | undefined;
    if (opts.caFile) {
      try { ca = readFileSync(opts.caFile, 'utf8'); } catch (e) { throw new UmbraError('UMBRA_E_STORE', opts.caFile, `cannot read the Elasticsearch CA: ${(e as Error).message}`); }
    }
    this.client = new Client({
      node: opts.node,
      ...(auth ? { auth } : {}),
      ...(ca ? { tls: { ca } } : {}),
      maxRetries: ES_CLIENT_MAX_RETRIES,
      requestTimeout: ES_REQUEST_TIMEOUT_MS,
      ...opts.clientOptions,
    });
  }

  /**
   * Installs the ILM policy, the component and index templates and the data
   * stream. Reads each first: an object with Umbra's hash of the same body is
   * left alone, so a second start only reads. Never deletes anything; a changed
   * mappings template is also applied to the live data stream (additive
   * mappings, so new fields are indexed before the next rollover).
   */
  async install(): Promise<InstallReport> {
    const report: InstallReport = { created: [], updated: [], unchanged: [] };
    const n = this.names;
    const c = this.client;
    const note = (name: string, have: string | null | undefined, want: string | null): boolean => {
      if (have === want) { report.unchanged.push(name); return false; }
      (have === undefined ? report.created : report.updated).push(name);
      return true;
    };

    const policy = buildIlmPolicy(this.ilm);
    const havePolicy = await absentAs404(c.ilm.getLifecycle({ name: n.ilmPolicy }));
    if (note(`ilm policy ${n.ilmPolicy}`, havePolicy === undefined ? undefined : hashOf(havePolicy[n.ilmPolicy]?.policy), hashOf(policy))) {
      await c.ilm.putLifecycle({ name: n.ilmPolicy, policy: policy as never });
    }

    let mappingsChanged = false;
    for (const [name, body] of [[n.mappingsTemplate, buildMappingsTemplate()], [n.settingsTemplate, buildSettingsTemplate(n)]] as const) {
      const have = await absentAs404(c.cluster.getComponentTemplate({ name }));
      if (note(`component template ${name}`, have === undefined ? undefined : hashOf(have.component_templates[0]?.component_template), hashOf(body))) {
        await c.cluster.putComponentTemplate({ name, ...(body as object) } as never);
        if (name === n.mappingsTemplate) mappingsChanged = true;
      }
    }

    const tpl = buildIndexTemplate(n);
    const haveTpl = await absentAs404(c.indices.getIndexTemplate({ name: n.indexTemplate }));
    if (note(`index template ${n.indexTemplate}`, haveTpl === undefined ? undefined : hashOf(haveTpl.index_templates[0]?.index_template), hashOf(tpl))) {
      await c.indices.putIndexTemplate({ name: n.indexTemplate, ...(tpl as object) } as never);
    }

    const haveDs = await absentAs404(c.indices.getDataStream({ name: n.dataStream }));
    if (haveDs === undefined || !haveDs.data_streams?.length) {
      try {
        await c.indices.createDataStream({ name: n.dataStream });
        report.created.push(`data stream ${n.dataStream}`);
      } catch (e) {
        // Another collector created it between our read and our create: fine.
        if (!(e instanceof errors.ResponseError && e.statusCode === 400 && /already_exists/.test(errorType(e)))) throw e;
        report.unchanged.push(`data stream ${n.dataStream}`);
      }
    } else {
      report.unchanged.push(`data stream ${n.dataStream}`);
      if (mappingsChanged) {
        const m = buildMappings() as { properties: Record<string, never>; dynamic: boolean };
        await c.indices.putMapping({ index: n.dataStream, write_index_only: true, properties: m.properties, dynamic: m.dynamic });
      }
    }
    return report;
  }

  /** The NDJSON body lines of a bulk request: `create` with `_id`, then the document. */
  static bulkLines(docs: readonly BulkDoc[]): string[] {
    const lines = new Array<string>(docs.length * 2);
    for (let i = 0; i < docs.length; i++) {
      lines[2 * i] = `${ElasticsearchEvents.ACTION_HEAD}${JSON.stringify(docs[i]!.id)}}}`;
      lines[2 * i + 1] = docs[i]!.json;
    }
    return lines;
  }

  /**
   * One bulk request creating `docs` in the data stream. Item results, in the
   * order of `docs`: 201 created; 409 duplicate (the `_id` is already there);
   * 429 and 5xx retry; anything else rejected, with `type: reason`. A failed
   * request (connection, timeout, 429/5xx for the whole request) is `ok: false`:
   * nothing is known about any item and all are to be resent.
   */
  async bulkCreate(docs: readonly BulkDoc[]): Promise<BulkOutcome> {
    let resp: { errors: boolean; items?: Record<string, { status: number; error?: { type?: string; reason?: string } }>[] };
    try {
      resp = (await this.client.bulk(
        { index: this.names.dataStream, operations: ElasticsearchEvents.bulkLines(docs) as never[], filter_path: BULK_FILTER_PATH },
        { maxRetries: 0, requestTimeout: ES_BULK_TIMEOUT_MS },
      )) as never;
    } catch (e) {
      const status = e instanceof errors.ResponseError ? e.statusCode ?? null : null;
      return { ok: false, status, tooLarge: status === 413, message: describeError(e) };
    }
    const results = new Uint8Array(docs.length);
    const reasons = new Map<number, string>();
    const retryStatuses: number[] = [];
    if (!resp.errors) return { ok: true, results, reasons, retryStatuses }; // all created (Created = 0)
    const items = resp.items ?? [];
    if (items.length !== docs.length) {
      return { ok: false, status: null, tooLarge: false, message: `bulk answer has ${items.length} items for ${docs.length} documents` };
    }
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!.create ?? Object.values(items[i]!)[0]!;
      const s = it.status;
      if (s >= 200 && s < 300) results[i] = ItemResult.Created;
      else if (s === 409) results[i] = ItemResult.Duplicate;
      else if (s === 429 || s >= 500) { results[i] = ItemResult.Retry; retryStatuses.push(s); }
      else {
        results[i] = ItemResult.Rejected;
        const r = `${s} ${it.error?.type ?? 'error'}: ${it.error?.reason ?? ''}`;
        reasons.set(i, r.length > MAX_ES_REASON_CHARS ? r.slice(0, MAX_ES_REASON_CHARS) : r);
      }
    }
    return { ok: true, results, reasons, retryStatuses };
  }

  /** Documents in the data stream (0 when it does not exist yet). Near real time: the last refresh interval may be missing. */
  async count(): Promise<number> {
    const r = await absentAs404(this.client.count({ index: this.names.dataStream }));
    return r?.count ?? 0;
  }

  /** Makes everything written so far searchable (tests, `umbra demo --once`). */
  async refresh(): Promise<void> {
    await absentAs404(this.client.indices.refresh({ index: this.names.dataStream }));
  }

  /** Events matching the query, newest first, from the data stream. */
  async query(q: EventQuery): Promise<UmbraEvent[]> {
    return (await this.page(q)).events;
  }

  /**
   * One page, newest first: sorted on @timestamp then event.id (both doc
   * values), the next page continues with `search_after` from the last hit's
   * sort values (the cursor key is its event.id).
   */
  async page(q: EventQuery): Promise<EventPage> {
    const limit = clampLimit(q.limit);
    const r = await absentAs404(this.client.search<UmbraEvent>({
      index: this.names.dataStream,
      size: limit + 1, // one more tells whether there is a next page
      sort: [{ '@timestamp': { order: 'desc' } }, { 'event.id': { order: 'desc' } }],
      query: { bool: { filter: esFilter(q) } },
      ...(q.after !== undefined ? { search_after: [q.after.tsMs, q.after.key] } : {}),
      track_total_hits: false,
    }));
    const hits = r?.hits.hits ?? [];
    const more = hits.length > limit;
    const kept = more ? hits.slice(0, limit) : hits;
    const last = kept[kept.length - 1];
    const sort = last?.sort as [number, string] | undefined;
    return {
      events: kept.map((h) => h._source!),
      next: more && sort ? { tsMs: Number(sort[0]), key: String(sort[1]) } : null,
    };
  }

  /** A summary as terms / cardinality / min / max / date_histogram aggregations over the ECS fields (no hits fetched). */
  async summarize<Q extends SummaryQuery>(q: Q): Promise<SummaryRows[Q['kind']]> {
    if (q.kind === 'timeline' && q.maxBuckets !== undefined && (q.filter.sinceMs === undefined || q.filter.untilMs === undefined)) {
      // An open range: the histogram could span more buckets than allowed (and than search.max_buckets). Look at the range first.
      const r = await absentAs404(this.client.search({
        index: this.names.dataStream, size: 0, query: { bool: { filter: esFilter(q.filter) } }, aggs: FIRST_LAST as never, track_total_hits: false,
      }));
      const a = r?.aggregations as Record<string, { value?: number | null }> | undefined;
      const first = a?.first?.value;
      const last = a?.last?.value;
      if (typeof first === 'number' && typeof last === 'number') {
        const n = (bucketStart(last, q.intervalMs) - bucketStart(first, q.intervalMs)) / q.intervalMs + 1;
        if (n > q.maxBuckets) throw new InvalidQueryError('interval', `interval: the matching events span ${n} buckets, at most ${q.maxBuckets}; give since and until or take a longer interval`);
      }
    }
    const body = summaryAggs(q);
    const r = await absentAs404(this.client.search({
      index: this.names.dataStream,
      size: 0,
      query: { bool: { filter: esFilter(q.filter) } },
      aggs: body as never,
      track_total_hits: false,
    }));
    return parseSummary(q, (r?.aggregations ?? {}) as Aggs) as SummaryRows[Q['kind']];
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** The response, or undefined when Elasticsearch answered 404 (object or index absent). */
async function absentAs404<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof errors.ResponseError && e.statusCode === 404) return undefined;
    throw e;
  }
}

function hashOf(obj: unknown): string | null {
  const meta = (obj as { _meta?: { umbra_hash?: unknown } } | undefined)?._meta;
  return typeof meta?.umbra_hash === 'string' ? meta.umbra_hash : null;
}

function errorType(e: EsClient.errors.ResponseError): string {
  const b = e.body as { error?: { type?: string } } | undefined;
  return b?.error?.type ?? '';
}

/** One line for logs and dead letters: the status and Elasticsearch's error type and reason, or the client error. */
export function describeError(e: unknown): string {
  if (e instanceof errors.ResponseError) {
    const b = e.body as { error?: { type?: string; reason?: string } | string } | undefined;
    const err = typeof b?.error === 'string' ? b.error : b?.error ? `${b.error.type ?? ''}: ${b.error.reason ?? ''}` : '';
    return `HTTP ${e.statusCode ?? '?'}${err ? ` ${err}` : ''}`;
  }
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** The bool filter of an event filter, on the ECS fields of collector/fields.ts (keyword, ip, date). */
export function esFilter(f: EventFilter): object[] {
  const filter: object[] = [];
  if (f.sinceMs !== undefined || f.untilMs !== undefined) {
    const range: Record<string, unknown> = { format: 'epoch_millis' };
    if (f.sinceMs !== undefined) range.gte = f.sinceMs;
    if (f.untilMs !== undefined) range.lt = f.untilMs;
    filter.push({ range: { '@timestamp': range } });
  }
  const term = (field: string, v: string | undefined): void => { if (v !== undefined) filter.push({ term: { [field]: v } }); };
  term('umbra.service.id', f.service);
  term('umbra.service.category', f.category);
  term('source.ip', f.sourceIp);
  term('user.name', f.user);
  term('event.action', f.action);
  term('destination.domain', f.domain);
  term('observer.id', f.agentId);
  if (f.domainSuffix !== undefined) {
    // The name or any name under it; the API admits only letters, digits, '-', '_' and '.', none special to wildcard.
    filter.push({ bool: { should: [{ term: { 'destination.domain': f.domainSuffix } }, { wildcard: { 'destination.domain': { value: `*.${f.domainSuffix}` } } }], minimum_should_match: 1 } });
  }
  return filter;
}

const FIRST_LAST = { first: { min: { field: '@timestamp' } }, last: { max: { field: '@timestamp' } } };
const distinct = (field: string): object => ({ cardinality: { field, precision_threshold: ES_CARDINALITY_PRECISION } });

/** The `aggs` of a summary request. Terms order: most documents first, ties by key (Elasticsearch's default order). */
export function summaryAggs(q: SummaryQuery): Record<string, object> {
  switch (q.kind) {
    case 'services':
      return {
        top: {
          terms: { field: 'umbra.service.id', size: q.limit },
          aggs: {
            sources: distinct('source.ip'), ...FIRST_LAST,
            latest: { top_hits: { size: 1, sort: [{ '@timestamp': { order: 'desc' } }], _source: { includes: ['umbra.service.name', 'umbra.service.vendor', 'umbra.service.category'] } } },
          },
        },
      };
    case 'sources':
      return {
        top: {
          terms: { field: 'source.ip', size: q.limit },
          aggs: { services: distinct('umbra.service.id'), ...FIRST_LAST, users: { terms: { field: 'user.name', size: MAX_USERS_PER_SOURCE, order: { _key: 'asc' } } } },
        },
      };
    case 'categories':
      return {
        top: {
          terms: { field: 'umbra.service.category', size: q.limit },
          aggs: { services: distinct('umbra.service.id'), sources: distinct('source.ip'), ...FIRST_LAST },
        },
      };
    case 'timeline': {
      const histogram = { field: '@timestamp', fixed_interval: `${q.intervalMs}ms`, min_doc_count: 1 };
      if (q.split === undefined) return { timeline: { date_histogram: histogram } };
      const field = q.split === 'service' ? 'umbra.service.id' : 'umbra.service.category';
      return { timeline: { date_histogram: histogram, aggs: { by: { terms: { field, size: MAX_TIMELINE_SPLIT_KEYS, missing: NONE_KEY } } } } };
    }
  }
}

interface Bucket {
  key: string | number;
  key_as_string?: string;
  doc_count: number;
  [sub: string]: unknown;
}
interface Terms { buckets: Bucket[]; sum_other_doc_count?: number }
type Aggs = Record<string, unknown>;
const valueOf = (b: Bucket, name: string): number => Number((b[name] as { value?: number | null } | undefined)?.value ?? 0);

/** The rows of a summary from the `aggregations` of the answer. */
export function parseSummary(q: SummaryQuery, aggs: Aggs): SummaryRows[keyof SummaryRows] {
  if (q.kind === 'timeline') {
    const buckets = (aggs.timeline as Terms | undefined)?.buckets ?? [];
    return buckets.filter((b) => b.doc_count > 0).map((b): TimelineBucket => {
      if (q.split === undefined) return { startMs: Number(b.key), events: b.doc_count };
      const by = b.by as Terms | undefined;
      const keys = new Map<string, number>((by?.buckets ?? []).map((k) => [String(k.key), k.doc_count]));
      if (by?.sum_other_doc_count) keys.set(OTHER_KEY, (keys.get(OTHER_KEY) ?? 0) + by.sum_other_doc_count);
      return { startMs: Number(b.key), events: b.doc_count, by: capSplit(keys) };
    });
  }
  const top = (aggs.top as Terms | undefined)?.buckets ?? [];
  const firstLast = (b: Bucket): { firstMs: number; lastMs: number } => ({ firstMs: valueOf(b, 'first'), lastMs: valueOf(b, 'last') });
  switch (q.kind) {
    case 'services':
      return top.map((b): ServiceSummary => {
        const src = ((b.latest as { hits?: { hits?: { _source?: { umbra?: { service?: Record<string, unknown> } } }[] } } | undefined)?.hits?.hits?.[0]?._source?.umbra?.service) ?? {};
        const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
        return { id: String(b.key), name: str(src.name), vendor: str(src.vendor), category: str(src.category), events: b.doc_count, sources: valueOf(b, 'sources'), ...firstLast(b) };
      });
    case 'sources':
      return top.map((b): SourceSummary => ({
        sourceIp: String(b.key),
        users: ((b.users as Terms | undefined)?.buckets ?? []).map((u) => String(u.key)),
        events: b.doc_count, services: valueOf(b, 'services'), ...firstLast(b),
      }));
    case 'categories':
      return top.map((b): CategorySummary => ({ category: String(b.key), events: b.doc_count, services: valueOf(b, 'services'), sources: valueOf(b, 'sources'), ...firstLast(b) }));
  }
}
