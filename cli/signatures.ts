// `umbra signatures list|test|validate|stats`: look at, try and check the
// AI-service catalog (signatures/). Errors for people are UmbraError; validate
// prints every issue as `file:line: /json/path: message` and exits 1 on errors.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UmbraError } from '../common/errors.js';
import { loadCatalog, shippedDataDir, type Catalog } from '../signatures/loader.js';
import { normalizeName } from '../signatures/normalize.js';
import { parsePattern } from '../signatures/pattern.js';
import { CATEGORIES, ENDPOINT_KINDS, NON_AI_CATEGORIES, type RiskAttributes, type Service } from '../signatures/types.js';
import { displayPath, formatIssue, validateDirs } from '../signatures/validate.js';

const out = (s: string): void => void process.stdout.write(s + '\n');

const USAGE = `usage: umbra signatures <command> [options]

commands:
  list       list the services in the catalog
  test       show which service and rule each host name matches
  validate   check catalog files (schema, ids, patterns, shared infrastructure)
  stats      counts by category, vendor, region and risk-attribute coverage

Options every command takes:
  --data-dir DIR    use DIR instead of the shipped catalog (${displayPath(shippedDataDir())})
  --extra-dir DIR   an organisation's signatures directory, applied after the
                    catalog (repeatable; a service with the same id replaces it)

Run 'umbra signatures <command> --help' for a command's options.`;

const COMMON = {
  help: { type: 'boolean', short: 'h' },
  'data-dir': { type: 'string' },
  'extra-dir': { type: 'string', multiple: true },
} as const;

const HELP: Record<string, string> = {
  list: `usage: umbra signatures list [--category C] [--vendor V] [--format table|json]

List the catalog's services: id, name, vendor, category and patterns.
  --category C     only services of category C (${CATEGORIES.join(', ')})
  --vendor V       only services whose vendor contains V (case-insensitive)
  --format F       table (default) or json (every field, risk attributes included)`,
  test: `usage: umbra signatures test [--format table|json] NAME...

For each host name: the service, the rule that matched and the endpoint kind,
or "no match". Names are normalised first (case, trailing dot, IDNA).
NAME '-' reads names from standard input, one per line.
  --format F       table (default) or json`,
  validate: `usage: umbra signatures validate [--extra-dir DIR]... [--format text|json] [DIR]

Check the catalog: YAML syntax, the schema (unknown keys, missing values,
sources), duplicate ids, the same pattern in two services, patterns that can
never match, and patterns that are or cover shared infrastructure. DIR checks
that directory on its own instead of the shipped catalog; --extra-dir checks
an organisation's directory merged over it, as Umbra loads them.
Prints one line per issue (file:line: /json/path: message), or with
--format json a list of {file, line, path, severity, message}, and exits 1
when there is any error (warnings alone exit 0).`,
  stats: `usage: umbra signatures stats [--format table|json]

Counts: services by category, by vendor and by region of the headquarters
(US, EU member state, CN, other, unknown), patterns by type, and how many
services have a known (sourced) value for each risk attribute.
  --format F       table (default) or json`,
};

function parse(cmd: string, argv: string[], extra: ParseArgsConfig['options'] = {}): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...extra }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UmbraError('UMBRA_E_USAGE', `${(e as Error).message}\n${HELP[cmd] ?? USAGE}`);
  }
}

function format(v: unknown): 'table' | 'json' {
  if (v === undefined || v === 'table') return 'table';
  if (v === 'json') return 'json';
  throw new UmbraError('UMBRA_E_USAGE', `--format must be table or json (got '${String(v)}')`);
}

function catalogFrom(values: Record<string, unknown>): Catalog {
  return loadCatalog({ dataDir: values['data-dir'] as string | undefined, extraDirs: (values['extra-dir'] as string[] | undefined) ?? [] });
}

