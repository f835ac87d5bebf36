// `umbra agent` live, end to end, as root: a network namespace (the client) joined
// by a veth pair to the root namespace, whose end `umbra-lv0` holds the servers'
// address; dnsmasq, openssl s_server and python http.server listen on that address
// only. The real collector (HTTPS, SQLite) runs on 127.0.0.1 in this process; the
// real CLI runs as a child capturing on umbra-lv0 and lo with the default kernel
// prefilter, drops to `nobody`, and ships. dig, curl and openssl s_client in the
// namespace produce the traffic; the names they were told to use must arrive in
// the store with the right service and action. Also: the agent's effective uid is
// not 0 after start-up, the kernel dropped nothing, and a bulk download mostly
// never reached the agent.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector, type RunningCollector } from '../../../collector/ingest/server.js';
import { AGENT, AGENT_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../../collector/helpers.js';
import type { UmbraEvent } from '../../../agent/event.js';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const RUN = fromSource ? ['--import', 'tsx', join(here, '..', '..', 'collector', 'run-umbra.ts')] : [join(here, '..', '..', 'collector', 'run-umbra.js')];

const NS = 'umbra-lv-c';
const HOST_IF = 'umbra-lv0';
const NS_IF = 'umbra-lv1';
const S4 = '10.77.0.1';
const C4 = '10.77.0.2';
const S6 = 'fd77::1';
const C6 = 'fd77::2';
const NAMES = ['chatgpt.com', 'claude.ai', 'api.openai.com', 'gemini.google.com', 'api.anthropic.com', 'api.mistral.ai', 'example.org'];
const TOOLS = ['ip', 'ethtool', 'dnsmasq', 'openssl', 'python3', 'dig', 'curl'];
const BULK_BYTES = 8 * 1024 * 1024;

function sh(cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 20_000 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
const inNs = (args: string[], timeout = 20_000): string => sh('ip', ['netns', 'exec', NS, ...args], { allowFail: true, timeout });
const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

function removeTopology(): void {
  sh('ip', ['netns', 'del', NS], { allowFail: true });
  sh('ip', ['link', 'del', HOST_IF], { allowFail: true });
  rmSync(`/etc/netns/${NS}`, { recursive: true, force: true });
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ifPackets = (): number => ['rx_packets', 'tx_packets'].reduce((n, f) => n + Number(readFileSync(`/sys/class/net/${HOST_IF}/statistics/${f}`, 'utf8')), 0);

describe('umbra agent live on a veth (root only)', function () {
  this.timeout(120_000);
  let work = '';
  let tls: TempDir | undefined;
  let collector: RunningCollector | undefined;
  const servers: ChildProcess[] = [];
  let agent: ChildProcess | undefined;
  let agentErr = '';
  let agentExit: Promise<number | null> | undefined;
  let stored: UmbraEvent[] = [];
  let agentUid = -1;
  let ifPacketsDuring = 0;

  before(async function () {
    if (process.geteuid?.() !== 0) {
      console.log('    (skipped: needs root for network namespaces and live capture; run the tests as root)');
      this.skip();
    }
    const missing = TOOLS.filter((t) => !have(t));
    if (missing.length) {
      console.log(`    (skipped: missing ${missing.join(', ')}; see scripts/setup.sh)`);
      this.skip();
    }
    removeTopology();
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
    sh('ip', ['link', 'set', NS_IF, 'netns', NS]);
    sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    for (const [pre, dev, a4, a6] of [[[], HOST_IF, S4, S6], [['-n', NS], NS_IF, C4, C6]] as const) {
      sh('ip', [...pre, 'link', 'set', dev, 'mtu', '1500', 'up']);
      sh('ip', [...pre, 'addr', 'add', `${a4}/24`, 'dev', dev]);
      sh('ip', [...pre, 'addr', 'add', `${a6}/64`, 'dev', dev, 'nodad']);
    }
    sh('ethtool', ['-K', HOST_IF, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'], { allowFail: true });
    inNs(['ethtool', '-K', NS_IF, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off']);
    mkdirSync(`/etc/netns/${NS}`, { recursive: true });
    writeFileSync(`/etc/netns/${NS}/resolv.conf`, `nameserver ${S4}\n`);

    work = mkdtempSync(join(tmpdir(), 'umbra-live-'));
    chmodSync(work, 0o755); // the agent's user must reach the spool below it
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=umbra-live-test',
      '-keyout', join(work, 'srv.key'), '-out', join(work, 'srv.crt')]);
    const www = join(work, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'bulk.bin'), Buffer.alloc(BULK_BYTES, 7));
    const dnsArgs = NAMES.flatMap((n) => [`--address=/${n}/${S4}`, `--address=/${n}/${S6}`]);
    const start = (cmd: string, args: string[], cwd?: string): void => {
      const c = spawn(cmd, args, { stdio: 'ignore', cwd });
      servers.push(c);
    };
    start('dnsmasq', ['--no-daemon', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${S4}`, '--except-interface=lo', '--port=53', '--address=/#/', ...dnsArgs, `--pid-file=${join(work, 'dnsmasq.pid')}`]);
    for (const acc of [`${S4}:443`, `[${S6}]:443`]) {
      start('openssl', ['s_server', '-quiet', '-accept', acc, '-naccept', '100', '-cert', join(work, 'srv.crt'), '-key', join(work, 'srv.key'), '-alpn', 'h2,http/1.1', '-www']);
    }
    start('python3', ['-m', 'http.server', '80', '--bind', S4], www);

    tls = await tempDirWithCert();
    collector = await startCollector(testConfig(tls), { log: () => {} });
    const tokenFile = join(work, 'agent.token');
    writeFileSync(tokenFile, AGENT_TOKEN + '\n', { mode: 0o600 }); // root only: read before the drop
    await until('servers', () => inNs(['dig', `@${S4}`, '+short', '+time=1', '+tries=1', 'example.org']).trim() === S4
      && sh('sh', ['-c', `ss -ltn | grep -c '${S4}:80\\|${S4}:443'`], { allowFail: true }).trim() === '2', 15_000);

    // two interfaces: the veth and the loopback (which carries only the agent's own HTTPS to the collector)
    agent = spawn(process.execPath, [...RUN, 'agent', '--interface', HOST_IF, '--interface', 'lo', '--collector', collector.url, '--token-file', tokenFile,
      '--ca', tls.cert.certFile, '--spool', join(work, 'spool'), '--observer-id', AGENT, '--observer-name', 'live-test-gw',
      '--stats-interval', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr!.on('data', (d: Buffer) => (agentErr += d.toString()));
    agentExit = new Promise((r) => agent!.on('exit', (code) => r(code)));
    await until('the agent to start', () => /info: started:/.test(agentErr) || agent!.exitCode !== null, 30_000);
    expect(agent.exitCode, agentErr).to.equal(null);
    const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
    agentUid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)![1]);

    const before = ifPackets();
    inNs(['dig', `@${S4}`, '+short', 'chatgpt.com', 'A']);
    inNs(['dig', '+tcp', `@${S4}`, '+short', 'api.openai.com', 'A']);
    inNs(['curl', '-s', '-4', '--http1.1', '-o', '/dev/null', '--max-time', '5', 'http://claude.ai/']);
    inNs(['curl', '-s', '-4', '-k', '-o', '/dev/null', '--max-time', '5', 'https://gemini.google.com/']);
    inNs(['sh', '-c', `echo Q | timeout 5 openssl s_client -connect ${S4}:443 -servername api.anthropic.com -alpn h2 >/dev/null 2>&1`]);
    inNs(['curl', '-s', '-6', '--http2', '-k', '-o', '/dev/null', '--max-time', '5', 'https://api.mistral.ai/']);
    inNs(['curl', '-s', '-4', '-o', join(work, 'bulk.out'), '--max-time', '20', `http://${S4}/bulk.bin`], 30_000);
    ifPacketsDuring = ifPackets() - before;

    const want = (es: UmbraEvent[]): boolean => ['api.mistral.ai', 'api.anthropic.com', 'gemini.google.com', 'claude.ai', 'api.openai.com', 'chatgpt.com']
      .every((d) => es.some((e) => e.destination?.domain === d));
    await until('the events in the store', async () => want(await collector!.store.query({ limit: 1000 })), 20_000).catch(() => {});
    agent.kill('SIGTERM');
    await agentExit;
    stored = await collector.store.query({ limit: 1000 });
    if (process.env.UMBRA_TEST_VERBOSE) console.log(agentErr, `interface packets during the traffic: ${ifPacketsDuring}`);
  });

  after(async () => {
    if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    for (const s of servers) if (s.exitCode === null) s.kill('SIGTERM');
    await collector?.close();
    tls?.remove();
    removeTopology();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const stat = (name: string): number => {
    const m = new RegExp(`stopped \\(signal\\):.* ${name}=(\\d+)`).exec(agentErr);
    if (!m) throw new Error(`no final stats line with ${name} in:\n${agentErr}`);
    return Number(m[1]);
  };
  const has = (action: string, domain: string, service: string, extra: (e: UmbraEvent) => boolean = () => true): void => {
    const hit = stored.find((e) => e.event.action === action && e.destination?.domain === domain && e.umbra?.service?.id === service && extra(e));
    expect(hit, `${action} ${domain} → ${service} among:\n${stored.map((e) => `${e.event.action} ${e.destination?.domain} ${e.umbra?.service?.id}`).join('\n')}\n${agentErr}`).to.not.equal(undefined);
  };

  it('drops root: the effective uid after start-up is nobody, not 0', () => {
    expect(agentUid).to.be.greaterThan(0);
    expect(agentUid).to.equal(Number(sh('id', ['-u', 'nobody']).trim()));
    expect(agentErr).to.match(/started: interfaces umbra-lv0, lo, .*\(dropped\)/);
  });

  it('DNS over UDP and TCP reaches the store (dig)', () => {
    has('dns-query', 'chatgpt.com', 'openai-chatgpt', (e) => e.network.transport === 'udp');
    has('dns-answer', 'chatgpt.com', 'openai-chatgpt');
    has('dns-query', 'api.openai.com', 'openai-api', (e) => e.network.transport === 'tcp');
  });

  it('HTTP Host and TLS SNI over IPv4 and IPv6 reach the store (curl, openssl s_client)', () => {
    has('http-request', 'claude.ai', 'anthropic-claude', (e) => e.source.ip === C4 && e.destination.ip === S4 && e.destination.port === 80);
    has('tls-client-hello', 'gemini.google.com', 'google-gemini', (e) => e.umbra?.match?.via === 'sni');
    has('tls-client-hello', 'api.anthropic.com', 'anthropic-api', (e) => e.umbra?.match?.via === 'sni' && e.tls?.next_protocol === 'h2');
    has('tls-client-hello', 'api.mistral.ai', 'mistral-ai-api', (e) => e.network.type === 'ipv6' && e.source.ip === C6 && e.destination.ip === S6);
  });

  it('every stored event carries the agent id, its name and a spool-sequence id; none is stored twice', () => {
    expect(stored.length).to.be.greaterThan(0);
    for (const e of stored) {
      expect(e.observer).to.deep.equal({ id: AGENT, name: 'live-test-gw' });
      expect(e.event.id).to.match(new RegExp(`^${AGENT}:[0-9a-f]{12}:\\d+$`));
    }
    expect(new Set(stored.map((e) => e.event.id)).size).to.equal(stored.length);
    expect(stored.some((e) => e.destination?.domain === 'example.org')).to.equal(false); // not AI: not shipped without --all
  });

  it('stops gracefully on SIGTERM with everything acknowledged and no kernel drops', async () => {
    expect(await agentExit).to.equal(0);
    expect(stat('kernel_dropped')).to.equal(0);
    expect(stat('if_dropped')).to.equal(0);
    expect(stat('pending')).to.equal(0);
    expect(stat('acked')).to.equal(stat('events'));
    expect(stat('events')).to.equal(stored.length);
  });

  it('the kernel prefilter keeps the bulk download away from the agent', () => {
    const seen = stat('packets');
    expect(ifPacketsDuring).to.be.greaterThan(BULK_BYTES / 1500 * 0.9); // the download happened
    expect(existsSync(join(work, 'bulk.out'))).to.equal(true);
    expect(seen).to.be.lessThan(ifPacketsDuring * 0.1);
  });
});
