// Catalog checks: YAML syntax, the schema, and what a schema cannot say:
// duplicate ids, one pattern in two services, patterns that can never match
// (invalid host syntax, a wildcard that a suffix pattern always beats), and
// patterns that are or cover shared infrastructure (signatures/shared-infra.ts).
// Every issue names the file, the JSON path and, when known, the line.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { Document, LineCounter as LineCounterT } from 'yaml';
import { createRequire } from 'node:module';

// yaml is loaded on first use only: a normal start reads the compiled catalog
// (compiled.ts) and never parses YAML (it costs ~150 ms of start-up).
const requireLazy = createRequire(import.meta.url);
let yamlLib: typeof import('yaml') | null = null;
const yaml = (): typeof import('yaml') => (yamlLib ??= requireLazy('yaml') as typeof import('yaml'));
import { checkSchema, type CatalogIssue } from './schema.js';
import { parsePattern, patternMatches, type ParsedPattern } from './pattern.js';
import { DENIED_PARENTS } from './shared-infra.js';
import { ENDPOINT_KINDS, NON_AI_CATEGORIES, type EndpointKind, type Service } from './types.js';

export type Severity = 'error' | 'warning';

export interface ValidationIssue extends CatalogIssue {
  severity: Severity;
  /** 1-based line in the file, when the path could be located. */
  line?: number;
}

/** Largest catalog file read (a guard against a stray binary). */
export const MAX_CATALOG_FILE_BYTES = 4 * 1024 * 1024;
/** Deepest directory nesting searched for catalog files. */
export const MAX_CATALOG_DIR_DEPTH = 8;

/** One service and where it was written. */
export interface ServiceEntry {
  service: Service;
  /** JSON Pointer of the service in its file, e.g. `/services/2`. */
  path: string;
  /** Locates a JSON Pointer in the service's file (1-based line) for messages. */
  lineOf: (pointer: string) => number | undefined;
}

export interface ParsedFile {
  file: string;
  entries: ServiceEntry[];
  issues: ValidationIssue[];
}

/** A file path as people should read it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** One line per issue: `file:line: /json/path: message`. */
export function formatIssue(i: ValidationIssue): string {
  const where = i.line ? `${displayPath(i.file)}:${i.line}` : displayPath(i.file);
  return `${where}: ${i.path}: ${i.severity === 'warning' ? 'warning: ' : ''}${i.message}`;
}

/** Every *.yaml / *.yml file under dir (sorted, recursive). A missing dir is an issue, not an exception. */
export function listCatalogFiles(dir: string): { files: string[]; issues: ValidationIssue[] } {
  const files: string[] = [];
  const issues: ValidationIssue[] = [];
  const walk = (d: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch (e) {
      issues.push({ file: d, path: '/', severity: 'error', message: `cannot read directory: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (depth < MAX_CATALOG_DIR_DEPTH) walk(p, depth + 1);
      } else if (/\.ya?ml$/.test(name)) {
        files.push(p);
      }
    }
  };
  walk(dir, 0);
  return { files, issues };
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '/' || pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
}

function makeLineOf(doc: Document, lc: LineCounterT): (pointer: string) => number | undefined {
  return (pointer) => {
    let path = pointerToPath(pointer);
    // An unknown or missing key has no node: fall back to its parent.
    for (;;) {
      const node = path.length ? doc.getIn(path, true) : doc.contents;
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return lc.linePos(range[0]).line;
      if (path.length === 0) return undefined;
      path = path.slice(0, -1);
    }
  };
}

/** Reads and schema-checks one catalog file; builds its services when the file is valid. */
export function parseCatalogFile(file: string): ParsedFile {
  const issues: ValidationIssue[] = [];
  let text: string;
  try {
    const st = statSync(file);
    if (st.size > MAX_CATALOG_FILE_BYTES) {
      return { file, entries: [], issues: [{ file, path: '/', severity: 'error', message: `file is larger than ${MAX_CATALOG_FILE_BYTES} bytes` }] };
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, entries: [], issues: [{ file, path: '/', severity: 'error', message: `cannot read file: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }] };
  }
  // Fast path: plain parse (about twice as fast as a Document); the Document,
  // with positions, only for YAML errors and, lazily, for the line of an issue.
  let data: unknown;
  try {
    data = yaml().parse(text, { uniqueKeys: true, version: '1.2', maxAliasCount: 100, logLevel: 'error' });
  } catch {
    const lc = new (yaml().LineCounter)();
    const doc = yaml().parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, version: '1.2' });
    for (const e of doc.errors) {
      const line = e.pos ? lc.linePos(e.pos[0]).line : undefined;
      issues.push({ file, path: '/', line, severity: 'error', message: `YAML: ${e.message.split('\n')[0]}` });
    }
    if (!issues.length) {
      try {
        doc.toJS({ maxAliasCount: 100 });
      } catch (e) {
        issues.push({ file, path: '/', severity: 'error', message: `YAML: ${(e as Error).message}` });
      }
    }
    if (!issues.length) issues.push({ file, path: '/', severity: 'error', message: 'YAML: cannot be read' });
    return { file, entries: [], issues };
  }
  let located: ((pointer: string) => number | undefined) | null = null;
  const lineOf = (pointer: string): number | undefined => {
    if (!located) {
      const lc = new (yaml().LineCounter)();
      located = makeLineOf(yaml().parseDocument(text, { lineCounter: lc, version: '1.2' }), lc);
    }
    return located(pointer);
  };
  for (const i of checkSchema(file, data)) issues.push({ ...i, severity: 'error', line: lineOf(i.path) });
  if (issues.length) return { file, entries: [], issues };
  const d = data as { vendor: string; services: Array<Omit<Service, 'vendor' | 'file' | 'status'>> };
  const entries = d.services.map((s, i) => ({
    service: { ...s, vendor: d.vendor, file, status: 'unsanctioned' as const },
    path: `/services/${i}`,
    lineOf,
  }));
  return { file, entries, issues };
}

