// The agent's Prometheus /metrics: --metrics-listen parsing, the real runner on
// fixture captures (file source → pipeline → spool → shipper → real collector)
// scraped over HTTP with figures checked against capinfos (packet counts) and the
// collector's store (events), and the real `umbra agent` command: the listener is
// opened before the privilege drop (a port below 1024 as root, then uid nobody),
// refused with a clear error when not root, and bad values name the option.
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMetricsListen, TRAFFIC_COUNTERS } from '../../agent/metrics.js';
import { runAgent } from '../../agent/runner.js';
import { startCollector, type RunningCollector } from '../../collector/ingest/server.js';
import { UmbraError } from '../../common/errors.js';
import { defaultCatalog } from '../../signatures/loader.js';
import { AGENT, AGENT_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../collector/helpers.js';
import { agentCliWorld, type AgentCliWorld } from '../helpers/agent-cli.js';
import { fixture, ROOT } from '../helpers/root.js';
import { NOBODY_SKIP_REASON, nobodyCanRead } from '../helpers/nobody.js';
import { parseExposition, scrape, type Exposition } from '../helpers/prom-text.js';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const RUN = fromSource ? ['--import', 'tsx', join(here, '..', 'collector', 'run-umbra.ts')] : [join(here, '..', 'collector', 'run-umbra.js')];
const isRoot = process.geteuid?.() === 0;

const CLIENTS = readdirSync(fixture('captures', 'clients')).filter((f) => f.endsWith('.pcap')).map((f) => fixture('captures', 'clients', f));
const QUIC = readdirSync(fixture('captures', 'quic')).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => fixture('captures', 'quic', f));

