// What the collector installs in Elasticsearch, generated from the one field
// declaration (collector/fields.ts): the ILM policy, two component templates
// (mappings; settings with the policy) and the index template of the data stream
// `<prefix>-events`. Each carries `_meta.umbra_hash`, a digest of its own body,
// so that a start finding the same hash leaves it alone (installation is
// idempotent and never destructive).
import { createHash } from 'node:crypto';
import { FIELDS, type FieldDecl } from '../fields.js';

import { DEFAULT_ILM_DELETE_AFTER_DAYS, DEFAULT_ILM_ROLLOVER_MAX_AGE, DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE } from './es-defaults.js';

export { DEFAULT_ILM_DELETE_AFTER_DAYS, DEFAULT_ILM_ROLLOVER_MAX_AGE, DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE };
/** Index template priority: above Elastic's built-in templates (100, 200 for logs/metrics with `*-*-*`). */
export const ES_TEMPLATE_PRIORITY = 500;
/** Version of the installed objects' shape (bumped when the generator changes meaningfully). */
export const ES_TEMPLATE_VERSION = 1;

export interface IlmOptions {
  rolloverMaxPrimaryShardSize: string;
  rolloverMaxAge: string;
  deleteAfterDays: number;
}

export const DEFAULT_ILM: IlmOptions = {
  rolloverMaxPrimaryShardSize: DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE,
  rolloverMaxAge: DEFAULT_ILM_ROLLOVER_MAX_AGE,
  deleteAfterDays: DEFAULT_ILM_DELETE_AFTER_DAYS,
};

/** Names of everything installed for one prefix. */
export interface EsNames {
  dataStream: string;
  ilmPolicy: string;
  mappingsTemplate: string;
  settingsTemplate: string;
  indexTemplate: string;
}

export function esNames(prefix: string): EsNames {
  const ds = `${prefix}-events`;
  return { dataStream: ds, ilmPolicy: `${ds}-policy`, mappingsTemplate: `${ds}-mappings`, settingsTemplate: `${ds}-settings`, indexTemplate: ds };
}

type Mapping = { type?: string; properties?: Record<string, Mapping>; ignore_above?: number };

/** Longest keyword indexed (longer values stay in _source, unindexed): ECS's own default. */
export const KEYWORD_IGNORE_ABOVE = 1024;

/** The `properties` tree of the declaration (dotted names → nested objects). */
export function buildMappingProperties(fields: readonly FieldDecl[] = FIELDS): Record<string, Mapping> {
  const root: Record<string, Mapping> = {};
  for (const d of fields) {
    const parts = d.name === '@timestamp' ? ['@timestamp'] : d.name.split('.');
    let level = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const node = (level[parts[i]!] ??= { properties: {} });
      if (node.type !== undefined && node.type !== 'object') throw new Error(`fields: ${d.name} is under ${parts.slice(0, i + 1).join('.')}, declared ${node.type}`);
      level = node.properties ??= {};
    }
    const leaf = parts[parts.length - 1]!;
    const existing = level[leaf];
    if (d.type === 'object') {
      level[leaf] = { ...(existing ?? {}), type: 'object', properties: existing?.properties ?? {} };
    } else {
      if (existing) throw new Error(`fields: ${d.name} declared twice or also as a parent`);
      level[leaf] = d.type === 'keyword' ? { type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE } : { type: d.type };
    }
  }
  return root;
}

/**
 * The mappings: strict about what is indexed, never about what is stored. With
 * `dynamic: false` a field missing from the declaration stays in `_source`
 * (nothing lost) but is not indexed; a declared field with a wrong value type
 * is a 400 for that document (dead-lettered with the reason).
 */
export function buildMappings(fields: readonly FieldDecl[] = FIELDS): Record<string, unknown> {
  return { dynamic: false, date_detection: false, properties: buildMappingProperties(fields) };
}

export function buildIlmPolicy(ilm: IlmOptions = DEFAULT_ILM): Record<string, unknown> {
  return withHash({
    phases: {
      hot: { min_age: '0ms', actions: { rollover: { max_primary_shard_size: ilm.rolloverMaxPrimaryShardSize, max_age: ilm.rolloverMaxAge } } },
      delete: { min_age: `${ilm.deleteAfterDays}d`, actions: { delete: {} } },
    },
  });
}

export function buildMappingsTemplate(fields: readonly FieldDecl[] = FIELDS): Record<string, unknown> {
  return withHash({ template: { mappings: buildMappings(fields) } });
}

export function buildSettingsTemplate(names: EsNames): Record<string, unknown> {
  return withHash({ template: { settings: { 'index.lifecycle.name': names.ilmPolicy, 'index.codec': 'best_compression' } } });
}

export function buildIndexTemplate(names: EsNames): Record<string, unknown> {
  return withHash({
    index_patterns: [`${names.dataStream}*`],
    data_stream: {},
    composed_of: [names.mappingsTemplate, names.settingsTemplate],
    priority: ES_TEMPLATE_PRIORITY,
  });
}

/** Adds `_meta: { managed_by, version, umbra_hash }`, the hash of the body without `_meta`. */
function withHash(body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, _meta: { managed_by: 'umbra', version: ES_TEMPLATE_VERSION, umbra_hash: bodyHash(body) } };
}

export function bodyHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
}

/** Where the generated install files for the default prefix live (for operators who install them as an admin). */
export const ES_DEPLOY_DIR = 'deploy/elasticsearch';

/**
 * The request bodies an operator can PUT instead of letting the collector
 * install them (store.elasticsearch.install: false): file name → [request line, body].
 */
export function deployFiles(prefix = 'umbra', ilm: IlmOptions = DEFAULT_ILM): Record<string, { request: string; body: Record<string, unknown> }> {
  const n = esNames(prefix);
  return {
    [`${n.ilmPolicy}.json`]: { request: `PUT _ilm/policy/${n.ilmPolicy}`, body: { policy: buildIlmPolicy(ilm) } },
    [`${n.mappingsTemplate}.json`]: { request: `PUT _component_template/${n.mappingsTemplate}`, body: buildMappingsTemplate() },
    [`${n.settingsTemplate}.json`]: { request: `PUT _component_template/${n.settingsTemplate}`, body: buildSettingsTemplate(n) },
    [`${n.indexTemplate}.json`]: { request: `PUT _index_template/${n.indexTemplate}`, body: buildIndexTemplate(n) },
  };
}
