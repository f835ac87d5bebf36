// `umbra.yaml`: the one configuration file of the collector (deploy/umbra.example.yaml
// documents every option). Parsed with `yaml`, validated by a strict JSON Schema
// (additionalProperties: false everywhere), so a typo is an error naming the file
// and the key path. Secrets (agent and admin tokens) may be given as a SHA-256
// digest, or read from a file or an environment variable and hashed at load:
// the plain token never stays in the config object. Relative paths are relative
// to the directory of the config file.
import { BoundedFileError, readBoundedFile, secretFileWarning } from '../common/bounded-file.js';
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { UmbraError } from '../common/errors.js';
import { hashToken, parseSha256Hex } from './auth/tokens.js';
import {
  DEFAULT_ILM_DELETE_AFTER_DAYS, DEFAULT_ILM_ROLLOVER_MAX_AGE, DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE, DEFAULT_OUTBOX_FILE, DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_EVENTS,
} from './store/es-defaults.js';

/** Defaults of `collector.listen`. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
export const DEFAULT_LISTEN_PORT = 8443;
/** Largest request body accepted as sent on the wire (compressed), bytes. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Largest request body after gzip decompression, bytes (a gzip bomb stops here). */
export const DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024;
/**
 * Largest max_body_bytes / max_decoded_bytes accepted: 1 GiB. Beyond Node's largest Buffer
 * (4 GiB on Node 20) gunzip refuses to start, and every gzip batch would be refused.
 */
export const MAX_LIMIT_BYTES = 1024 * 1024 * 1024;
/** Largest single NDJSON line (one event), bytes. */
export const DEFAULT_MAX_LINE_BYTES = 256 * 1024;
/** Most events (lines) in one batch. */
export const DEFAULT_MAX_BATCH_EVENTS = 10_000;
/** Most batches being decoded or stored at once; beyond, 429 with Retry-After. */
export const DEFAULT_MAX_INFLIGHT_BATCHES = 8;
/** Default data directory, relative to the config file. */
export const DEFAULT_DATA_DIR = 'umbra-data';
/** Default SQLite file name inside the data directory. */
export const DEFAULT_SQLITE_FILE = 'umbra.sqlite';
/** Default index prefix in Elasticsearch. */
export const DEFAULT_ES_INDEX_PREFIX = 'umbra';
/** Longest token file read, and largest configuration file read. */
export { MAX_CONFIG_FILE_BYTES, MAX_TOKEN_FILE_BYTES } from '../common/limits.js';
import { MAX_CONFIG_FILE_BYTES, MAX_TOKEN_FILE_BYTES } from '../common/limits.js';

/** An agent or admin credential: only the SHA-256 of the token is kept. */
export interface Credential {
  /** Agent id (agents) or a name for the holder (admin tokens). */
  id: string;
  /** SHA-256 digest of the token (32 bytes). */
  tokenSha256: Buffer;
  /** Where the token came from, for messages: `token_sha256`, `token_file: PATH`, `token_env: NAME`. */
  origin: string;
}

export interface Limits {
  maxBodyBytes: number;
  maxDecodedBytes: number;
  maxLineBytes: number;
  maxBatchEvents: number;
  maxInflightBatches: number;
}

/**
 * `collector.metrics`: Prometheus `GET /metrics` on the HTTPS listener. A scrape
 * needs a bearer token: one of `tokens` (given like admin tokens; they open
 * /metrics only, not the query API) or an admin token.
 */
export interface MetricsConfig {
  /** Default true; false: /metrics answers 404. */
  enabled: boolean;
  tokens: Credential[];
}

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** Set: clients must present a certificate signed by this CA (mTLS). */
  clientCaFile?: string;
}

/** `store.elasticsearch`: the cluster, what is installed there, and the durable outbox in front of it. */
export interface ElasticsearchConfig {
  node: string;
  indexPrefix: string;
  /** Credentials, read from their file or environment variable at load (the cluster needs the secret itself). */
  apiKey?: string;
  username?: string;
  password?: string;
  /** CA of the cluster's certificate (PEM). */
  caFile?: string;
  /** Install the ILM policy, templates and data stream at start (false: done beforehand from deploy/elasticsearch/). */
  install: boolean;
  ilm: { rolloverMaxPrimaryShardSize: string; rolloverMaxAge: string; deleteAfterDays: number };
  outbox: { path: string; maxEvents: number; maxBytes: number; synchronous: 'full' | 'normal' };
}

export type StoreConfig =
  | { type: 'sqlite'; sqlite: { path: string; synchronous: 'full' | 'normal' } }
  | { type: 'elasticsearch'; elasticsearch: ElasticsearchConfig };