/** Packets in the captures as counted by Wireshark's capinfos (not our readers). */
function capinfosPackets(files: string[]): number {
  const out = execFileSync('capinfos', ['-T', '-r', '-c', ...files], { encoding: 'utf8' });
  return out.trim().split('\n').reduce((n, line) => n + Number(line.split('\t').pop()), 0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port below 1024 nobody listens on (only root may bind it). */
async function freePrivilegedPort(): Promise<number> {
  for (let p = 900; p < 1000; p++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return p;
  }
  throw new Error('no free port in 900-999');
}

describe('agent metrics: --metrics-listen', () => {
  it('takes HOST:PORT, [IPv6]:PORT, or a bare port on loopback', () => {
    expect(parseMetricsListen('9464')).to.deep.equal({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsListen('0.0.0.0:9100')).to.deep.equal({ host: '0.0.0.0', port: 9100 });
    expect(parseMetricsListen('localhost:0')).to.deep.equal({ host: 'localhost', port: 0 });
    expect(parseMetricsListen('[::1]:9464')).to.deep.equal({ host: '::1', port: 9464 });
    expect(parseMetricsListen('mgmt-1.example.org:9464')).to.deep.equal({ host: 'mgmt-1.example.org', port: 9464 });
  });

  it('refuses anything else with an error naming the option', () => {
    for (const v of ['', 'abc', '1.2.3.4:', ':9464', '70000', '::1:9464', 'host:port', '127.0.0.1:9464:1', 'a b:1', '-1']) {
      let err: unknown = null;
      try {
        parseMetricsListen(v);
      } catch (e) {
        err = e;
      }
      expect(err, v).to.be.instanceOf(UmbraError);
      expect((err as UmbraError).code).to.equal('UMBRA_E_USAGE');
      expect((err as Error).message, v).to.match(/^--metrics-listen '/);
    }
    expect(() => parseMetricsListen('x', 'umbra.yaml: /agent/metrics_listen')).to.throw(/^umbra\.yaml: \/agent\/metrics_listen 'x': the port must be a number/);
  });
});

describe('agent metrics: the runner scraped over HTTP', function () {
  this.timeout(90_000);
  let tls: TempDir;
  let collector: RunningCollector;
  let dir: string;

  before(async () => {
    tls = await tempDirWithCert();
    collector = await startCollector(testConfig(tls), { log: () => {} });
    dir = mkdtempSync(join(tmpdir(), 'umbra-agent-metrics-'));
  });
  after(async () => {
    await collector?.close();
    tls?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('packets equal capinfos, events shipped equal the events the collector stored, every counter in one family', async () => {
    const files = [...CLIENTS, ...QUIC];
    const packets = capinfosPackets(files);
    expect(packets).to.be.greaterThan(250);
    const agent = await runAgent({
      source: { kind: 'files', paths: files },
      matcher: defaultCatalog().matcher,
      observer: { id: AGENT },
      spool: { dir: join(dir, 'spool'), fsync: 'never' },
      shipper: { url: collector.url, token: AGENT_TOKEN, ca: tls.cert.certPem, lingerMs: 20 },
      statsIntervalMs: 0,
      stopOnSourceEnd: false,
      metrics: { listen: { host: '127.0.0.1', port: 0 } },
      log: () => {},
    });
    try {
      expect(agent.metricsUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const get = async (): Promise<Exposition> => {
        const r = await scrape(agent.metricsUrl!);
        expect(r.status).to.equal(200);
        expect(r.contentType).to.match(/^text\/plain; version=0\.0\.4/);
        return parseExposition(r.text);
      };
      // wait until the files are read and everything is acknowledged, then for a quiet moment
      let m = await get();
      for (let i = 0; i < 200; i++) {
        const done = m.get('umbra_agent_packets_total') === packets && m.get('umbra_agent_spool_pending_frames') === 0 && m.get('umbra_agent_events_total')! > 0
          && m.get('umbra_agent_acked_events_total') === m.get('umbra_agent_events_total');
        if (done) break;
        await sleep(50);
        m = await get();
      }
      await sleep(300);
      m = await get();

      const stored = await collector.store.count();
      expect(stored).to.be.greaterThan(30);
      expect(m.get('umbra_agent_packets_total')).to.equal(packets);
      expect(m.get('umbra_agent_captured_bytes_total')).to.equal(agent.counters.bytes);
      expect(m.get('umbra_agent_events_total')).to.equal(stored);
      expect(m.get('umbra_agent_spool_appended_events_total')).to.equal(stored);
      expect(m.get('umbra_agent_acked_events_total')).to.equal(stored);
      expect(m.get('umbra_agent_spool_acked_events_total')).to.equal(stored);
      expect(m.get('umbra_agent_shipped_events_total')).to.equal(stored); // no retry happened
      expect(m.get('umbra_agent_collector_events_total', { result: 'accepted' })).to.equal(stored);
      expect(m.get('umbra_agent_collector_events_total', { result: 'duplicate' })).to.equal(0);
      expect(m.get('umbra_agent_spool_pending_frames')).to.equal(0);
      for (const reason of ['full', 'write_error', 'too_large']) expect(m.get('umbra_agent_spool_dropped_events_total', { reason })).to.equal(0);
      expect(m.get('umbra_agent_spool_max_bytes')).to.equal(256 * 1024 * 1024);
      expect(m.get('umbra_agent_spool_segments')).to.be.at.least(1);
      expect(m.get('umbra_agent_capture_dropped_packets_total', { where: 'kernel' })).to.equal(0);
      expect(m.all('umbra_agent_ship_failures_total').filter((s) => s.value > 0)).to.deep.equal([]);
      // one latency observation per request
      const requests = m.get('umbra_agent_ship_requests_total')!;
      expect(requests).to.be.at.least(1);
      expect(m.get('umbra_agent_ship_request_duration_seconds_count')).to.equal(requests);
      expect(m.get('umbra_agent_ship_request_duration_seconds_bucket', { le: '+Inf' })).to.equal(requests);
      // observations by action add up to what the decoders counted; matched ones became events
      const actions = m.all('umbra_agent_observations_total');
      expect(actions.map((s) => s.labels.action)).to.include.members(['dns-query', 'tls-client-hello', 'quic-initial']);
      expect(m.get('umbra_agent_observations_matched_total')).to.equal(stored);
      expect(m.get('umbra_agent_process_resident_memory_bytes')).to.be.greaterThan(1e6);

      // Every named counter is exported exactly once: in its own family, as traffic{kind} or as anomalies{reason}.
      const counters = agent.counters.toJSON();
      const anomalies = new Map(m.all('umbra_agent_anomalies_total').map((s) => [s.labels.reason!, s.value]));
      const traffic = new Map(m.all('umbra_agent_traffic_total').map((s) => [s.labels.kind!, s.value]));
      expect(anomalies.size).to.be.greaterThan(0);
      expect(traffic.get('tcp.flows')).to.equal(counters['tcp.flows']);
      expect(anomalies.get('quic.hello_timeout')).to.equal(counters['quic.hello_timeout']);
      for (const [name, value] of Object.entries(counters)) {
        const where = [anomalies.has(name) ? 'anomalies' : '', traffic.has(name) ? 'traffic' : ''].filter(Boolean);
        if (TRAFFIC_COUNTERS.has(name)) expect(where, name).to.deep.equal(['traffic']);
        else if (/^(packets|bytes|agent\.events|events\.|capture\.kernel_|capture\.if_dropped|spool\.(appended|acked|dropped|dropped_write_error|rejected_too_large)$|ship\.)/.test(name) && !anomalies.has(name)) expect(where, name).to.deep.equal([]);
        else expect(where, name).to.deep.equal(['anomalies']);
        if (anomalies.has(name)) expect(anomalies.get(name), name).to.equal(value);
      }
      // docs/metrics.md lists exactly the families exported (the process metrics aside)
      const exported = [...m.types.keys()].filter((n) => n.startsWith('umbra_agent_') && !/^umbra_agent_(process_|nodejs_)/.test(n)).sort();
      const documented = [...readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8').matchAll(/^\| `(umbra_agent_[a-z_]+)`/gm)].map((x) => x[1]!).sort();
      expect(exported).to.deep.equal(documented);
      // the listener answers only /metrics
      expect((await scrape(agent.metricsUrl!.replace(/\/metrics$/, '/other'))).status).to.equal(404);
    } finally {
      await agent.stop();
    }
    // closed with the agent
    let refused = false;
    await scrape(agent.metricsUrl!).catch(() => { refused = true; });
    expect(refused).to.equal(true);
  });

  it('a store failure at the collector: the same 503 counted on both sides, the batch sent again and stored once', async () => {
    // A second collector in front of the first one's store, failing its first commit.
    let failedEvents = -1;
    const inner = collector.store;
    const failingOnce = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'insertBatch') {
          return (events: unknown[], dead: unknown[]) => {
            if (failedEvents < 0) {
              failedEvents = events.length;
              return Promise.reject(new Error('disk I/O error (test)'));
            }
            return target.insertBatch(events as never, dead as never);
          };
        }
        const v = (target as unknown as Record<string | symbol, unknown>)[prop];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const front = await startCollector(testConfig(tls), { store: failingOnce, log: () => {} });
    const before = await inner.count();
    const files = [fixture('captures', 'clients', 'curl-http1-ipv4.pcap'), fixture('captures', 'clients', 'dig-udp.pcap')];
    const agent = await runAgent({
      source: { kind: 'files', paths: files },
      matcher: defaultCatalog().matcher,
      observer: { id: AGENT },
      spool: { dir: join(dir, 'spool-503'), fsync: 'never' },
      shipper: { url: front.url, token: AGENT_TOKEN, ca: tls.cert.certPem, lingerMs: 20 },
      statsIntervalMs: 0,
      stopOnSourceEnd: false,
      metrics: { listen: { host: '127.0.0.1', port: 0 } },
      log: () => {},
    });
    try {
      const get = async (): Promise<Exposition> => parseExposition((await scrape(agent.metricsUrl!)).text);
      let m = await get();
      // the 503 carries Retry-After: 5 (seconds)
      for (let i = 0; i < 300 && !(m.get('umbra_agent_packets_total') === capinfosPackets(files) && m.get('umbra_agent_spool_pending_frames') === 0 && m.get('umbra_agent_events_total')! > 0); i++) {
        await sleep(50);
        m = await get();
      }
      const stored = (await inner.count()) - before;
      expect(failedEvents).to.be.greaterThan(0);
      expect(stored).to.equal(m.get('umbra_agent_events_total'));
      expect(m.get('umbra_agent_ship_failures_total', { status: '503' })).to.equal(1);
      expect(m.get('umbra_agent_ship_retries_total')).to.equal(1);
      expect(m.get('umbra_agent_acked_events_total')).to.equal(stored);
      expect(m.get('umbra_agent_shipped_events_total')).to.equal(stored + failedEvents);
      expect(m.get('umbra_agent_ship_request_duration_seconds_count')).to.equal(m.get('umbra_agent_ship_requests_total'));
      const fm = parseExposition(front.metrics ? (await front.metrics.scrape()).text : '');
      expect(fm.get('umbra_collector_store_failures_total')).to.equal(1);
      expect(fm.get('umbra_collector_requests_refused_total', { status: '503' })).to.equal(1);
      expect(fm.get('umbra_collector_events_accepted_total')).to.equal(stored);
      expect(fm.get('umbra_collector_agent_events_accepted_total', { agent: AGENT })).to.equal(stored);
    } finally {
      await agent.stop();
      await front.close();
    }
  });

  it('a listener that cannot be opened stops the start-up with an error naming the option; nothing is left open', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as { port: number }).port;
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const matcher = defaultCatalog().matcher;
    const before = fds();
    try {
      let err: unknown = null;
      try {
        await runAgent({
          source: { kind: 'files', paths: [CLIENTS[0]!] },
          matcher,
          observer: { id: AGENT },
          spool: { dir: join(dir, 'spool-busy'), fsync: 'never' },
          shipper: { url: collector.url, token: AGENT_TOKEN, ca: tls.cert.certPem },
          statsIntervalMs: 0,
          metrics: { listen: { host: '127.0.0.1', port } },
          log: () => {},
        });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(UmbraError);
      expect((err as Error).message).to.equal(`--metrics-listen 127.0.0.1:${port}: cannot listen: EADDRINUSE (port in use)`);
      await sleep(200); // closing a file handle is asynchronous
      expect(fds(), 'the capture file is closed again').to.equal(before);
    } finally {
      holder.close();
    }
  });
});

describe('agent metrics: umbra agent --metrics-listen', function () {
  this.timeout(90_000);
  let dir = '';
  let tokenFile = '';
  let tls: TempDir;
  let collector: RunningCollector;
  const common = (spool: string): string[] => ['--collector', collector.url, '--token-file', tokenFile, '--ca', tls.cert.certFile, '--spool', join(dir, spool), '--observer-id', AGENT, '--stats-interval', '0'];
  const umbra = (args: string[], asNobody = false) => {
    const cmd = asNobody ? 'setpriv' : process.execPath;
    const pre = asNobody ? ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', process.execPath] : [];
    return spawnSync(cmd, [...pre, ...RUN, 'agent', ...args], { encoding: 'utf8', timeout: 60_000, cwd: ROOT });
  };

  let world: AgentCliWorld | undefined;
  before(async () => {
    world = await agentCliWorld('umbra-agent-metrics-cli-');
    ({ dir, tokenFile, tls, collector } = world);
  });
  after(async () => {
    await world?.remove();
  });

  it('--help documents --metrics-listen', () => {
    const r = umbra(['--help']);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/--metrics-listen ADDR .*\n(.*\n)*.*PORT for 127\.0\.0\.1/);
  });

  it('live on loopback: packets and kernel-received equal what tcpdump counts on the same interface and filter', async function () {
    if (!isRoot) this.skip(); // a live capture needs root (CAP_NET_RAW)
    const port = 40000 + Math.floor(Math.random() * 20000);
    const filter = `udp and dst host 127.0.0.1 and dst port ${port}`;
    const child = spawn(process.execPath, [...RUN, 'agent', '--interface', 'lo', '--filter', filter, ...common('spool-live'), '--user', 'nobody', '--metrics-listen', '0'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // the reference: tcpdump on the same interface with the same filter
    const td = spawn('tcpdump', ['-i', 'lo', '-n', '-s', '256', '-B', '8192', '-Z', 'root', '-w', '/dev/null', filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    let tdErr = '';
    td.stderr!.on('data', (d: Buffer) => (tdErr += d.toString()));
    const tdExited = new Promise<void>((resolve) => td.on('exit', () => resolve()));
    try {
      for (let i = 0; i < 200 && !(/started:/.test(stderr) && /listening on lo/.test(tdErr)); i++) await sleep(50);
      const url = /metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)?.[1];
      expect(url, stderr).to.be.a('string');
      expect(tdErr).to.match(/listening on lo/);
      const sent = 500;
      const sock = createSocket('udp4');
      for (let i = 0; i < sent; i++) {
        await new Promise<void>((r, j) => sock.send(Buffer.from(`umbra metrics test ${i}`), port, '127.0.0.1', (e) => (e ? j(e) : r())));
      }
      sock.close();
      await sleep(1500); // the rings hand over their last block after a timeout (agent 100 ms, tcpdump 1 s)
      td.kill('SIGINT');
      await tdExited;
      const captured = Number(/(\d+) packets? captured/.exec(tdErr)?.[1]);
      const received = Number(/(\d+) packets? received by filter/.exec(tdErr)?.[1]);
      expect(captured, tdErr).to.equal(sent);
      let m: Exposition | null = null;
      for (let i = 0; i < 100; i++) {
        m = parseExposition((await scrape(url!)).text);
        if (m.get('umbra_agent_packets_total') === captured && m.get('umbra_agent_kernel_received_packets_total') === received) break;
        await sleep(50);
      }
      expect(m!.get('umbra_agent_packets_total')).to.equal(captured);
      // on loopback the kernel counts each packet twice (sent and received); libpcap hands over one
      expect(m!.get('umbra_agent_kernel_received_packets_total')).to.equal(received);
      expect(m!.get('umbra_agent_capture_dropped_packets_total', { where: 'kernel' })).to.equal(0);
      expect(m!.get('umbra_agent_traffic_total', { kind: 'udp.other' })).to.equal(sent);
    } finally {
      child.kill('SIGTERM');
      td.kill('SIGINT');
    }
    expect(await exited, stderr).to.equal(0);
  });

  it('a bad value is one line naming --metrics-listen (or the config key), exit status 2', () => {
    const f = fixture('captures', 'clients', 'dig-udp.pcap');
    let r = umbra(['--replay', f, ...common('spool-bad'), '--metrics-listen', 'nonsense']);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/--metrics-listen 'nonsense': the port must be a number/);
    const cfg = join(dir, 'umbra.yaml');
    writeFileSync(cfg, 'agent:\n  metrics_listen: "127.0.0.1:http"\n');
    r = umbra(['--config', cfg, '--replay', f, ...common('spool-bad')]);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.include(`${cfg}: /agent/metrics_listen '127.0.0.1:http': the port must be a number`);
    writeFileSync(cfg, 'agent:\n  metrics_listen: [9464]\n');
    r = umbra(['--config', cfg, '--replay', f, ...common('spool-bad')]);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.include('/agent/metrics_listen: must be string,integer');
  });

  it('not root: a port below 1024 is refused at start-up with EACCES, naming the option', async function () {
    if (!isRoot) this.skip(); // setpriv to nobody needs root
    if (!nobodyCanRead(RUN[RUN.length - 1]!)) {
      console.log(`    (skipped: ${NOBODY_SKIP_REASON})`);
      this.skip();
    }
    const port = await freePrivilegedPort();
    const r = umbra(['--replay', fixture('captures', 'clients', 'dig-udp.pcap'), ...common('spool-nobody'), '--metrics-listen', `127.0.0.1:${port}`], true);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.include(`--metrics-listen 127.0.0.1:${port}: cannot listen: EACCES (a port below 1024 needs root at start-up)`);
  });

  it('as root: listens on a port below 1024, drops to nobody, and serves the metrics afterwards', async function () {
    if (!isRoot) this.skip();
    const port = await freePrivilegedPort();
    // chromium-tls.pcap spans 18.9 s: paced, the agent is still running when scraped
    const f = fixture('captures', 'clients', 'chromium-tls.pcap');
    const child = spawn(process.execPath, [...RUN, 'agent', '--replay', f, '--paced', ...common('spool-root'), '--user', 'nobody', '--metrics-listen', `127.0.0.1:${port}`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 200 && !/started:/.test(stderr); i++) await sleep(50);
      expect(stderr).to.match(new RegExp(`started: .*uid 65534 \\(dropped\\), metrics http://127\\.0\\.0\\.1:${port}/metrics`));
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)!.slice(1).map(Number);
      expect(uids).to.deep.equal([65534, 65534, 65534, 65534]);
      let m: Exposition | null = null;
      for (let i = 0; i < 100; i++) {
        const r = await scrape(`http://127.0.0.1:${port}/metrics`);
        expect(r.status).to.equal(200);
        m = parseExposition(r.text);
        if (m.get('umbra_agent_packets_total')! > 0) break;
        await sleep(50);
      }
      expect(m!.get('umbra_agent_packets_total')).to.be.within(1, 75);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr).to.equal(0);
  });
});
