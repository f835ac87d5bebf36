// The `agent:` section of umbra.yaml (`umbra agent --config FILE`): the same
// options as the command line, in snake_case; a command-line option overrides
// the file. Validated by a strict JSON Schema (unknown keys are errors naming the
// file and key). Other top-level sections (collector, store, ...) belong to the
// collector and are not read here. Relative paths are relative to the file.
//
//   agent:
//     interfaces: [eth1]            # one or more
//     collector_url: https://collector.example:8443
//     token_file: /etc/umbra/agent.token
//     ca_file: /etc/umbra/collector.pem      # or insecure: true (tests only)
//     spool_dir: /var/lib/umbra/spool
//     spool_max_bytes: 268435456
//     fsync: interval                # always | interval | never
//     observer_id: gw-1
//     observer_name: Gateway 1
//     filter: "..."                  # BPF; default the built-in prefilter
//     ring_mb: 16                    # kernel ring per interface, MiB
//     user: nobody
//     allow_root: false
//     keep_root: false
//     signatures: [/etc/umbra/signatures]
//     stats_interval_seconds: 60
//     metrics_listen: 127.0.0.1:9464 # Prometheus GET /metrics (plain HTTP); off when absent
//     all: false
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import { UmbraError } from '../common/errors.js';
import { MAX_CONFIG_FILE_BYTES } from '../common/limits.js';

// ajv and yaml are loaded only when a configuration file is read: an agent started
// with options alone does not carry them (~1.3 MB of heap, ~3 MB of RSS).
const requireLazy = createRequire(import.meta.url);

export interface AgentFileConfig {
  interfaces?: string[];
  collectorUrl?: string;
  tokenFile?: string;
  caFile?: string;
  insecure?: boolean;
  spoolDir?: string;
  spoolMaxBytes?: number;
  fsync?: 'always' | 'interval' | 'never';
  observerId?: string;
  observerName?: string;
  filter?: string;
  ringMb?: number;
  user?: string;
  allowRoot?: boolean;
  keepRoot?: boolean;
  signatures?: string[];
  statsIntervalSeconds?: number;
  /** `HOST:PORT` or a port (agent/metrics.ts parseMetricsListen checks it). */
  metricsListen?: string;
  all?: boolean;
}

export const AGENT_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    interfaces: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    collector_url: { type: 'string', pattern: '^https://' },
    token_file: { type: 'string', minLength: 1 },
    ca_file: { type: 'string', minLength: 1 },
    insecure: { type: 'boolean' },
    spool_dir: { type: 'string', minLength: 1 },
    spool_max_bytes: { type: 'integer', minimum: 1 },
    fsync: { type: 'string', enum: ['always', 'interval', 'never'] },
    observer_id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    observer_name: { type: 'string', minLength: 1, maxLength: 256 },
    filter: { type: 'string' },
    ring_mb: { type: 'number', minimum: 1 },
    user: { type: 'string', minLength: 1 },
    allow_root: { type: 'boolean' },
    keep_root: { type: 'boolean' },
    signatures: { type: 'array', items: { type: 'string', minLength: 1 } },
    stats_interval_seconds: { type: 'number', minimum: 0 },
    metrics_listen: { type: ['string', 'integer'], minLength: 1, minimum: 0, maximum: 65535 },
    all: { type: 'boolean' },
  },
} as const;

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const at = `/agent${e.instancePath}`;
  if (e.keyword === 'additionalProperties') return `${at}/${String(p.additionalProperty)}: unknown key`;
  if (e.keyword === 'enum') return `${at}: must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
  if (e.keyword === 'pattern' && String(p.pattern) === '^https://') return `${at}: must be an https:// URL`;
  if (e.keyword === 'pattern') return `${at}: must be 1-64 letters, digits, dots, hyphens or underscores, starting with a letter or digit`;
  return `${at}: ${e.message ?? e.keyword}`;
}

/** Reads the `agent:` section of a YAML file (a file without one is an error). */
export function loadAgentConfig(file: string): AgentFileConfig {
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_CONFIG_FILE_BYTES) throw new UmbraError('UMBRA_E_CONFIG', file, `larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof UmbraError) throw e;
    throw new UmbraError('UMBRA_E_CONFIG', file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { parseDocument } = requireLazy('yaml') as typeof import('yaml');
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new UmbraError('UMBRA_E_CONFIG', file, `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UmbraError('UMBRA_E_CONFIG', file, 'not a YAML mapping');
  const section = (raw as Record<string, unknown>).agent;
  if (section === undefined) throw new UmbraError('UMBRA_E_CONFIG', file, '/agent: required key missing (the agent reads its options from the agent: section)');
  return parseAgentSection(section, file);
}

/** Validates an `agent:` section object; paths resolved against the file's directory. */
export function parseAgentSection(section: unknown, file: string, baseDir = dirname(resolve(file))): AgentFileConfig {
  const { Ajv } = requireLazy('ajv') as typeof import('ajv');
  const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(AGENT_CONFIG_SCHEMA);
  if (!validate(section)) {
    const problems = [...new Set((validate.errors ?? []).map(describe))];
    throw new UmbraError('UMBRA_E_CONFIG', file, problems.length === 1 ? problems[0]! : `${problems.length} errors\n  ${file}: ${problems.join(`\n  ${file}: `)}`);
  }
  const s = section as Record<string, any>;
  const path = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(baseDir, p));
  const out: AgentFileConfig = {
    interfaces: s.interfaces,
    collectorUrl: s.collector_url,
    tokenFile: path(s.token_file),
    caFile: path(s.ca_file),
    insecure: s.insecure,
    spoolDir: path(s.spool_dir),
    spoolMaxBytes: s.spool_max_bytes,
    fsync: s.fsync,
    observerId: s.observer_id,
    observerName: s.observer_name,
    filter: s.filter,
    ringMb: s.ring_mb,
    user: s.user,
    allowRoot: s.allow_root,
    keepRoot: s.keep_root,
    signatures: (s.signatures as string[] | undefined)?.map((d) => resolve(baseDir, d)),
    statsIntervalSeconds: s.stats_interval_seconds,
    metricsListen: s.metrics_listen === undefined ? undefined : String(s.metrics_listen),
    all: s.all,
  };
  for (const k of Object.keys(out) as (keyof AgentFileConfig)[]) if (out[k] === undefined) delete out[k];
  return out;
}
