// `umbra demo`: the whole system in one process on the embedded defaults, no
// root and no network: a collector (HTTPS on loopback, self-signed certificate,
// SQLite store in a local data directory), the real agent pipeline replaying a
// capture that ships with the project as if live (spool → shipper → HTTPS
// ingest), then a summary of who used which AI service, read back from the store.
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UmbraError } from '../common/errors.js';
import { parseConfig } from '../collector/config.js';
import { generateToken } from '../collector/auth/tokens.js';
import { generateSelfSigned } from '../collector/ingest/self-signed.js';
import { startCollector } from '../collector/ingest/server.js';
import { MAX_QUERY_LIMIT } from '../collector/store/store.js';
import { runAgent } from '../agent/runner.js';
import { loadCatalog } from '../signatures/loader.js';
import type { UmbraEvent } from '../agent/event.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEMO_CAPTURE = join(ROOT, 'deploy', 'demo', 'office-morning.pcap');
export const DEMO_DATA_DIR = join('.umbra', 'demo');
export const DEMO_AGENT_ID = 'demo-gateway';
/** How long the agent may take to deliver the last events when the replay ends (ms). */
export const DEMO_STOP_TIMEOUT_MS = 30_000;

const HELP = `usage: umbra demo [options]

Runs Umbra end to end on this machine, with no root and no network: starts a
collector (HTTPS on 127.0.0.1, a self-signed certificate, the SQLite store in
${DEMO_DATA_DIR}/), replays a capture that ships with the project through the
real agent pipeline (decoders → spool → HTTPS ingest → store), and prints who
used which AI service. Then it keeps the collector running and prints the URL
and a token for its query API; Ctrl-C stops it.

options:
  --once              print the summary and exit
  --capture FILE      replay this pcap/pcapng instead of ${DEMO_CAPTURE.slice(ROOT.length + 1)}
  --data-dir DIR      where the demo keeps its state (default ${DEMO_DATA_DIR}; emptied at start)
  --port N            collector port (default: any free port)
  --paced             follow the capture's timestamps (default: as fast as possible)
  --speed X           with --paced: X times faster than captured (default 60)
  -h, --help          this help`;

