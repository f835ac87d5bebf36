// `umbra agent`: live capture on a gateway's interfaces → AI-use events → disk
// spool → collector over HTTPS (agent/runner.ts does the work).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UmbraError } from '../common/errors.js';
import { loadCatalog } from '../signatures/loader.js';
import { loadAgentConfig, type AgentFileConfig } from '../agent/config.js';
import { DEFAULT_BPF_FILTER } from '../agent/capture/bpf.js';
import { DEFAULT_RING_BYTES } from '../agent/capture/live.js';
import { DEFAULT_AGENT_USER } from '../agent/privileges.js';
import { DEFAULT_METRICS_HOST, parseMetricsListen, type MetricsListen } from '../agent/metrics-listen.js';
import { DEFAULT_STATS_INTERVAL_MS, runAgent, type AgentSource } from '../agent/runner.js';
import { DEFAULT_SPOOL_MAX_BYTES } from '../agent/ship/spool.js';
import { MAX_TOKEN_FILE_BYTES } from '../common/limits.js';
import { BoundedFileError, readBoundedFile, secretFileWarning } from '../common/bounded-file.js';

const OBSERVER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const HELP = `usage: umbra agent --interface IF --collector URL --token-file FILE --spool DIR
                   --observer-id ID [options]

Captures live on the interfaces (libpcap, with a kernel BPF prefilter so bulk
data never reaches the agent), decodes DNS, TLS/QUIC ClientHellos and HTTP
requests as 'umbra analyze' does, and ships the AI-use events to the collector
through a disk spool: an event leaves the spool only once the collector stored it.
Start as root (opening a capture needs CAP_NET_RAW): the agent opens the
captures, then becomes --user for good. Stop with SIGTERM or SIGINT (a second
one during the final flush ends at once; the spool keeps what was not shipped).

options (each may also come from the agent: section of --config; the command
line wins):
  --interface IF          capture on IF (repeatable)
  --collector URL         collector base URL, https://host:port
  --token-file FILE       file holding this agent's token (read before the drop)
  --ca FILE               PEM of the collector's certificate or CA (pins it)
  --insecure              accept any collector certificate (tests/demos only)
  --spool DIR             spool directory (created, given to --user)
  --spool-max-bytes N     bound on the spool (default ${DEFAULT_SPOOL_MAX_BYTES})
  --fsync POLICY          always | interval | never (default interval)
  --observer-id ID        this agent's id: must match its id in the collector config
  --observer-name NAME    observer.name in the events
  --filter BPF            replace the kernel prefilter ('' = every packet)
  --print-filter          print the default prefilter and exit
  --ring-mb N             kernel ring buffer per interface, MiB (default ${DEFAULT_RING_BYTES / 1048576};
                          it is mapped into the agent and counts in its memory)
  --user USER             user to become after start-up (default ${DEFAULT_AGENT_USER})
  --allow-root            accept running as root after start-up
  --keep-root             do not drop root at all (needs --allow-root): only for
                          re-opening captures without a restart
  --signatures DIR        an extra signatures directory (repeatable)
  --all                   also ship observations that match no catalog entry
  --stats-interval S      stats line on stderr every S seconds (default ${DEFAULT_STATS_INTERVAL_MS / 1000}; 0 = none)
  --metrics-listen ADDR   serve Prometheus metrics (umbra_agent_*: packets, kernel
                          drops, anomalies by reason, spool, shipping) at
                          http://ADDR/metrics, plain HTTP without authentication;
                          ADDR is HOST:PORT, [IPv6]:PORT, or PORT for ${DEFAULT_METRICS_HOST}.
                          Opened before the privilege drop (a port < 1024 works).
                          Default: off
  --replay FILE           read capture files instead of interfaces (repeatable)
  --paced                 with --replay: follow the packets' timestamps
  --config FILE           umbra.yaml with an agent: section
  -h, --help              this help

exit status: 0 after a graceful stop, 2 for a usage or start-up error (one line
on stderr: no such interface, permission denied, bad filter, ...), 1 otherwise.`;

