// bench/ingest: events/s end to end, agent → collector → SQLite, as deployed:
// the agent's real disk spool and shipper (agent/ship/, default batch size and
// requests in flight) in a child process started with the flags of bin/umbra.js,
// shipping over HTTPS on loopback to `umbra collector` run from bin/umbra.js
// (its own process, the default SQLite store, fsync on every commit). The spool
// is filled before the clock starts; the figure is the time from the shipper's
// start until the spool holds nothing unacknowledged, i.e. every event is
// committed in SQLite. Then the stored rows are counted in the database file.
// Prints figures; never passes or fails. Needs `npm run build` (runs from dist/).
// The machine's CPU split during the timed run (/proc/stat) tells a CPU-bound run
// from one that waits; on this VM the CPU time the same work takes moves by ±20 %
// within minutes, so compare runs taken alternately, not hours apart.
//   node dist/bench/ingest.js [--events N] [--clients N] [--batch N] [--inflight N]
//   UMBRA_BENCH_CPU_PROF=DIR: V8 CPU profiles of the collector's threads and the agent
//   UMBRA_BENCH_COLLECTOR_FLAGS="--flag ...": extra node flags for the collector
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Shipper } from '../agent/ship/shipper.js';
import { Spool } from '../agent/ship/spool.js';
import { hashToken } from '../collector/auth/tokens.js';
import { generateSelfSigned } from '../collector/ingest/self-signed.js';
import { benchEvent } from './bench-events.js';

const AGENT = 'bench-gw-1';
const TOKEN = 'bench-token-0123456789abcdef0123456789abc';
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = HERE.endsWith(join('dist', 'bench')) ? join(HERE, '..', '..') : join(HERE, '..');
const UMBRA = join(ROOT, 'bin', 'umbra.js');
/** Node flags of the installed command (bin/umbra.js's shebang), so the agent child runs as `umbra agent` would. */
const UMBRA_NODE_FLAGS = (readFileSync(UMBRA, 'utf8').split('\n')[0]!.match(/node(.*)$/)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
const TICKS_PER_S = 100;

interface AgentJob { dir: string; url: string; ca: string; events: number; clients: number; batch?: number; inflight?: number }
interface AgentResult { seconds: number; cpuSeconds: number; batches: number; gzipBytes: number; retries: number; maxRssMb: number; machine: number[] }

/** The machine's CPU time so far (/proc/stat's first line: user nice system idle iowait irq softirq steal), in ticks. */
function machineTicks(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
}

/** The agent side, in its own process: fill the spool, then time the shipper until all is acknowledged. */
async function agent(job: AgentJob): Promise<AgentResult> {
  const spool = Spool.open({ dir: join(job.dir, 'spool'), agentId: AGENT, maxBytes: 4 * 1024 ** 3 });
  for (let i = 0; i < job.events; i += 500) spool.appendMany(Array.from({ length: Math.min(500, job.events - i) }, (_, k) => benchEvent(i + k, job.clients, AGENT)));
  spool.sync();
  const shipper = new Shipper({
    spool, url: job.url, token: TOKEN, ca: job.ca,
    ...(job.batch ? { batchMaxEvents: job.batch } : {}),
    ...(job.inflight ? { maxInflight: job.inflight } : {}),
  } as ConstructorParameters<typeof Shipper>[0]);
  const cpu0 = process.cpuUsage();
  const machine0 = machineTicks();
  const t0 = performance.now();
  shipper.start();
  while (spool.pending > 0) await new Promise((r) => setTimeout(r, 1));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const machine = machineTicks().map((v, i) => v - machine0[i]!);
  await shipper.stop(1000);
  spool.close();
  const c = shipper.counters;
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, batches: c.get('ship.batches_acked'), gzipBytes: c.get('ship.bytes_sent'), retries: c.get('ship.retries'), maxRssMb: process.resourceUsage().maxRSS / 1024, machine };
}

/** utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15). */
function cpuSecondsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_S;
}

