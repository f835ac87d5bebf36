// Events/s through the collector's real HTTPS ingest into SQLite: a local client
// (a child process, so its TLS and HTTP work runs beside the collector, as an
// agent on another core would) posts gzip NDJSON batches of 1000 events with a
// few requests in flight; the collector checks every line and commits each
// batch before acknowledging. Prints figures, never passes or fails.
//   npx tsx bench/ingest-sqlite.ts [--events N] [--batch N] [--concurrency N] [--clients N] [--synchronous full|normal]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { hashToken } from '../collector/auth/tokens.js';
import { parseConfig } from '../collector/config.js';
import { generateSelfSigned } from '../collector/ingest/self-signed.js';
import { startCollector } from '../collector/ingest/server.js';
import { benchEvent } from './bench-events.js';

const AGENT = 'bench-gw-1';
const TOKEN = 'bench-token-0123456789abcdef0123456789abc';

interface ClientJob { url: string; ca: string; events: number; batch: number; concurrency: number; clients: number }
interface ClientResult { seconds: number; batches: number; gzipBytes: number; rawBytes: number; latenciesMs: number[]; statuses: Record<number, number>; accepted: number; duplicates: number }

/** An event as the agent ships it (bench/bench-events.ts), with the ids the spool gives it. */
function event(seq: number, clients: number): unknown {
  const e = benchEvent(seq, clients, AGENT);
  e.event.id = `${AGENT}:${seq}`;
  e.observer = { ...e.observer, id: AGENT };
  return e;
}

async function client(job: ClientJob): Promise<ClientResult> {
  const bodies: Buffer[] = [];
  let rawBytes = 0;
  for (let start = 0; start < job.events; start += job.batch) {
    const lines: string[] = [];
    for (let s = start; s < Math.min(job.events, start + job.batch); s++) lines.push(JSON.stringify(event(s, job.clients)));
    const raw = Buffer.from(lines.join('\n') + '\n');
    rawBytes += raw.length;
    bodies.push(gzipSync(raw, { level: 1 }));
  }
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency, ca: job.ca });
  const latenciesMs: number[] = [];
  const statuses: Record<number, number> = {};
  let accepted = 0;
  let duplicates = 0;
  const post = (body: Buffer): Promise<number> => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(job.url + '/api/v1/events', {
      method: 'POST', agent,
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-ndjson', 'Content-Encoding': 'gzip', 'Content-Length': body.length },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        latenciesMs.push(performance.now() - t0);
        const status = res.statusCode ?? 0;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 200) {
          const j = JSON.parse(Buffer.concat(parts).toString()) as { accepted: number; duplicates: number };
          accepted += j.accepted;
          duplicates += j.duplicates;
        }
        resolve(status);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: job.concurrency }, async () => {
    while (next < bodies.length) {
      const b = bodies[next++]!;
      // A refused batch (429/503) is sent again, as the agent would.
      for (let attempt = 0; (await post(b)) !== 200 && attempt < 100; attempt++) await new Promise((r) => setTimeout(r, 20));
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { seconds, batches: bodies.length, gzipBytes: bodies.reduce((n, b) => n + b.length, 0), rawBytes, latenciesMs, statuses, accepted, duplicates };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string' }, batch: { type: 'string' }, concurrency: { type: 'string' }, synchronous: { type: 'string' }, clients: { type: 'string' } } });
  const events = Number(values.events ?? 200_000);
  const batch = Number(values.batch ?? 1000);
  const concurrency = Number(values.concurrency ?? 4);
  const synchronous = (values.synchronous ?? 'full') as 'full' | 'normal';
  const clients = Math.min(65536, Number(values.clients ?? 2000));
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-ingest-'));
  try {
    const cert = await generateSelfSigned(join(dir, 'tls'));
    const config = parseConfig({
      data_dir: dir,
      collector: {
        listen: { host: '127.0.0.1', port: 0 },
        tls: { cert_file: cert.certFile, key_file: cert.keyFile },
        agents: [{ id: AGENT, token_sha256: hashToken(TOKEN).toString('hex') }],
      },
      store: { type: 'sqlite', sqlite: { synchronous } },
    }, '(bench)');
    const c = await startCollector(config, { log: (l) => process.stderr.write(`collector: ${l}\n`) });
    let walMax = 0;
    const walTimer = setInterval(() => {
      try { walMax = Math.max(walMax, statSync(join(dir, 'umbra.sqlite-wal')).size); } catch { /* not there yet */ }
    }, 50);
    const cpu0 = process.cpuUsage();
    const job: ClientJob = { url: c.url, ca: cert.certPem, events, batch, concurrency, clients };
    // The client is a separate process (same loader flags, so tsx works), as an agent would be.
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--client', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (b: Buffer) => { text += b.toString(); });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`client exited with ${code}`);
    const r = JSON.parse(text) as ClientResult;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(walTimer);
    const stored = await c.store.count();
    await c.close();
    const lat = r.latenciesMs.sort((a, b) => a - b);
    const dbBytes = statSync(join(dir, 'umbra.sqlite')).size;
    const out = (k: string, v: string): void => void process.stdout.write(`${k.padEnd(34)} ${v}\n`);
    out('events sent / stored', `${events} / ${stored} (accepted ${r.accepted}, duplicates ${r.duplicates})`);
    out('batches (events each), in flight', `${r.batches} (${batch}), ${concurrency}`);
    out('SQLite synchronous', synchronous);
    out('client addresses', String(clients));
    out('body per batch raw / gzip', `${(r.rawBytes / r.batches / 1024).toFixed(0)} KiB / ${(r.gzipBytes / r.batches / 1024).toFixed(0)} KiB`);
    out('elapsed', `${r.seconds.toFixed(2)} s`);
    out('throughput', `${Math.round(events / r.seconds).toLocaleString('en-US')} events/s, ${(r.rawBytes / r.seconds / 1048576).toFixed(1)} MiB/s decoded`);
    out('batch latency p50 / p99 / max', `${pct(lat, 50).toFixed(1)} / ${pct(lat, 99).toFixed(1)} / ${lat[lat.length - 1]!.toFixed(1)} ms`);
    out('HTTP statuses', JSON.stringify(r.statuses));
    out('collector CPU (user+sys)', `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (${((cpu.user + cpu.system) / 1e6 / r.seconds * 100).toFixed(0)}% of one core)`);
    out('WAL file, largest seen', `${(walMax / 1048576).toFixed(1)} MiB`);
    out('database size', `${(dbBytes / 1048576).toFixed(1)} MiB (${Math.round(dbBytes / Math.max(1, stored))} bytes/event)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--client') {
  client(JSON.parse(process.argv[3]!) as ClientJob).then((r) => process.stdout.write(JSON.stringify(r)));
} else {
  main().catch((e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });
}
