// Starts a worker thread on a module of ours. From the compiled tree (dist/) that
// is the .js file itself; from the source tree (tests under tsx) the worker
// registers tsx's loader first, resolved from here rather than from the working
// directory, then imports the .ts module.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** A Worker running `moduleUrl` (an `import.meta.url`) with `options` (workerData, resourceLimits, ...). */
export function startWorker(moduleUrl: string, options: WorkerOptions = {}): Worker {
  if (!moduleUrl.endsWith('.ts')) return new Worker(new URL(moduleUrl), options);
  // tsx's ESM API (its package exports say where).
  const pkgFile = createRequire(moduleUrl).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(moduleUrl)}); });`;
  return new Worker(code, { ...options, eval: true });
}
