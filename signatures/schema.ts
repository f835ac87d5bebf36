// JSON Schema of one catalog file (signatures/README.md), checked with ajv.
// Every object rejects unknown keys, so a typo is an error that names the key;
// every error names the file and the JSON path (JSON Pointer) of the value.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';

// ajv is loaded on first validation only: a normal start reads the compiled catalog
// (compiled.ts) and never needs it (it costs ~150 ms of start-up).
const requireLazy = createRequire(import.meta.url);
import { CATEGORIES, ENDPOINT_KINDS } from './types.js';

/** One problem found in a catalog file. */
export interface CatalogIssue {
  file: string;
  /** JSON Pointer into the file's data, e.g. `/services/3/endpoints/web/0`; `/` for the whole file. */
  path: string;
  message: string;
}

const SOURCE_URL = { type: 'string', pattern: '^https?://[^\\s]+$' } as const;
const ISO_COUNTRY = { type: 'string', pattern: '^[A-Z]{2}$' } as const;
const UNKNOWN = { const: 'unknown' } as const;
const ID_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';

/** A risk attribute: a value, and a source URL unless the value is `unknown`. */
function sourced(value: object): object {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['value'],
    properties: {
      value: { anyOf: [UNKNOWN, value] },
      source: SOURCE_URL,
      note: { type: 'string', minLength: 1 },
    },
    if: { properties: { value: UNKNOWN } },
    then: {},
    else: { required: ['source'] },
  };
}

const PATTERN_LIST = { type: 'array', items: { type: 'string', minLength: 1 } } as const;

export const VENDOR_FILE_SCHEMA = {
  $id: 'https://umbra.invalid/schemas/signatures-vendor-file.json',
  title: 'Umbra signatures: one vendor file',
  type: 'object',
  additionalProperties: false,
  required: ['vendor', 'services'],
  properties: {
    vendor: { type: 'string', minLength: 1 },
    services: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'category', 'endpoints', 'risk', 'sources'],
        properties: {
          id: { type: 'string', pattern: ID_PATTERN, maxLength: 80 },
          name: { type: 'string', minLength: 1 },
          category: { enum: [...CATEGORIES] },
          endpoints: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: Object.fromEntries(ENDPOINT_KINDS.map((k) => [k, PATTERN_LIST])),
          },
          risk: {
            type: 'object',
            additionalProperties: false,
            required: ['trains_on_user_data', 'retention', 'headquarters', 'processing_jurisdiction', 'enterprise_tier', 'certifications'],
            properties: {
              trains_on_user_data: sourced({ enum: ['yes', 'no', 'opt-out', 'opt-in'] }),
              retention: sourced({ type: 'string', minLength: 1 }),
              headquarters: sourced(ISO_COUNTRY),
              processing_jurisdiction: sourced({ type: 'array', minItems: 1, items: ISO_COUNTRY }),
              enterprise_tier: sourced({ enum: ['yes', 'no'] }),
              certifications: sourced({ type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }),
            },
          },
          sources: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          notes: { type: 'string' },
        },
      },
    },
  },
} as const;

const PATTERN_MESSAGES: Record<string, string> = {
  [SOURCE_URL.pattern]: 'must be the URL of the public source (http:// or https://)',
  [ISO_COUNTRY.pattern]: 'must be an ISO 3166-1 alpha-2 country code (US, FR, CN, …)',
  [ID_PATTERN]: 'must be lower-case letters and digits, with single hyphens between (e.g. openai-chatgpt)',
};

let compiled: ValidateFunction | null = null;

function validator(): ValidateFunction {
  if (!compiled) {
    const { Ajv } = requireLazy('ajv') as typeof import('ajv');
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    compiled = ajv.compile(VENDOR_FILE_SCHEMA);
  }
  return compiled;
}

/** Turns one ajv error into a sentence a catalog author can act on. */
function describe(e: ErrorObject): { path: string; message: string } {
  const path = e.instancePath || '/';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: `${e.instancePath}/${String(p.additionalProperty)}`, message: `unknown key '${String(p.additionalProperty)}'` };
    case 'required':
      return { path, message: `missing required key '${String(p.missingProperty)}'` };
    case 'enum':
      return { path, message: `must be one of: ${(p.allowedValues as unknown[]).join(', ')}` };
    case 'const':
      return { path, message: `must be '${String(p.allowedValue)}'` };
    case 'pattern':
      return { path, message: PATTERN_MESSAGES[String(p.pattern)] ?? `does not match ${String(p.pattern)}` };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

/**
 * Checks the parsed contents of one file against the schema. Returns one issue
 * per problem (ajv's anyOf/if noise reduced to the errors that matter).
 */
export function checkSchema(file: string, data: unknown): CatalogIssue[] {
  const validate = validator();
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  // For a failed anyOf (`unknown` or a value) ajv reports both branches; the
  // `const: unknown` branch and the anyOf/if summaries say nothing useful.
  const useful = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if' && !(e.keyword === 'const' && (e.params as { allowedValue?: unknown }).allowedValue === 'unknown'));
  const seen = new Set<string>();
  const issues: CatalogIssue[] = [];
  for (const e of useful.length ? useful : errors) {
    const d = describe(e);
    let message = d.message;
    if (e.keyword !== 'const' && errors.some((o) => o.keyword === 'anyOf' && o.instancePath === e.instancePath)) message += " (or 'unknown')";
    const key = `${d.path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ file, path: d.path, message });
  }
  return issues;
}