export interface UmbraConfig {
  /** The file this came from, or a label (`(demo)`) for a config built in code. */
  file: string;
  dataDir: string;
  collector: {
    listen: { host: string; port: number };
    tls: TlsConfig;
    agents: Credential[];
    adminTokens: Credential[];
    limits: Limits;
    metrics: MetricsConfig;
  };
  store: StoreConfig;
  signatures: { extraDirs: string[]; status: Record<string, string> };
  /** What is valid but unwise, each naming the key and file (a token file every user may read); `umbra collector` prints them. */
  warnings: string[];
}

const TOKEN_SOURCE = {
  token_sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
  token_file: { type: 'string', minLength: 1 },
  token_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
} as const;

/** A list of named tokens (admin and metrics tokens). */
const NAMED_TOKENS = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, ...TOKEN_SOURCE },
  },
} as const;

const POSITIVE_INT = { type: 'integer', minimum: 1 } as const;

/** The JSON Schema of `umbra.yaml`. Every object is closed (unknown keys are errors). */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['collector'],
  properties: {
    data_dir: { type: 'string', minLength: 1 },
    collector: {
      type: 'object',
      additionalProperties: false,
      required: ['tls'],
      properties: {
        listen: {
          type: 'object',
          additionalProperties: false,
          properties: {
            host: { type: 'string', minLength: 1 },
            port: { type: 'integer', minimum: 0, maximum: 65535 },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert_file', 'key_file'],
          properties: {
            cert_file: { type: 'string', minLength: 1 },
            key_file: { type: 'string', minLength: 1 },
            client_ca_file: { type: 'string', minLength: 1 },
          },
        },
        agents: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id'],
            properties: { id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }, ...TOKEN_SOURCE },
          },
        },
        admin_tokens: NAMED_TOKENS,
        metrics: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            tokens: NAMED_TOKENS,
          },
        },
        limits: {
          type: 'object',
          additionalProperties: false,
          properties: {
            max_body_bytes: { type: 'integer', minimum: 1, maximum: MAX_LIMIT_BYTES },
            max_decoded_bytes: { type: 'integer', minimum: 1, maximum: MAX_LIMIT_BYTES },
            max_line_bytes: POSITIVE_INT,
            max_batch_events: POSITIVE_INT,
            max_inflight_batches: POSITIVE_INT,
          },
        },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: { type: 'string', enum: ['sqlite', 'elasticsearch'] },
        sqlite: {
          type: 'object',
          additionalProperties: false,
          properties: {
            path: { type: 'string', minLength: 1 },
            synchronous: { type: 'string', enum: ['full', 'normal'] },
          },
        },
        elasticsearch: {
          type: 'object',
          additionalProperties: false,
          properties: {
            node: { type: 'string', pattern: '^https?://' },
            index_prefix: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
            api_key_file: { type: 'string', minLength: 1 },
            api_key_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
            username: { type: 'string', minLength: 1 },
            password_file: { type: 'string', minLength: 1 },
            password_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
            ca_file: { type: 'string', minLength: 1 },
            install: { type: 'boolean' },
            ilm: {
              type: 'object',
              additionalProperties: false,
              properties: {
                rollover_max_primary_shard_size: { type: 'string', pattern: '^[0-9]+(b|kb|mb|gb|tb|pb)$' },
                rollover_max_age: { type: 'string', pattern: '^[0-9]+(d|h|m|s)$' },
                delete_after_days: POSITIVE_INT,
              },
            },
            outbox: {
              type: 'object',
              additionalProperties: false,
              properties: {
                path: { type: 'string', minLength: 1 },
                max_events: POSITIVE_INT,
                max_bytes: POSITIVE_INT,
                synchronous: { type: 'string', enum: ['full', 'normal'] },
              },
            },
          },
        },
      },
    },
    // The agent's own section (`umbra agent --config`), validated strictly by
    // agent/config.ts; one umbra.yaml may serve a gateway that runs both.
    agent: { type: 'object' },
    signatures: {
      type: 'object',
      additionalProperties: false,
      properties: {
        extra_dirs: { type: 'array', items: { type: 'string', minLength: 1 } },
        status: {
          type: 'object',
          additionalProperties: { type: 'string', enum: ['sanctioned', 'monitored', 'unsanctioned'] },
        },
      },
    },
  },
} as const;

let compiled: ValidateFunction | null = null;

function validator(): ValidateFunction {
  return (compiled ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(CONFIG_SCHEMA));
}

