// Loads the catalog: the shipped files under signatures/data/ (resolvers too),
// then each extra directory an organisation configures (a service with the same
// id replaces the earlier one), then the organisation's status per service.
// Everything is validated first (validate.ts); any error stops the load with
// UMBRA_E_SIGNATURES naming each file and JSON path.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UmbraError } from '../common/errors.js';
import { Matcher } from './matcher.js';
import { formatIssue, validateDirs, type ValidationIssue } from './validate.js';
import { readCompiled } from './compiled.js';
import type { OrgStatus, Service } from './types.js';

export const ORG_STATUSES: readonly OrgStatus[] = ['sanctioned', 'monitored', 'unsanctioned'];
/** Most errors listed in one UMBRA_E_SIGNATURES message (the rest are counted). */
export const MAX_ERRORS_SHOWN = 20;

export interface LoadOptions {
  /** Organisation directories, applied in order after the shipped catalog. */
  extraDirs?: string[];
  /** Organisation status per service id; services not named are `unsanctioned`. */
  status?: Record<string, string>;
  /** Use this directory instead of the shipped catalog (tests, `--data-dir`). */
  dataDir?: string;
}

export interface Catalog {
  /** Every service, in load order. */
  services: Service[];
  byId: ReadonlyMap<string, Service>;
  matcher: Matcher;
  /** Files read, in order. */
  files: string[];
  /** Validation warnings (errors stop the load). */
  warnings: ValidationIssue[];
}

/** An UMBRA_E_SIGNATURES error that also carries the issues it lists. */
export class SignaturesError extends UmbraError {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[], summary: string) {
    const shown = issues.slice(0, MAX_ERRORS_SHOWN).map((i) => '  ' + formatIssue(i));
    if (issues.length > shown.length) shown.push(`  … and ${issues.length - shown.length} more`);
    super('UMBRA_E_SIGNATURES', [summary, ...shown].join('\n'));
    this.issues = issues;
  }
}

/** The shipped catalog directory, from the source tree (tsx) or from dist/. */
export function shippedDataDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const direct = join(here, 'data');
  if (existsSync(direct)) return direct;
  return resolve(here, '..', '..', 'signatures', 'data');
}

/** Loads and validates the catalog; throws SignaturesError (UMBRA_E_SIGNATURES) on any error. */
export function loadCatalog(opts: LoadOptions = {}): Catalog {
  const dirs = [opts.dataDir ?? shippedDataDir(), ...(opts.extraDirs ?? [])];
  if (dirs.length === 1 && !opts.dataDir) {
    const compiled = readCompiled(dirs[0]!);
    if (compiled) return finish(compiled.services, [], opts, compiled.files);
  }
  const { issues, entries, files } = validateDirs(dirs);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length) throw new SignaturesError(errors, `signatures: ${errors.length} error${errors.length === 1 ? '' : 's'} in the catalog (run 'umbra signatures validate' for the list):`);
  return finish(entries.map((e) => e.service), issues.filter((i) => i.severity === 'warning'), opts, files);
}

function finish(services: Service[], warnings: ValidationIssue[], opts: LoadOptions, files: string[] = []): Catalog {
  const byId = new Map(services.map((s) => [s.id, s]));
  if (opts.status) {
    const bad: ValidationIssue[] = [];
    for (const [id, status] of Object.entries(opts.status)) {
      const s = byId.get(id);
      if (!s) bad.push({ file: '(configuration)', path: `/signatures/status/${id}`, severity: 'error', message: `no service with id '${id}' in the catalog` });
      else if (!(ORG_STATUSES as readonly string[]).includes(status)) bad.push({ file: '(configuration)', path: `/signatures/status/${id}`, severity: 'error', message: `status must be one of ${ORG_STATUSES.join(', ')} (got '${status}')` });
      else s.status = status as OrgStatus;
    }
    if (bad.length) throw new SignaturesError(bad, `signatures: ${bad.length} error${bad.length === 1 ? '' : 's'} in the organisation's service status:`);
  }
  return { services, byId, matcher: Matcher.fromServices(services), files, warnings };
}

let cached: Catalog | null = null;

/** The shipped catalog with no organisation settings, loaded once per process. */
export function defaultCatalog(): Catalog {
  return (cached ??= loadCatalog());
}
