// prom-client's default process metrics (CPU, memory, heap, event-loop lag, GC,
// open file descriptors), one registry per name prefix for the whole process.
// They describe the process, not a collector or an agent instance, and each
// collectDefaultMetrics() starts an event-loop delay monitor and a GC observer
// that are never stopped: tests that start many collectors in one process (and
// `umbra demo`, which runs a collector and an agent) share them instead.
// Instance registries are merged with this one when scraped.
// prom-client itself is loaded at the first use (promClient()): an agent without
// --metrics-listen never loads it (~5 MB of RSS).
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';

let loaded: typeof PromClient | undefined;

/** prom-client, loaded on first use. */
export function promClient(): typeof PromClient {
  return (loaded ??= createRequire(import.meta.url)('prom-client') as typeof PromClient);
}

const byPrefix = new Map<string, Registry>();

/** The process metrics registry for this prefix (made at the first call). */
export function processMetrics(prefix: string): Registry {
  let r = byPrefix.get(prefix);
  if (!r) {
    const prom = promClient();
    r = new prom.Registry();
    prom.collectDefaultMetrics({ register: r, prefix });
    byPrefix.set(prefix, r);
  }
  return r;
}

/** The exposition text of an instance registry followed by the process metrics of `prefix`. */
export async function exposition(instance: Registry, prefix: string): Promise<{ contentType: string; text: string }> {
  const merged = promClient().Registry.merge([instance, processMetrics(prefix)]);
  return { contentType: instance.contentType, text: await merged.metrics() };
}