const PATTERN_MESSAGES: Record<string, string> = {
  [TOKEN_SOURCE.token_sha256.pattern]: 'must be 64 hexadecimal digits (the SHA-256 of the token; `umbra collector token` prints one)',
  [TOKEN_SOURCE.token_env.pattern]: 'must be an environment variable name',
  [CONFIG_SCHEMA.properties.collector.properties.agents.items.properties.id.pattern]: 'must be 1-64 letters, digits, dots, hyphens or underscores, starting with a letter or digit',
  '^https?://': 'must be an http:// or https:// URL',
  [CONFIG_SCHEMA.properties.store.properties.elasticsearch.properties.index_prefix.pattern]: 'must be lower-case letters, digits, dots, hyphens or underscores',
  [CONFIG_SCHEMA.properties.store.properties.elasticsearch.properties.ilm.properties.rollover_max_primary_shard_size.pattern]: 'must be a size with its unit, e.g. 50gb',
  [CONFIG_SCHEMA.properties.store.properties.elasticsearch.properties.ilm.properties.rollover_max_age.pattern]: 'must be a duration with its unit, e.g. 30d',
};

/** One ajv error as `PATH: message`, PATH a JSON pointer into the file. */
function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const at = e.instancePath || '/';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${e.instancePath}/${String(p.additionalProperty)}: unknown key`;
    case 'required':
      return `${e.instancePath}/${String(p.missingProperty)}: required key missing`;
    case 'enum':
      return `${at}: must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'pattern':
      return `${at}: ${PATTERN_MESSAGES[String(p.pattern)] ?? `must match ${String(p.pattern)}`}`;
    default:
      return `${at}: ${e.message ?? e.keyword}`;
  }
}

function configError(file: string, problems: string[]): UmbraError {
  return new UmbraError('UMBRA_E_CONFIG', file, problems.length === 1 ? problems[0]! : `${problems.length} errors\n  ${file}: ${problems.join(`\n  ${file}: `)}`);
}

