// bench/live: `umbra agent` capturing live while tcpreplay replays a gateway-like
// capture at rising rates; figures only, never pass/fail.
//
//   npm run build
//   node dist/bench/live.js [CAPTURE.pcap] [--packets N] [--rates 50000,100000,...,top]
//
// Needs root, `tcpreplay` and `tcpdump` (Debian packages: apt-get install -y
// tcpreplay tcpdump; not in scripts/setup.sh since no test needs tcpreplay).
// Without CAPTURE, one of N packets (default 300,000) is made with
// dist/bench/make-gateway-capture.js.
//
// Topology: a namespace `umbra-bl-ns` holds `umbra-bl1`; its veth peer `umbra-bl0`
// stays in the root namespace. tcpreplay runs in the namespace and sends the
// capture out of umbra-bl1; the agent (the real CLI, as root dropping to nobody,
// default prefilter) captures umbra-bl0 and ships to a collector (HTTPS, SQLite,
// this process) on 127.0.0.1. Offloads off, MTU 9000 (the capture holds frames
// up to 1514 bytes plus VLAN tags).
//
// Per rate: tcpreplay's achieved rate, the agent's kernel drops (pcap ps_drop +
// ps_ifdrop), packets that passed the prefilter, AI events found vs expected
// (`umbra analyze` on the same file: the same pipeline without loss), events
// stored by the collector, and the agent's peak RSS (VmHWM of the node process
// itself: bin/umbra.js's shebang `env -S node …` execs node in place, checked by
// /proc/PID/comm) with a breakdown taken at the end of the run: anonymous memory
// (V8 heap, Buffers, malloc), file-backed (the node binary's pages, shared) and
// the kernel capture ring mapped in (socket:[…] in smaps). Then the same rates
// with `tcpdump -p -B 32768 -w /dev/null` and the same prefilter, for reference.
// Last line: the highest rate with 0 kernel drops and every expected event found.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../collector/config.js';
import { hashToken } from '../collector/auth/tokens.js';
import { generateSelfSigned } from '../collector/ingest/self-signed.js';
import { startCollector } from '../collector/ingest/server.js';
import { DEFAULT_BPF_FILTER } from '../agent/capture/bpf.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UMBRA = join(ROOT, 'bin', 'umbra.js');
const NS = 'umbra-bl-ns';
const HOST_IF = 'umbra-bl0';
const NS_IF = 'umbra-bl1';
const AGENT_ID = 'bench-live';
const TOKEN = 'bench-live-token-0123456789abcdef0123';
export const DEFAULT_RATES = ['50000', '100000', '200000', '300000', '500000', 'top'];
export const DEFAULT_PACKETS = 300_000;
/** After tcpreplay ends: time for the rings to drain and the events to be shipped. */
const SETTLE_MS = 2500;

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout + r.stderr;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => resolve({ code, out }));
  });
}

