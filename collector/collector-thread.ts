// `umbra collector` runs the collector (collector/ingest/server.ts) in a worker
// thread, started after the young generation of new V8 isolates is set to
// COLLECTOR_SEMI_SPACE_MB: the umbra command starts with a 4 MiB semi-space
// (bin/umbra.js, good for the agent's memory), which V8 fixes per isolate at its
// creation. With 4 MiB the collector's main thread spent ~1.1 s in 173
// scavenges per 200,000 events ingested; with 16 MiB 0.15 s in 44 (bench/ingest
// with --trace-gc). The process's main thread only forwards SIGTERM/SIGINT.
import v8 from 'node:v8';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { UmbraError, type ErrorCode } from '../common/errors.js';
import { startWorker } from '../common/start-worker.js';
import { loadConfig } from './config.js';
import { startCollector, type IngestStats } from './ingest/server.js';

/** Semi-space of the collector thread's heap, MiB (V8's own default on 64-bit). */
export const COLLECTOR_SEMI_SPACE_MB = 16;
/** After the collector thread reported it stopped, it gets this long to end before it is terminated (ms). */
export const THREAD_EXIT_GRACE_MS = 2000;

type FromThread =
  | { type: 'listening'; url: string }
  | { type: 'stopped'; stats: IngestStats }
  | { type: 'failed'; code: ErrorCode | null; message: string };

interface Init { umbraCollectorThread: true; configFile: string }

export interface CollectorThread {
  /** `https://host:port` the collector listens on. */
  url: string;
  /** Closes the collector gracefully (as RunningCollector.close) and ends the thread; its ingest figures. */
  close(): Promise<IngestStats>;
  /** Rejects if the thread dies on its own (an internal error). */
  died: Promise<never>;
}

/** Starts the collector of `configFile` in its own thread; rejects with the UmbraError it failed with. */
export async function startCollectorThread(configFile: string): Promise<CollectorThread> {
  v8.setFlagsFromString(`--max-semi-space-size=${COLLECTOR_SEMI_SPACE_MB}`);
  const worker: Worker = startWorker(import.meta.url, { workerData: { umbraCollectorThread: true, configFile } satisfies Init });
  let onMessage: (m: FromThread) => void = () => {};
  worker.on('message', (m: FromThread) => onMessage(m));
  let closing = false;
  const died = new Promise<never>((_, reject) => {
    worker.once('error', (e) => reject(new UmbraError('UMBRA_E_INTERNAL', `collector thread failed: ${e.stack ?? e.message}`)));
    worker.once('exit', (code) => { if (!closing) reject(new UmbraError('UMBRA_E_INTERNAL', `collector thread exited (${code})`)); });
  });
  died.catch(() => {});
  const first = await Promise.race([new Promise<FromThread>((resolve) => { onMessage = resolve; }), died]);
  if (first.type === 'failed') {
    closing = true;
    await worker.terminate();
    throw first.code ? UmbraError.rebuilt(first.code, first.message) : new UmbraError('UMBRA_E_INTERNAL', first.message);
  }
  if (first.type !== 'listening') throw new UmbraError('UMBRA_E_INTERNAL', `collector thread: unexpected ${first.type}`);
  return {
    url: first.url,
    died,
    close: async () => {
      closing = true;
      const stopped = new Promise<FromThread>((resolve) => { onMessage = resolve; });
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('close');
      const m = await Promise.race([stopped, died]);
      const t = setTimeout(() => void worker.terminate(), THREAD_EXIT_GRACE_MS);
      await exited;
      clearTimeout(t);
      if (m.type !== 'stopped') throw new UmbraError('UMBRA_E_INTERNAL', `collector thread: unexpected ${m.type}`);
      return m.stats;
    },
  };
}

async function serve(init: Init): Promise<void> {
  const port = parentPort!;
  try {
    const c = await startCollector(loadConfig(init.configFile));
    port.on('message', (m: unknown) => {
      if (m !== 'close') return;
      void c.close().then(
        () => {
          port.postMessage({ type: 'stopped', stats: c.stats } satisfies FromThread);
          port.close();
        },
        (e: unknown) => {
          process.stderr.write(`${new Date().toISOString()} collector: error while closing: ${(e as Error).message}\n`);
          port.postMessage({ type: 'stopped', stats: c.stats } satisfies FromThread);
          port.close();
        },
      );
    });
    port.postMessage({ type: 'listening', url: c.url } satisfies FromThread);
  } catch (e) {
    port.postMessage({ type: 'failed', code: e instanceof UmbraError ? e.code : null, message: e instanceof UmbraError ? e.message : ((e as Error).stack ?? String(e)) } satisfies FromThread);
    port.close();
  }
}

if (!isMainThread && (workerData as Init | undefined)?.umbraCollectorThread === true && parentPort) void serve(workerData as Init);
