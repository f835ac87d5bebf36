// bench/analyze: `umbra analyze` on a large gateway-like capture (≥ 1M packets,
// ~80 % bulk TLS data and ACKs), side by side with the naive Node baseline
// (../shared/bench/naive-node.js: whole file in memory, UDP DNS + two-segment
// SNI only) and tshark extracting the same names, all in one run. Prints
// packets/s, MB/s and peak RSS for each. Figures, never pass/fail.
//   npm run build && node dist/bench/analyze.js [PACKETS] [--keep]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, unlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const OUT_DIR = join(ROOT, 'bench', 'out');
const POLL_MS = 20;

interface Run { name: string; seconds: number; peakRssMb: number; lines: number }

/** Runs a command, polling its peak RSS (VmHWM) from /proc; stdout lines are counted, not kept. */
function measure(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let hwm = 0;
    let lines = 0;
    let err = '';
    child.stdout.on('data', (b: Buffer) => { for (const c of b) if (c === 10) lines++; });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
      } catch { /* exited */ }
    }, POLL_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${name} exited ${code}: ${err.slice(0, 500)}`));
      resolve({ name, seconds, peakRssMb: hwm / 1024, lines });
    });
  });
}

async function main(): Promise<void> {
  const packets = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 1_200_000);
  const keep = process.argv.includes('--keep');
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `gateway-${packets}.pcap`);
  if (!existsSync(file)) {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'bench', 'make-gateway-capture.js'), file, String(packets)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    process.stdout.write(`built ${r.stdout}`);
  }
  const size = statSync(file).size;
  const cap = spawnSync('capinfos', ['-c', '-M', file], { encoding: 'utf8' });
  const count = Number(/Number of packets:\s+(\d+)/.exec(cap.stdout ?? '')?.[1] ?? packets);

  const runs: Run[] = [];
  runs.push(await measure('umbra analyze (all decoders, AI events)', join(ROOT, 'bin', 'umbra.js'), ['analyze', '--format', 'ndjson', '--no-progress', file]));
  runs.push(await measure('umbra analyze --all (every observation)', join(ROOT, 'bin', 'umbra.js'), ['analyze', '--all', '--format', 'ndjson', '--no-progress', file]));
  const naive = join(ROOT, '..', 'shared', 'bench', 'naive-node.js');
  if (existsSync(naive)) runs.push(await measure('naive-node.js (UDP DNS + SNI only)', process.execPath, [naive, file], { ...process.env, NODE_PATH: join(ROOT, 'node_modules') }));
  else process.stdout.write(`(${naive} not found: naive baseline skipped)\n`);
  if (spawnSync('tshark', ['--version']).status === 0) {
    runs.push(await measure('tshark -T fields (DNS names, SNI, Host)', 'tshark', ['-r', file, '-n', '-T', 'fields', '-e', 'dns.qry.name', '-e', 'tls.handshake.extensions_server_name', '-e', 'http.host']));
  } else process.stdout.write('(tshark not installed: skipped)\n');

  process.stdout.write(`\ncapture: ${file}\n  ${count} packets, ${(size / 1e6).toFixed(0)} MB\n\n`);
  const w = Math.max(...runs.map((r) => r.name.length));
  process.stdout.write(`${'run'.padEnd(w)}  ${'seconds'.padStart(8)}  ${'packets/s'.padStart(10)}  ${'MB/s'.padStart(7)}  ${'peak RSS MB'.padStart(11)}  ${'lines out'.padStart(9)}\n`);
  for (const r of runs) {
    process.stdout.write(`${r.name.padEnd(w)}  ${r.seconds.toFixed(2).padStart(8)}  ${Math.round(count / r.seconds).toLocaleString('en').padStart(10)}  ${(size / 1e6 / r.seconds).toFixed(0).padStart(7)}  ${r.peakRssMb.toFixed(0).padStart(11)}  ${String(r.lines).padStart(9)}\n`);
  }
  const u = runs[0]!, n = runs.find((r) => r.name.startsWith('naive')), t = runs.find((r) => r.name.startsWith('tshark'));
  if (n) process.stdout.write(`\numbra / naive packets/s: ${(n.seconds / u.seconds).toFixed(2)}×`);
  if (t) process.stdout.write(`\numbra / tshark packets/s: ${(t.seconds / u.seconds).toFixed(1)}×`);
  process.stdout.write('\n(seconds are wall time of the whole command, start-up and catalog load included)\n');
  if (!keep) unlinkSync(file);
}

main().catch((e) => { process.stderr.write(`${e.stack ?? e}\n`); process.exit(1); });