interface Row { who: string; service: string; category: string; vendor: string; first: string; last: string; events: number; via: Set<string>; names: Set<string> }

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        once: { type: 'boolean', default: false },
        capture: { type: 'string' },
        'data-dir': { type: 'string' },
        port: { type: 'string' },
        paced: { type: 'boolean', default: false },
        speed: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UmbraError('UMBRA_E_USAGE', `${(e as Error).message}\n${HELP}`);
  }
  const v = args.values;
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const port = v.port === undefined ? 0 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UmbraError('UMBRA_E_USAGE', `--port must be a port number (got '${v.port}')`);
  const speed = v.speed === undefined ? 60 : Number(v.speed);
  if (!(speed > 0)) throw new UmbraError('UMBRA_E_USAGE', `--speed must be a positive number (got '${v.speed}')`);
  const capture = resolve(v.capture ?? DEMO_CAPTURE);
  if (!existsSync(capture)) throw new UmbraError('UMBRA_E_CAPTURE_OPEN', capture, 'no such file');
  const dataDir = resolve(v['data-dir'] ?? DEMO_DATA_DIR);

  // A fresh start each time: the summary is about this replay only.
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const say = (s: string): void => void process.stdout.write(s + '\n');

  const tls = await generateSelfSigned(join(dataDir, 'tls'), 'collector');
  const agentToken = generateToken();
  const adminToken = generateToken();
  const config = parseConfig({
    data_dir: dataDir,
    collector: {
      listen: { host: '127.0.0.1', port },
      tls: { cert_file: tls.certFile, key_file: tls.keyFile },
      agents: [{ id: DEMO_AGENT_ID, token_sha256: agentToken.sha256 }],
      admin_tokens: [{ name: 'demo', token_sha256: adminToken.sha256 }],
    },
    store: { type: 'sqlite' },
  }, '(umbra demo)');
  const collectorLog: string[] = [];
  const collector = await startCollector(config, { log: (line) => collectorLog.push(line) });
  say(`collector: ${collector.url} (HTTPS, self-signed), store: SQLite in ${dataDir}`);

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await collector.close();
  };
  try {
    const catalog = loadCatalog();
    say(`agent: replaying ${capture}${v.paced ? ` paced, ${speed}× real time` : ''} through the agent pipeline (${catalog.services.length} AI services in the catalog)`);
    const agent = await runAgent({
      source: { kind: 'files', paths: [capture], paced: v.paced, speed },
      matcher: catalog.matcher,
      observer: { id: DEMO_AGENT_ID, name: 'Demo gateway' },
      spool: { dir: join(dataDir, 'spool') },
      shipper: { url: collector.url, token: agentToken.token, ca: tls.certPem },
      statsIntervalMs: 0,
      stopTimeoutMs: DEMO_STOP_TIMEOUT_MS,
      log: (level, m) => { if (level !== 'info') process.stderr.write(`umbra demo: agent: ${level}: ${m}\n`); },
    });
    const summary = await agent.done;
    const c = summary.counters;
    say(`agent: ${c.packets ?? 0} packets, ${c['agent.events'] ?? 0} AI events spooled, ${summary.delivered ? 'all delivered' : `${summary.pending} still in the spool`} (${summary.elapsedSec.toFixed(2)} s)`);
    if (!summary.delivered) process.stderr.write(`umbra demo: the collector did not acknowledge everything: ${collectorLog.slice(-3).join(' | ')}\n`);

    const stored = await collector.store.count();
    const events = await collector.store.query({ limit: MAX_QUERY_LIMIT });
    say(`store: ${stored} events${stored > events.length ? ` (summary of the latest ${events.length})` : ''}\n`);
    say(summaryTable(events));

    say(`\nquery API (the admin token is valid while this demo runs):`);
    const curl = `curl --cacert ${tls.certFile} -H 'Authorization: Bearer ${adminToken.token}'`;
    say(`  ${curl} '${collector.url}/api/v1/events?limit=5'`);
    say(`  ${curl} '${collector.url}/api/v1/summary/services'   (docs/api.md: every route)`);
    say(`  ${curl} '${collector.url}/metrics'   (Prometheus; docs/metrics.md)`);
    if (v.once) return 0;
    say('\ncollector running; Ctrl-C to stop.');
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    return 0;
  } finally {
    await close();
  }
}

/** Who (client address) used which service: one line per pair, the busiest first. */
export function summaryTable(events: UmbraEvent[]): string {
  const rows = new Map<string, Row>();
  for (const e of events) {
    const s = e.umbra?.service;
    if (!s) continue;
    const key = `${e.source.ip}\u0000${s.id}`;
    let r = rows.get(key);
    if (!r) {
      r = { who: e.source.ip, service: s.name, category: s.category, vendor: s.vendor, first: e['@timestamp'], last: e['@timestamp'], events: 0, via: new Set(), names: new Set() };
      rows.set(key, r);
    }
    r.events++;
    if (e['@timestamp'] < r.first) r.first = e['@timestamp'];
    if (e['@timestamp'] > r.last) r.last = e['@timestamp'];
    if (e.umbra?.match?.via) r.via.add(e.umbra.match.via);
    if (e.destination.domain) r.names.add(e.destination.domain);
  }
  const list = [...rows.values()].sort((a, b) => (a.who < b.who ? -1 : a.who > b.who ? 1 : b.events - a.events));
  const head = ['WHO', 'SERVICE', 'VENDOR', 'CATEGORY', 'FIRST SEEN', 'EVENTS', 'SEEN AS', 'VIA'];
  const cells = list.map((r) => [r.who, r.service, r.vendor, r.category, r.first.slice(11, 19), String(r.events), [...r.names].sort().join(' '), [...r.via].sort().join(',')]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 5 ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join('  ').trimEnd();
  if (list.length === 0) return '(no AI use found)';
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...cells.map(line)].join('\n');
}