export interface LoadConfigOptions {
  /** Environment for `token_env` (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Reads, parses and validates a config file; throws UmbraError(UMBRA_E_CONFIG) naming file and key. */
export function loadConfig(file: string, opts: LoadConfigOptions = {}): UmbraConfig {
  let text: string;
  try {
    text = readBoundedFile(file, MAX_CONFIG_FILE_BYTES).toString('utf8');
  } catch (e) {
    throw configError(file, [(e as BoundedFileError).reason === 'too_large' ? (e as Error).message : `cannot read: ${(e as Error).message}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw configError(file, doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
    }));
  }
  const raw = doc.toJS() ?? {};
  return parseConfig(raw, file, { ...opts, baseDir: dirname(resolve(file)) });
}

export interface ParseConfigOptions extends LoadConfigOptions {
  /** Directory relative paths are resolved against (default: the current directory). */
  baseDir?: string;
}

/**
 * Validates an already-parsed config object (what `umbra demo` builds in code)
 * and resolves defaults, paths and secrets. `file` names it in errors.
 */
export function parseConfig(raw: unknown, file: string, opts: ParseConfigOptions = {}): UmbraConfig {
  const validate = validator();
  if (!validate(raw)) {
    const seen = new Set<string>();
    const problems = (validate.errors ?? []).map(describe).filter((m) => !seen.has(m) && seen.add(m));
    throw configError(file, problems);
  }
  const r = raw as RawConfig;
  const env = opts.env ?? process.env;
  const base = opts.baseDir ?? process.cwd();
  const path = (p: string): string => resolve(base, p);
  const problems: string[] = [];
  const warnings: string[] = [];
  /** Reads a secret file; a mode that lets others read or change it is a warning naming the key. */
  const readSecret = (f: string, at: string): Buffer => {
    const stat = { mode: 0 };
    const bytes = readBoundedFile(f, MAX_TOKEN_FILE_BYTES, stat);
    const w = secretFileWarning(f, stat.mode, "the service's group");
    if (w) warnings.push(`${at}: ${w}`);
    return bytes;
  };

  const credential = (c: RawCredential, at: string, id: string): Credential | null => {
    const given = (['token_sha256', 'token_file', 'token_env'] as const).filter((k) => c[k] !== undefined);
    if (given.length !== 1) {
      problems.push(`${at}: ${given.length === 0 ? 'needs one of token_sha256, token_file, token_env' : `give only one of ${given.join(', ')}`}`);
      return null;
    }
    if (c.token_sha256 !== undefined) return { id, tokenSha256: parseSha256Hex(c.token_sha256), origin: 'token_sha256' };
    if (c.token_file !== undefined) {
      const f = path(c.token_file);
      let token: string;
      try {
        token = readSecret(f, `${at}/token_file`).toString('utf8').trim();
      } catch (e) {
        problems.push((e as BoundedFileError).reason === 'too_large'
          ? `${at}/token_file: ${f}: larger than ${MAX_TOKEN_FILE_BYTES} bytes, not a token file`
          : `${at}/token_file: cannot read ${f}: ${(e as Error).message}`);
        return null;
      }
      if (!token) {
        problems.push(`${at}/token_file: ${f} is empty`);
        return null;
      }
      return { id, tokenSha256: hashToken(token), origin: `token_file: ${f}` };
    }
    const name = c.token_env!;
    const token = env[name]?.trim();
    if (!token) {
      problems.push(`${at}/token_env: environment variable ${name} is not set or empty`);
      return null;
    }
    return { id, tokenSha256: hashToken(token), origin: `token_env: ${name}` };
  };

  const col = r.collector;
  if (!col) throw configError(file, ['/collector: required key missing']);
  const agents: Credential[] = [];
  const seenAgents = new Set<string>();
  (col.agents ?? []).forEach((a, i) => {
    if (seenAgents.has(a.id)) problems.push(`/collector/agents/${i}/id: agent '${a.id}' is listed twice`);
    seenAgents.add(a.id);
    const c = credential(a, `/collector/agents/${i}`, a.id);
    if (c) agents.push(c);
  });
  const adminTokens: Credential[] = [];
  (col.admin_tokens ?? []).forEach((a, i) => {
    const c = credential(a, `/collector/admin_tokens/${i}`, a.name);
    if (c) adminTokens.push(c);
  });
  const metricsTokens: Credential[] = [];
  (col.metrics?.tokens ?? []).forEach((a, i) => {
    const c = credential(a, `/collector/metrics/tokens/${i}`, a.name);
    if (c) metricsTokens.push(c);
  });
  const all = [...agents, ...adminTokens, ...metricsTokens];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      if (all[i]!.tokenSha256.equals(all[j]!.tokenSha256)) problems.push(`/collector: '${all[i]!.id}' and '${all[j]!.id}' have the same token; each agent, admin and metrics scraper needs its own`);
    }
  }

  const lim = col.limits ?? {};
  const limits: Limits = {
    maxBodyBytes: lim.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    maxDecodedBytes: lim.max_decoded_bytes ?? DEFAULT_MAX_DECODED_BYTES,
    maxLineBytes: lim.max_line_bytes ?? DEFAULT_MAX_LINE_BYTES,
    maxBatchEvents: lim.max_batch_events ?? DEFAULT_MAX_BATCH_EVENTS,
    maxInflightBatches: lim.max_inflight_batches ?? DEFAULT_MAX_INFLIGHT_BATCHES,
  };
  if (limits.maxLineBytes > limits.maxDecodedBytes) problems.push(`/collector/limits/max_line_bytes: larger than max_decoded_bytes (${limits.maxDecodedBytes})`);

  const dataDir = path(r.data_dir ?? DEFAULT_DATA_DIR);
  const st = r.store ?? {};
  const type = st.type ?? 'sqlite';
  let store: StoreConfig;
  if (type === 'sqlite') {
    if (st.elasticsearch) problems.push('/store/elasticsearch: given but store.type is sqlite');
    store = { type, sqlite: { path: st.sqlite?.path ? path(st.sqlite.path) : resolve(dataDir, DEFAULT_SQLITE_FILE), synchronous: st.sqlite?.synchronous ?? 'full' } };
  } else {
    const e = st.elasticsearch ?? {};
    if (!e.node) problems.push('/store/elasticsearch/node: required when store.type is elasticsearch');
    if (st.sqlite) problems.push('/store/sqlite: given but store.type is elasticsearch');
    const secret = (fileKey: 'api_key_file' | 'password_file', envKey: 'api_key_env' | 'password_env'): string | undefined => {
      const at = '/store/elasticsearch';
      if (e[fileKey] !== undefined && e[envKey] !== undefined) { problems.push(`${at}: give only one of ${fileKey}, ${envKey}`); return undefined; }
      if (e[fileKey] !== undefined) {
        const f = path(e[fileKey]);
        try {
          const v = readSecret(f, `${at}/${fileKey}`).toString('utf8').trim();
          if (!v) problems.push(`${at}/${fileKey}: ${f} is empty`);
          return v || undefined;
        } catch (err) {
          problems.push((err as BoundedFileError).reason === 'too_large'
            ? `${at}/${fileKey}: ${f}: larger than ${MAX_TOKEN_FILE_BYTES} bytes, not a secret file`
            : `${at}/${fileKey}: cannot read ${f}: ${(err as Error).message}`);
          return undefined;
        }
      }
      if (e[envKey] !== undefined) {
        const v = env[e[envKey]]?.trim();
        if (!v) problems.push(`${at}/${envKey}: environment variable ${e[envKey]} is not set or empty`);
        return v || undefined;
      }
      return undefined;
    };
    const es: ElasticsearchConfig = {
      node: e.node ?? '',
      indexPrefix: e.index_prefix ?? DEFAULT_ES_INDEX_PREFIX,
      install: e.install ?? true,
      ilm: {
        rolloverMaxPrimaryShardSize: e.ilm?.rollover_max_primary_shard_size ?? DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE,
        rolloverMaxAge: e.ilm?.rollover_max_age ?? DEFAULT_ILM_ROLLOVER_MAX_AGE,
        deleteAfterDays: e.ilm?.delete_after_days ?? DEFAULT_ILM_DELETE_AFTER_DAYS,
      },
      outbox: {
        path: e.outbox?.path ? path(e.outbox.path) : resolve(dataDir, DEFAULT_OUTBOX_FILE),
        maxEvents: e.outbox?.max_events ?? DEFAULT_OUTBOX_MAX_EVENTS,
        maxBytes: e.outbox?.max_bytes ?? DEFAULT_OUTBOX_MAX_BYTES,
        synchronous: e.outbox?.synchronous ?? 'full',
      },
    };
    const apiKey = secret('api_key_file', 'api_key_env');
    const password = secret('password_file', 'password_env');
    if (apiKey !== undefined) es.apiKey = apiKey;
    if (e.username !== undefined) {
      if (apiKey !== undefined) problems.push('/store/elasticsearch: give either an API key or a username and password, not both');
      if (password === undefined && e.password_file === undefined && e.password_env === undefined) problems.push('/store/elasticsearch/username: needs password_file or password_env');
      es.username = e.username;
      if (password !== undefined) es.password = password;
    } else if (password !== undefined) problems.push('/store/elasticsearch: a password needs a username');
    if (e.ca_file !== undefined) es.caFile = path(e.ca_file);
    store = { type, elasticsearch: es };
  }

  if (problems.length) throw configError(file, problems);
  const tls: TlsConfig = { certFile: path(col.tls.cert_file), keyFile: path(col.tls.key_file) };
  try {
    const w = secretFileWarning(tls.keyFile, statSync(tls.keyFile).mode, "the service's group");
    if (w) warnings.push(`/collector/tls/key_file: ${w}`);
  } catch {
    /* not there: the collector says so when it reads it */
  }
  if (col.tls.client_ca_file) tls.clientCaFile = path(col.tls.client_ca_file);
  return {
    file,
    dataDir,
    collector: {
      listen: { host: col.listen?.host ?? DEFAULT_LISTEN_HOST, port: col.listen?.port ?? DEFAULT_LISTEN_PORT },
      tls,
      agents,
      adminTokens,
      limits,
      metrics: { enabled: col.metrics?.enabled ?? true, tokens: metricsTokens },
    },
    store,
    signatures: { extraDirs: (r.signatures?.extra_dirs ?? []).map(path), status: { ...(r.signatures?.status ?? {}) } },
    warnings,
  };
}

interface RawElasticsearch {
  node?: string;
  index_prefix?: string;
  api_key_file?: string;
  api_key_env?: string;
  username?: string;
  password_file?: string;
  password_env?: string;
  ca_file?: string;
  install?: boolean;
  ilm?: { rollover_max_primary_shard_size?: string; rollover_max_age?: string; delete_after_days?: number };
  outbox?: { path?: string; max_events?: number; max_bytes?: number; synchronous?: 'full' | 'normal' };
}
interface RawCredential { token_sha256?: string; token_file?: string; token_env?: string }
interface RawConfig {
  data_dir?: string;
  collector?: {
    listen?: { host?: string; port?: number };
    tls: { cert_file: string; key_file: string; client_ca_file?: string };
    agents?: (RawCredential & { id: string })[];
    admin_tokens?: (RawCredential & { name: string })[];
    metrics?: { enabled?: boolean; tokens?: (RawCredential & { name: string })[] };
    limits?: { max_body_bytes?: number; max_decoded_bytes?: number; max_line_bytes?: number; max_batch_events?: number; max_inflight_batches?: number };
  };
  store?: { type?: 'sqlite' | 'elasticsearch'; sqlite?: { path?: string; synchronous?: 'full' | 'normal' }; elasticsearch?: RawElasticsearch };
  signatures?: { extra_dirs?: string[]; status?: Record<string, string> };
}