function topology(up: boolean): void {
  sh('ip', ['netns', 'del', NS], true);
  sh('ip', ['link', 'del', HOST_IF], true);
  if (!up) return;
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
  sh('ip', ['link', 'set', NS_IF, 'netns', NS]);
  sh('ip', ['link', 'set', HOST_IF, 'mtu', '9000', 'up']);
  sh('ip', ['-n', NS, 'link', 'set', NS_IF, 'mtu', '9000', 'up']);
  sh('ethtool', ['-K', HOST_IF, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'], true);
  sh('ip', ['netns', 'exec', NS, 'ethtool', '-K', NS_IF, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'], true);
  // no IPv6 autoconfiguration chatter on the measured link
  sh('sysctl', ['-qw', `net.ipv6.conf.${HOST_IF}.disable_ipv6=1`], true);
}

async function tcpreplay(capture: string, rate: string): Promise<{ pps: number; sent: number }> {
  const r = await run('ip', ['netns', 'exec', NS, 'tcpreplay', '-i', NS_IF, rate === 'top' ? '--topspeed' : `--pps=${rate}`, capture]);
  const sent = Number(/Successful packets:\s+(\d+)/.exec(r.out)?.[1] ?? NaN);
  const pps = Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(r.out)?.[1] ?? NaN);
  if (r.code !== 0) throw new Error(`tcpreplay: ${r.out}`);
  return { pps, sent };
}

interface AgentRow { rate: string; pps: number; sent: number; kernelDrops: number; passed: number; events: number; stored: number; rssMb: number; anonMb: number; fileMb: number; ringMb: number }
interface DumpRow { rate: string; pps: number; sent: number; kernelDrops: number; passed: number }

/** The process's peak RSS and what its RSS is made of now (MB), from /proc. */
function memoryOf(pid: number): { rssMb: number; anonMb: number; fileMb: number; ringMb: number } {
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  if (comm !== 'node') throw new Error(`agent pid ${pid} is '${comm}', not node: its RSS would not be the agent's`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // the capture ring: a mapping of the packet socket, `socket:[inode]` in smaps
  let ringKb = 0;
  let inRing = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inRing = /\ssocket:\[\d+\]$/.test(line);
    else if (inRing && line.startsWith('Rss:')) ringKb += Number(/(\d+)/.exec(line)![1]);
  }
  return { rssMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: (kb('RssFile') - ringKb) / 1024, ringMb: ringKb / 1024 };
}

async function agentRun(work: string, capture: string, rate: string, certFile: string, keyFile: string, tokenFile: string, n: number): Promise<AgentRow> {
  const dataDir = join(work, `data-${n}`);
  const config = parseConfig({
    data_dir: dataDir,
    collector: { listen: { host: '127.0.0.1', port: 0 }, tls: { cert_file: certFile, key_file: keyFile }, agents: [{ id: AGENT_ID, token_sha256: hashToken(TOKEN).toString('hex') }] },
  }, '(bench)');
  const collector = await startCollector(config, { log: () => {} });
  const agent: ChildProcess = spawn(UMBRA, ['agent', '--interface', HOST_IF, '--collector', collector.url, '--token-file', tokenFile,
    '--ca', certFile, '--spool', join(work, `spool-${n}`), '--observer-id', AGENT_ID, '--stats-interval', '0', '--fsync', 'interval'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => agent.on('exit', () => r()));
  for (let i = 0; i < 300 && !/info: started/.test(err); i++) await sleep(50);
  if (!/info: started/.test(err)) throw new Error(`agent did not start: ${err}`);
  await sleep(300);
  const t = await tcpreplay(capture, rate);
  await sleep(SETTLE_MS);
  const mem = memoryOf(agent.pid!);
  agent.kill('SIGTERM');
  await exited;
  const last = /stopped \(signal\): (.*)$/m.exec(err)?.[1] ?? '';
  const v = (k: string): number => Number(new RegExp(`\\b${k}=(\\d+)`).exec(last)?.[1] ?? NaN);
  const stored = await collector.store.count();
  await collector.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { rate, pps: t.pps, sent: t.sent, kernelDrops: v('kernel_dropped') + v('if_dropped'), passed: v('packets'), events: v('events'), stored, ...mem };
}

async function tcpdumpRun(capture: string, rate: string): Promise<DumpRow> {
  const d = spawn('tcpdump', ['-i', HOST_IF, '-p', '-n', '-B', '32768', '-w', '/dev/null', DEFAULT_BPF_FILTER], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  d.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => d.on('exit', () => r()));
  for (let i = 0; i < 100 && !/listening on/.test(err); i++) await sleep(50);
  const t = await tcpreplay(capture, rate);
  await sleep(1000);
  d.kill('SIGINT');
  await exited;
  const num = (re: RegExp): number => Number(re.exec(err)?.[1] ?? NaN);
  return { rate, pps: t.pps, sent: t.sent, passed: num(/(\d+) packets captured/), kernelDrops: num(/(\d+) packets dropped by kernel/) + (num(/(\d+) packets dropped by interface/) || 0) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const packets = Number(opt('--packets') ?? DEFAULT_PACKETS);
  const rates = (opt('--rates') ?? DEFAULT_RATES.join(',')).split(',');
  if (process.geteuid?.() !== 0) {
    console.log('bench/live: needs root (network namespace, live capture)');
    return;
  }
  for (const tool of ['tcpreplay', 'tcpdump', 'ip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.log(`bench/live: needs ${tool} (apt-get install -y ${tool})`);
      return;
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'umbra-bench-live-'));
  chmodSync(work, 0o755);
  const cleanup = (): void => {
    topology(false);
    rmSync(work, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    let capture = args[0];
    if (!capture) {
      capture = join(work, `gateway-${packets}.pcap`);
      sh(process.execPath, [join(ROOT, 'dist', 'bench', 'make-gateway-capture.js'), capture, String(packets)]);
    }
    if (!existsSync(capture)) throw new Error(`${capture}: no such file`);
    const info = sh('capinfos', ['-c', '-u', capture], true);
    const expectedOut = spawnSync(process.execPath, [UMBRA, 'analyze', '--format', 'ndjson', '--no-progress', capture], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (expectedOut.status !== 0) throw new Error(`umbra analyze: ${expectedOut.stderr}`);
    const expected = expectedOut.stdout.split('\n').filter(Boolean).length;
    console.log(`bench/live: ${capture}`);
    console.log(`  ${info.trim().split('\n').slice(1).map((l) => l.replace(/\s+/g, ' ').trim()).join('; ')}`);
    console.log(`  expected AI events (umbra analyze on the file): ${expected}`);
    console.log(`  prefilter: default (${DEFAULT_BPF_FILTER.length} characters); machine: ${spawnSync('nproc').stdout.toString().trim()} cores`);

    const tls = await generateSelfSigned(join(work, 'tls'));
    const tokenFile = join(work, 'token');
    writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
    topology(true);

    const rows: AgentRow[] = [];
    let n = 0;
    for (const rate of rates) {
      const r = await agentRun(work, capture, rate, tls.certFile, tls.keyFile, tokenFile, n++);
      rows.push(r);
      console.log(`  agent rate ${rate}: ${JSON.stringify(r)}`);
    }
    const dumps: DumpRow[] = [];
    for (const rate of rates) {
      const r = await tcpdumpRun(capture, rate);
      dumps.push(r);
      console.log(`  tcpdump rate ${rate}: ${JSON.stringify(r)}`);
    }

    const pad = (s: string | number, w: number): string => String(s).padStart(w);
    console.log('\numbra agent (default prefilter)');
    console.log(`${pad('asked', 8)} ${pad('sent pps', 10)} ${pad('sent', 8)} ${pad('passed', 8)} ${pad('k.drops', 8)} ${pad('events', 7)} ${pad('expected', 8)} ${pad('stored', 7)} ${pad('peak RSS MB', 11)}  at the end: anon + file + ring MB`);
    for (const r of rows) {
      console.log(`${pad(r.rate, 8)} ${pad(r.pps.toFixed(0), 10)} ${pad(r.sent, 8)} ${pad(r.passed, 8)} ${pad(r.kernelDrops, 8)} ${pad(r.events, 7)} ${pad(expected, 8)} ${pad(r.stored, 7)} ${pad(r.rssMb.toFixed(1), 11)}  ${r.anonMb.toFixed(1)} + ${r.fileMb.toFixed(1)} + ${r.ringMb.toFixed(1)}`);
    }
    console.log('\ntcpdump -p -B 32768 -w /dev/null (same prefilter)');
    console.log(`${pad('asked', 8)} ${pad('sent pps', 10)} ${pad('sent', 8)} ${pad('passed', 8)} ${pad('k.drops', 8)}`);
    for (const r of dumps) console.log(`${pad(r.rate, 8)} ${pad(r.pps.toFixed(0), 10)} ${pad(r.sent, 8)} ${pad(r.passed, 8)} ${pad(r.kernelDrops, 8)}`);
    const ok = rows.filter((r) => r.kernelDrops === 0 && r.events >= expected && r.stored >= expected);
    const best = ok.sort((a, b) => b.pps - a.pps)[0];
    const dumpBest = dumps.filter((r) => r.kernelDrops === 0).sort((a, b) => b.pps - a.pps)[0];
    console.log(`\nhighest rate with 0 kernel drops and every expected AI event found and stored: ${best ? `${best.pps.toFixed(0)} packets/s (asked ${best.rate})` : 'none of the rates'}`);
    console.log(`tcpdump, highest rate with 0 kernel drops: ${dumpBest ? `${dumpBest.pps.toFixed(0)} packets/s (asked ${dumpBest.rate})` : 'none of the rates'}`);
    console.log(`agent peak RSS, largest over the runs: ${Math.max(...rows.map((r) => r.rssMb)).toFixed(1)} MB`);
  } finally {
    cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(`bench/live: ${(e as Error).stack ?? String(e)}`);
  topology(false);
  process.exitCode = 1;
});