function readSecretFile(what: string, file: string): string {
  let buf: Buffer;
  const stat = { mode: 0 };
  try {
    buf = readBoundedFile(file, MAX_TOKEN_FILE_BYTES, stat);
  } catch (e) {
    if ((e as BoundedFileError).reason === 'too_large') throw new UmbraError('UMBRA_E_USAGE', `${what} ${file}: larger than ${MAX_TOKEN_FILE_BYTES} bytes, not a token file`);
    throw new UmbraError('UMBRA_E_USAGE', `${what} ${file}: cannot read: ${(e as Error).message}`);
  }
  const t = buf.toString('utf8').trim();
  if (!t) throw new UmbraError('UMBRA_E_USAGE', `${what} ${file}: empty`);
  const w = secretFileWarning(file, stat.mode, "the agent's group");
  if (w) process.stderr.write(`umbra agent: warning: ${what} ${w}\n`);
  return t;
}

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        interface: { type: 'string', multiple: true },
        collector: { type: 'string' },
        'token-file': { type: 'string' },
        ca: { type: 'string' },
        insecure: { type: 'boolean' },
        spool: { type: 'string' },
        'spool-max-bytes': { type: 'string' },
        fsync: { type: 'string' },
        'observer-id': { type: 'string' },
        'observer-name': { type: 'string' },
        filter: { type: 'string' },
        'print-filter': { type: 'boolean', default: false },
        'ring-mb': { type: 'string' },
        user: { type: 'string' },
        'allow-root': { type: 'boolean' },
        'keep-root': { type: 'boolean' },
        signatures: { type: 'string', multiple: true },
        all: { type: 'boolean' },
        'stats-interval': { type: 'string' },
        'metrics-listen': { type: 'string' },
        replay: { type: 'string', multiple: true },
        paced: { type: 'boolean', default: false },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UmbraError('UMBRA_E_USAGE', `${(e as Error).message} (see umbra agent --help)`);
  }
  const v = args.values;
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (v['print-filter']) {
    process.stdout.write(DEFAULT_BPF_FILTER + '\n');
    return 0;
  }
  const f: AgentFileConfig = v.config ? loadAgentConfig(v.config) : {};
  const num = (name: string, s: string | undefined, min: number): number | undefined => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n) || n < min) throw new UmbraError('UMBRA_E_USAGE', `--${name} must be a number ≥ ${min} (got '${s}')`);
    return n;
  };
  const interfaces = v.interface ?? f.interfaces ?? [];
  const replay = v.replay ?? [];
  const url = v.collector ?? f.collectorUrl;
  const tokenFile = v['token-file'] ?? f.tokenFile;
  const caFile = v.ca ?? f.caFile;
  const insecure = v.insecure ?? f.insecure ?? false;
  const spoolDir = v.spool ?? f.spoolDir;
  const observerId = v['observer-id'] ?? f.observerId;
  const missing: string[] = [];
  if (interfaces.length === 0 && replay.length === 0) missing.push('--interface');
  if (!url) missing.push('--collector');
  if (!tokenFile) missing.push('--token-file');
  if (!spoolDir) missing.push('--spool');
  if (!observerId) missing.push('--observer-id');
  if (missing.length) throw new UmbraError('UMBRA_E_USAGE', `missing ${missing.join(', ')} (see umbra agent --help)`);
  if (interfaces.length && replay.length) throw new UmbraError('UMBRA_E_USAGE', '--interface and --replay exclude each other');
  if (!/^https:\/\//.test(url!)) throw new UmbraError('UMBRA_E_USAGE', `--collector must be an https:// URL (got '${url}')`);
  try {
    new URL(url!);
  } catch {
    throw new UmbraError('UMBRA_E_USAGE', `--collector: not a URL: '${url}'`);
  }
  if (!OBSERVER_ID_RE.test(observerId!)) throw new UmbraError('UMBRA_E_USAGE', `--observer-id must be 1-64 letters, digits, dots, hyphens or underscores, starting with a letter or digit (got '${observerId}')`);
  if (caFile && insecure) throw new UmbraError('UMBRA_E_USAGE', 'give --ca or --insecure, not both');
  if (!caFile && !insecure) throw new UmbraError('UMBRA_E_USAGE', "--ca FILE is needed to trust the collector's certificate (or --insecure for a test)");
  const fsync = v.fsync ?? f.fsync ?? 'interval';
  if (fsync !== 'always' && fsync !== 'interval' && fsync !== 'never') throw new UmbraError('UMBRA_E_USAGE', `--fsync must be always, interval or never (got '${fsync}')`);
  const statsSec = num('stats-interval', v['stats-interval'], 0) ?? f.statsIntervalSeconds ?? DEFAULT_STATS_INTERVAL_MS / 1000;
  const spoolMax = num('spool-max-bytes', v['spool-max-bytes'], 1) ?? f.spoolMaxBytes;
  const ringMb = num('ring-mb', v['ring-mb'], 1) ?? f.ringMb ?? DEFAULT_RING_BYTES / 1048576;
  const keepRoot = v['keep-root'] ?? f.keepRoot ?? false;
  const allowRoot = v['allow-root'] ?? f.allowRoot ?? false;
  if (keepRoot && !allowRoot) throw new UmbraError('UMBRA_E_USAGE', '--keep-root needs --allow-root as well (the agent would stay root)');
  if (v.paced && replay.length === 0) throw new UmbraError('UMBRA_E_USAGE', '--paced goes with --replay');
  let metricsListen: MetricsListen | undefined;
  let metricsOption = '--metrics-listen';
  if (v['metrics-listen'] !== undefined) metricsListen = parseMetricsListen(v['metrics-listen']);
  else if (f.metricsListen !== undefined) metricsListen = parseMetricsListen(f.metricsListen, (metricsOption = `${v.config}: /agent/metrics_listen`));

  // secrets and catalog first: the token file may be readable by root only
  const token = readSecretFile('--token-file', tokenFile!);
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new UmbraError('UMBRA_E_USAGE', `--ca ${caFile}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const catalog = loadCatalog({ extraDirs: v.signatures ?? f.signatures ?? [] });
  const source: AgentSource = replay.length
    ? { kind: 'files', paths: replay, paced: v.paced }
    : { kind: 'live', interfaces, filter: v.filter ?? f.filter ?? DEFAULT_BPF_FILTER, ringBytes: Math.round(ringMb * 1048576) };

  const agent = await runAgent({
    source,
    matcher: catalog.matcher,
    observer: { id: observerId!, ...(v['observer-name'] ?? f.observerName ? { name: v['observer-name'] ?? f.observerName } : {}) },
    spool: { dir: spoolDir!, fsync, ...(spoolMax ? { maxBytes: spoolMax } : {}) },
    shipper: { url: url!, token, ...(ca ? { ca } : {}), insecure },
    all: v.all ?? f.all ?? false,
    privileges: { user: v.user ?? f.user ?? DEFAULT_AGENT_USER, allowRoot, keepRoot },
    statsIntervalMs: statsSec * 1000,
    handleSignals: true,
    ...(metricsListen ? { metrics: { listen: metricsListen, option: metricsOption } } : {}),
  });
  const who = process.geteuid?.();
  const ifaces = source.kind === 'live' ? `interfaces ${interfaces.join(', ')}` : `replay of ${replay.join(', ')}`;
  process.stderr.write(`${new Date().toISOString()} umbra agent: info: started: ${ifaces}, observer ${observerId}, collector ${url}, spool ${spoolDir}, uid ${who}${agent.privileges ? ` (${agent.privileges.action})` : ''}${agent.metricsUrl ? `, metrics ${agent.metricsUrl}` : ''}\n`);
  const summary = await agent.done;
  const code = summary.reason === 'error' ? 1 : 0;
  // A closed live capture keeps a libuv poll handle until its next packet (capture/live.ts).
  if (source.kind === 'live') process.exit(code);
  return code;
}