/** Reads every catalog file under dir. */
export function parseCatalogDir(dir: string): { entries: ServiceEntry[]; issues: ValidationIssue[]; files: string[] } {
  const { files, issues } = listCatalogFiles(dir);
  const entries: ServiceEntry[] = [];
  for (const f of files) {
    const p = parseCatalogFile(f);
    entries.push(...p.entries);
    issues.push(...p.issues);
  }
  return { entries, issues, files };
}

/** Duplicate ids within one layer (a directory set whose services must be unique). */
export function checkDuplicateIds(entries: ServiceEntry[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const first = new Map<string, ServiceEntry>();
  for (const e of entries) {
    const prev = first.get(e.service.id);
    if (prev) {
      const path = `${e.path}/id`;
      issues.push({
        file: e.service.file,
        path,
        line: e.lineOf(path),
        severity: 'error',
        message: `duplicate service id '${e.service.id}' (first defined in ${displayPath(prev.service.file)} at ${prev.path})`,
      });
    } else {
      first.set(e.service.id, e);
    }
  }
  return issues;
}

interface PatternSite {
  entry: ServiceEntry;
  kind: EndpointKind;
  path: string;
  pattern: ParsedPattern;
}

function issueAt(site: { entry: ServiceEntry; path: string }, severity: Severity, message: string): ValidationIssue {
  return { file: site.entry.service.file, path: site.path, line: site.entry.lineOf(site.path), severity, message };
}

/**
 * Checks the patterns of a merged catalog (after extra directories replaced
 * services by id): syntax, shared infrastructure, duplicates, wildcards that can
 * never win, redundant patterns (warnings), and kinds that fit the category.
 */
export function checkPatterns(entries: ServiceEntry[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const sites: PatternSite[] = [];
  for (const entry of entries) {
    const s = entry.service;
    let count = 0;
    for (const kind of ENDPOINT_KINDS) {
      const list = s.endpoints[kind];
      if (!list) continue;
      if (kind === 'resolver' && !NON_AI_CATEGORIES.has(s.category)) {
        issues.push(issueAt({ entry, path: `${entry.path}/endpoints/resolver` }, 'error', `endpoint kind 'resolver' is only for category dns-resolver (this service is ${s.category})`));
      }
      list.forEach((written, j) => {
        const path = `${entry.path}/endpoints/${kind}/${j}`;
        count++;
        const r = parsePattern(written);
        if (!r.ok) {
          issues.push(issueAt({ entry, path }, 'error', `pattern '${written}' can never match: ${r.reason}`));
          return;
        }
        sites.push({ entry, kind, path, pattern: r.pattern });
      });
    }
    if (count === 0) issues.push(issueAt({ entry, path: `${entry.path}/endpoints` }, 'error', 'service has no patterns: it can never match'));
  }

  // Shared infrastructure: a pattern may be under a denied parent, never equal to it or cover it.
  for (const site of sites) {
    const p = site.pattern;
    const bad = deniedCoverage(p);
    if (bad) issues.push(issueAt(site, 'error', bad));
  }

  // The same pattern twice (in one service or in two).
  const byText = new Map<string, PatternSite>();
  for (const site of sites) {
    const key = site.pattern.type === 'exact' ? `=${site.pattern.host}` : site.pattern.host;
    const prev = byText.get(key);
    if (!prev) {
      byText.set(key, site);
      continue;
    }
    const where = prev.entry === site.entry ? `in this service at ${prev.path}` : `in service '${prev.entry.service.id}' (${displayPath(prev.entry.service.file)} at ${prev.path})`;
    issues.push(issueAt(site, 'error', `pattern '${site.pattern.source}' is already used ${where}`));
  }

  // Suffix patterns by host: a wildcard whose literal tail lies under a suffix
  // pattern can never win (a suffix beats every wildcard).
  const suffixes = new Map<string, PatternSite>();
  for (const site of sites) {
    if (site.pattern.type === 'suffix' && !suffixes.has(site.pattern.host)) suffixes.set(site.pattern.host, site);
  }
  const longestSuffixOf = (host: string, proper: boolean): PatternSite | undefined => {
    let h = host;
    if (!proper) {
      const s = suffixes.get(h);
      if (s) return s;
    }
    for (let dot = h.indexOf('.'); dot >= 0; dot = h.indexOf('.')) {
      h = h.slice(dot + 1);
      const s = suffixes.get(h);
      if (s) return s;
    }
    return undefined;
  };
  for (const site of sites) {
    const p = site.pattern;
    if (p.type === 'wildcard') {
      const cover = longestSuffixOf(p.tail, false);
      if (cover) {
        issues.push(issueAt(site, 'error', `pattern '${p.source}' can never match: every name it matches is under the suffix pattern '${cover.pattern.source}' of service '${cover.entry.service.id}', and a suffix wins over a wildcard`));
      }
      continue;
    }
    // Redundant: removing it would leave its names to the same service and kind.
    const next = p.type === 'exact' ? longestSuffixOf(p.host, false) : longestSuffixOf(p.host, true);
    if (next && next !== site && next.entry === site.entry && next.kind === site.kind && byText.get(p.type === 'exact' ? `=${p.host}` : p.host) === site) {
      issues.push(issueAt(site, 'warning', `pattern '${p.source}' is redundant: '${next.pattern.source}' in the same service and kind already covers it`));
    }
  }
  return issues;
}

/** Why a pattern is or covers shared infrastructure, or null when it does not. */
export function deniedCoverage(p: ParsedPattern): string | null {
  if (p.type !== 'wildcard') {
    if (DENIED_PARENTS.has(p.host)) return `pattern '${p.source}' is shared infrastructure (signatures/shared-infra.ts): name the AI-specific host instead`;
    if (p.type === 'suffix') {
      for (const d of DENIED_PARENTS) {
        if (d.length > p.host.length && d.endsWith(p.host) && d.charCodeAt(d.length - p.host.length - 1) === 0x2e) {
          return `pattern '${p.source}' covers the shared-infrastructure name '${d}' (signatures/shared-infra.ts): name the AI-specific host instead`;
        }
      }
    }
    return null;
  }
  // A wildcard that is only `*` labels in front of a denied parent (or a TLD) covers all of it.
  let i = 0;
  while (i < p.labels.length && p.labels[i]!.kind === 'any') i++;
  const rest = p.host.split('.').slice(i);
  if (i > 0 && !rest.some((l) => l.includes('*'))) {
    const parent = rest.join('.');
    if (rest.length < 2 || DENIED_PARENTS.has(parent)) return `pattern '${p.source}' covers every subdomain of '${parent}': name the AI-specific host instead`;
  }
  for (const d of DENIED_PARENTS) {
    if (patternMatches(p, d)) return `pattern '${p.source}' covers the shared-infrastructure name '${d}' (signatures/shared-infra.ts)`;
  }
  return null;
}

/** Validation of a set of directories merged as the loader merges them (later directories replace services by id). */
export function validateDirs(dirs: string[]): { issues: ValidationIssue[]; entries: ServiceEntry[]; files: string[] } {
  const issues: ValidationIssue[] = [];
  const merged = new Map<string, ServiceEntry>();
  const files: string[] = [];
  for (const dir of dirs) {
    const layer = parseCatalogDir(dir);
    files.push(...layer.files);
    issues.push(...layer.issues, ...checkDuplicateIds(layer.entries));
    const seen = new Set<string>();
    for (const e of layer.entries) {
      if (seen.has(e.service.id)) continue; // a duplicate within a layer: reported, the first one kept
      seen.add(e.service.id);
      merged.set(e.service.id, e);
    }
  }
  const entries = [...merged.values()];
  issues.push(...checkPatterns(entries));
  issues.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0)));
  return { issues, entries, files };
}