/** Display width: East Asian wide characters take two columns. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    w += (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd) ? 2 : 1;
  }
  return w;
}

/** An aligned table: columns padded to their widest cell, numbers right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const numeric = headers.map((_, c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || /^[\d.]+ ?%$/.test(String(r[c]))));
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => width(r[c] ?? ''))));
  const line = (r: string[]): string =>
    r.map((cell, c) => (c === r.length - 1 && !numeric[c] ? cell : numeric[c] ? ' '.repeat(widths[c]! - width(cell)) + cell : cell + ' '.repeat(widths[c]! - width(cell)))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

function patternsOf(s: Service): string[] {
  const all: string[] = [];
  for (const k of ENDPOINT_KINDS) for (const p of s.endpoints[k] ?? []) all.push(p);
  return all;
}

async function list(argv: string[]): Promise<number> {
  const { values } = parse('list', argv, { category: { type: 'string' }, vendor: { type: 'string' }, format: { type: 'string' } });
  if (values.help) return help('list');
  const fmt = format(values.format);
  const category = values.category as string | undefined;
  if (category !== undefined && !(CATEGORIES as readonly string[]).includes(category)) {
    throw new UmbraError('UMBRA_E_USAGE', `unknown category '${category}' (one of: ${CATEGORIES.join(', ')})`);
  }
  const vendor = (values.vendor as string | undefined)?.toLowerCase();
  const catalog = catalogFrom(values);
  const services = catalog.services
    .filter((s) => (category === undefined || s.category === category) && (vendor === undefined || s.vendor.toLowerCase().includes(vendor)))
    .sort((a, b) => a.id.localeCompare(b.id));
  if (fmt === 'json') {
    out(JSON.stringify(services.map((s) => ({ ...s, file: displayPath(s.file) })), null, 2));
    return 0;
  }
  out(table(['id', 'name', 'vendor', 'category', 'patterns'], services.map((s) => [s.id, s.name, s.vendor, s.category, patternsOf(s).join(' ')])));
  out(`${services.length} service${services.length === 1 ? '' : 's'}`);
  return 0;
}

async function test(argv: string[]): Promise<number> {
  const { values, positionals } = parse('test', argv, { format: { type: 'string' } });
  if (values.help) return help('test');
  const fmt = format(values.format);
  if (positionals.length === 0) throw new UmbraError('UMBRA_E_USAGE', `name at least one host name\n${HELP.test}`);
  const names = positionals.flatMap((p) => (p === '-' ? readFileSync(0, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0) : [p]));
  const catalog = catalogFrom(values);
  const results = names.map((name) => {
    const normalized = normalizeName(name);
    const m = normalized === null ? null : catalog.matcher.matchNormalized(normalized);
    return { name, normalized, m };
  });
  if (fmt === 'json') {
    out(JSON.stringify(results.map(({ name, normalized, m }) => ({
      name,
      normalized,
      match: m && { service: m.service.id, name: m.service.name, vendor: m.service.vendor, category: m.service.category, status: m.service.status, rule: m.rule, kind: m.kind },
    })), null, 2));
    return 0;
  }
  out(table(['name', 'service', 'category', 'rule', 'kind'], results.map(({ name, normalized, m }) => {
    if (normalized === null) return [name, 'no match (not a valid host name)', '', '', ''];
    const shown = normalized === name ? name : `${name} (${normalized})`;
    return m ? [shown, `${m.service.id} (${m.service.name})`, m.service.category, m.rule, m.kind] : [shown, 'no match', '', '', ''];
  })));
  return 0;
}

async function validate(argv: string[]): Promise<number> {
  const { values, positionals } = parse('validate', argv, { format: { type: 'string' } });
  if (values.help) return help('validate');
  const asJson = values.format === 'json';
  if (values.format !== undefined && values.format !== 'json' && values.format !== 'text') throw new UmbraError('UMBRA_E_USAGE', `--format must be text or json (got '${String(values.format)}')`);
  if (positionals.length > 1) throw new UmbraError('UMBRA_E_USAGE', `validate takes at most one directory\n${HELP.validate}`);
  const base = positionals[0] ?? (values['data-dir'] as string | undefined) ?? shippedDataDir();
  const dirs = [base, ...((values['extra-dir'] as string[] | undefined) ?? [])];
  const { issues, entries, files } = validateDirs(dirs);
  const errors = issues.filter((i) => i.severity === 'error').length;
  if (asJson) {
    out(JSON.stringify(issues.map((i) => ({ file: displayPath(i.file), line: i.line ?? null, path: i.path, severity: i.severity, message: i.message })), null, 2));
    return errors ? 1 : 0;
  }
  for (const i of issues) out(formatIssue(i));
  const warnings = issues.length - errors;
  const patterns = entries.reduce((n, e) => n + patternsOf(e.service).length, 0);
  out(`${dirs.map(displayPath).join(' + ')}: ${files.length} files, ${entries.length} services, ${patterns} patterns: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return errors ? 1 : 0;
}

/** EU member states (ISO 3166-1 alpha-2), for the region of a headquarters. */
const EU = new Set(['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'EU']);

export function regionOf(s: Service): 'US' | 'EU' | 'CN' | 'other' | 'unknown' {
  const hq = s.risk.headquarters.value;
  if (hq === 'unknown') return 'unknown';
  if (hq === 'US' || hq === 'CN') return hq;
  return EU.has(hq) ? 'EU' : 'other';
}

const ATTRIBUTES: (keyof RiskAttributes)[] = ['trains_on_user_data', 'retention', 'headquarters', 'processing_jurisdiction', 'enterprise_tier', 'certifications'];

function count<T>(items: T[], key: (t: T) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Vendors shown in the table form of stats (json has all). */
export const STATS_TOP_VENDORS = 20;

async function stats(argv: string[]): Promise<number> {
  const { values } = parse('stats', argv, { format: { type: 'string' } });
  if (values.help) return help('stats');
  const fmt = format(values.format);
  const catalog = catalogFrom(values);
  const services = catalog.services;
  const ai = services.filter((s) => !NON_AI_CATEGORIES.has(s.category));
  const types = { exact: 0, suffix: 0, wildcard: 0 };
  for (const s of services) for (const p of patternsOf(s)) {
    const r = parsePattern(p);
    if (r.ok) types[r.pattern.type]++;
  }
  const byCategory = count(services, (s) => s.category);
  const byVendor = count(services, (s) => s.vendor);
  const byRegion = count(services, regionOf);
  const coverage = ATTRIBUTES.map((a) => [a, services.filter((s) => s.risk[a].value !== 'unknown').length] as [string, number]);
  if (fmt === 'json') {
    out(JSON.stringify({
      services: services.length, ai_services: ai.length, other_services: services.length - ai.length,
      vendors: byVendor.length, files: catalog.files.length, patterns: types,
      by_category: Object.fromEntries(byCategory), by_vendor: Object.fromEntries(byVendor), by_region: Object.fromEntries(byRegion),
      attribute_coverage: Object.fromEntries(coverage),
    }, null, 2));
    return 0;
  }
  const pct = (n: number): string => (services.length ? `${((100 * n) / services.length).toFixed(0)} %` : '-');
  out(`${services.length} services (${ai.length} AI, ${services.length - ai.length} DNS resolvers and other), ${byVendor.length} vendors, ${catalog.files.length} files`);
  out(`${types.exact + types.suffix + types.wildcard} patterns: ${types.suffix} suffix, ${types.exact} exact, ${types.wildcard} wildcard\n`);
  out(table(['category', 'services'], byCategory) + '\n');
  out(table(['region (headquarters)', 'services'], byRegion) + '\n');
  out(table(['risk attribute', 'known', 'share'], coverage.map(([a, n]) => [a, n, pct(n)])) + '\n');
  out(table(['vendor', 'services'], byVendor.slice(0, STATS_TOP_VENDORS)));
  if (byVendor.length > STATS_TOP_VENDORS) out(`… and ${byVendor.length - STATS_TOP_VENDORS} more vendors (--format json lists all)`);
  return 0;
}

function help(cmd: string): number {
  out(HELP[cmd] ?? USAGE);
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { list, test, validate, stats };

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(USAGE);
    return cmd ? 0 : 2;
  }
  const fn = COMMANDS[cmd];
  if (!fn) throw new UmbraError('UMBRA_E_USAGE', `unknown signatures command '${cmd}'\n${USAGE}`);
  return fn(rest);
}