function healthy(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/api/v1/health`, { ca }, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string' }, clients: { type: 'string' }, batch: { type: 'string' }, inflight: { type: 'string' } } });
  const events = Number(values.events ?? 200_000);
  const clients = Math.min(65536, Number(values.clients ?? 2000));
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-ingest-'));
  try {
    const cert = await generateSelfSigned(join(dir, 'tls'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const yaml = join(dir, 'umbra.yaml');
    writeFileSync(yaml, [
      `data_dir: ${join(dir, 'data')}`,
      'collector:',
      `  listen: { host: 127.0.0.1, port: ${port} }`,
      `  tls: { cert_file: ${cert.certFile}, key_file: ${cert.keyFile} }`,
      '  agents:',
      `    - id: ${AGENT}`,
      `      token_sha256: ${hashToken(TOKEN).toString('hex')}`,
      '',
    ].join('\n'));
    // UMBRA_BENCH_CPU_PROF=DIR: the collector and the agent write V8 CPU profiles (one per thread) there.
    const prof = process.env.UMBRA_BENCH_CPU_PROF;
    const profFlags = prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
    // UMBRA_BENCH_COLLECTOR_FLAGS="--flag ...": extra node flags for the collector (to try V8 settings).
    const extra = (process.env.UMBRA_BENCH_COLLECTOR_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const collector = prof || extra.length
      ? spawn(process.execPath, [...UMBRA_NODE_FLAGS, ...profFlags, ...extra, UMBRA, 'collector', '--config', yaml], { stdio: ['ignore', 'ignore', 'inherit'] })
      : spawn(UMBRA, ['collector', '--config', yaml], { stdio: ['ignore', 'ignore', 'inherit'] });
    const url = `https://127.0.0.1:${port}`;
    try {
      for (let i = 0; !(await healthy(url, cert.certPem)); i++) {
        if (i > 300 || collector.exitCode !== null) throw new Error('umbra collector did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      const job: AgentJob = { dir, url, ca: cert.certPem, events, clients, ...(values.batch ? { batch: Number(values.batch) } : {}), ...(values.inflight ? { inflight: Number(values.inflight) } : {}) };
      const collectorCpu0 = cpuSecondsOf(collector.pid!);
      const child = spawn(process.execPath, [...UMBRA_NODE_FLAGS, ...profFlags, fileURLToPath(import.meta.url), '--agent', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (b: Buffer) => { text += b.toString(); });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      if (code !== 0) throw new Error(`agent process exited with ${code}`);
      const collectorCpu = cpuSecondsOf(collector.pid!) - collectorCpu0;
      const collectorRssMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${collector.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      const r = JSON.parse(text) as AgentResult;
      collector.kill('SIGTERM');
      await new Promise((resolve) => collector.once('exit', resolve));
      const db = new Database(join(dir, 'data', 'umbra.sqlite'), { readonly: true });
      const stored = (db.prepare('SELECT count(*) AS n, count(DISTINCT id) AS d FROM events').get() as { n: number; d: number });
      db.close();
      const dbBytes = statSync(join(dir, 'data', 'umbra.sqlite')).size;
      const out = (k: string, v: string): void => void process.stdout.write(`${k.padEnd(36)} ${v}\n`);
      out('events in the spool / stored (distinct)', `${events} / ${stored.n} (${stored.d})`);
      out('client addresses', String(clients));
      out('batches acked (retries)', `${r.batches} (${r.retries})`);
      out('gzip bytes per event on the wire', (r.gzipBytes / events).toFixed(0));
      out('elapsed', `${r.seconds.toFixed(2)} s`);
      out('throughput', `${Math.round(events / r.seconds).toLocaleString('en-US')} events/s`);
      out('agent CPU (spool read, gzip, TLS)', `${r.cpuSeconds.toFixed(2)} s (${(r.cpuSeconds / r.seconds * 100).toFixed(0)}% of a core), peak RSS ${r.maxRssMb.toFixed(0)} MB`);
      out('collector CPU (all threads)', `${collectorCpu.toFixed(2)} s (${(collectorCpu / r.seconds * 100).toFixed(0)}% of a core), peak RSS ${collectorRssMb.toFixed(0)} MB`);
      out('CPU per event, agent + collector', `${((r.cpuSeconds + collectorCpu) / events * 1e6).toFixed(1)} µs`);
      const [user, nice, system, idle, iowait, irq, softirq, steal] = r.machine as [number, number, number, number, number, number, number, number];
      const all = user + nice + system + idle + iowait + irq + softirq + steal;
      const pct = (v: number): string => `${(v / all * 100).toFixed(0)}%`;
      out('machine CPU during the run', `user ${pct(user + nice)}, system ${pct(system + irq + softirq)}, iowait ${pct(iowait)}, idle ${pct(idle)}, steal ${pct(steal)} (of ${cpus().length} cores)`);
      out('database size', `${(dbBytes / 1048576).toFixed(1)} MiB (${Math.round(dbBytes / Math.max(1, stored.n))} bytes/event)`);
    } finally {
      if (collector.exitCode === null) {
        collector.kill('SIGKILL');
        await new Promise((resolve) => collector.once('exit', resolve));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--agent') {
  agent(JSON.parse(process.argv[3]!) as AgentJob).then((r) => process.stdout.write(JSON.stringify(r)), (e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });
} else {
  main().catch((e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });
}
