// The shipped catalog compiled once (at `npm run build`) into one JSON file, so
// that every `umbra` start does not parse and validate ~700 YAML files again
// (about 1 s and ~60 MB of peak memory). The compiled file records the name,
// size and mtime of every source file; if any differs (someone edited the
// catalog without rebuilding), it is ignored and the YAML is loaded as usual.
//   node dist/signatures/compile.js   (part of `npm run build`)
import { readdirSync, readFileSync, statSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateDirs, formatIssue } from './validate.js';
import type { Service } from './types.js';

export const COMPILED_FORMAT = 1;
const COMPILED_FILE = 'catalog.compiled.json';

interface SourceStamp { path: string; size: number; mtimeMs: number }
interface Compiled { format: number; sources: SourceStamp[]; services: Service[] }

export function compiledPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), COMPILED_FILE);
}

function stamps(dataDir: string): SourceStamp[] {
  const out: SourceStamp[] = [];
  const walk = (dir: string): void => {
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(ent.name)) {
        const st = statSync(p);
        out.push({ path: relative(dataDir, p), size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
      }
    }
  };
  walk(dataDir);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Validates the catalog in dataDir and writes the compiled file; throws on any validation error. */
export function writeCompiled(dataDir: string, out = compiledPath()): { services: number } {
  const before = stamps(dataDir);
  const { issues, entries } = validateDirs([dataDir]);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length) throw new Error(`catalog has ${errors.length} errors:\n${errors.slice(0, 20).map(formatIssue).join('\n')}`);
  const compiled: Compiled = { format: COMPILED_FORMAT, sources: before, services: entries.map((e) => e.service) };
  writeFileSync(out + '.tmp', JSON.stringify(compiled));
  renameSync(out + '.tmp', out);
  return { services: compiled.services.length };
}

/** The compiled services when the file exists and matches every source file; else null. */
export function readCompiled(dataDir: string, file = compiledPath()): { services: Service[]; files: string[] } | null {
  if (!existsSync(file)) return null;
  let c: Compiled;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as Compiled;
  } catch {
    return null;
  }
  if (c.format !== COMPILED_FORMAT) return null;
  const now = stamps(dataDir);
  if (now.length !== c.sources.length) return null;
  for (let i = 0; i < now.length; i++) {
    const a = now[i]!, b = c.sources[i]!;
    if (a.path !== b.path || a.size !== b.size || a.mtimeMs !== b.mtimeMs) return null;
  }
  return { services: c.services, files: now.map((s) => join(dataDir, s.path)) };
}
