// `umbra agent` as a person runs it: --help, one-line errors with exit status 2
// (missing options, config file errors, no such interface, no permission, bad
// filter), and --replay end to end into a real collector (no root needed).
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BPF_FILTER } from '../../../agent/capture/bpf.js';
import type { RunningCollector } from '../../../collector/ingest/server.js';
import { AGENT, type TempDir } from '../../collector/helpers.js';
import { agentCliWorld, type AgentCliWorld } from '../../helpers/agent-cli.js';
import { fixture, ROOT } from '../../helpers/root.js';
import { NOBODY_SKIP_REASON, nobodyCanRead } from '../../helpers/nobody.js';
import { analyzeFiles } from '../../helpers/analyze.js';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const RUN = fromSource ? ['--import', 'tsx', join(here, '..', '..', 'collector', 'run-umbra.ts')] : [join(here, '..', '..', 'collector', 'run-umbra.js')];
const isRoot = process.geteuid?.() === 0;

/** Async: the collector answering the child runs in this process's event loop. */
function umbraAsync(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...RUN, 'agent', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (status) => resolve({ status, stderr }));
  });
}

function umbra(args: string[], opts: { asNobody?: boolean } = {}): { status: number | null; stdout: string; stderr: string } {
  const cmd = opts.asNobody ? 'setpriv' : process.execPath;
  const pre = opts.asNobody ? ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', process.execPath] : [];
  const r = spawnSync(cmd, [...pre, ...RUN, 'agent', ...args], { encoding: 'utf8', timeout: 60_000, cwd: ROOT });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('umbra agent (command line)', function () {
  this.timeout(90_000);
  let dir = '';
  let tokenFile = '';
  let tls: TempDir;
  let collector: RunningCollector;
  const common = (): string[] => ['--collector', collector.url, '--token-file', tokenFile, '--ca', tls.cert.certFile, '--spool', join(dir, 'spool'), '--observer-id', AGENT, '--stats-interval', '0'];

  let world: AgentCliWorld | undefined;
  before(async () => {
    world = await agentCliWorld('umbra-cli-agent-');
    ({ dir, tokenFile, tls, collector } = world);
  });
  after(async () => {
    await world?.remove();
  });

  it('--help answers with every option', () => {
    const r = umbra(['--help']);
    expect(r.status).to.equal(0);
    for (const o of ['--interface', '--collector', '--token-file', '--ca', '--insecure', '--spool', '--observer-name', '--observer-id', '--filter', '--user', '--allow-root', '--keep-root', '--signatures', '--stats-interval', '--config']) {
      expect(r.stdout).to.include(o);
    }
  });

  it('--print-filter prints the default prefilter', () => {
    const r = umbra(['--print-filter']);
    expect(r.status).to.equal(0);
    expect(r.stdout.trim()).to.equal(DEFAULT_BPF_FILTER);
  });

  it('usage errors are one line with exit status 2', () => {
    const cases: [string[], RegExp][] = [
      [[], /missing --interface, --collector, --token-file, --spool, --observer-id/],
      [['--interface', 'lo', ...common().slice(0, -4)], /missing --observer-id/],
      [['--interface', 'lo', ...common(), '--insecure'], /give --ca or --insecure, not both/],
      [['--interface', 'lo', '--collector', 'http://127.0.0.1:1', '--token-file', tokenFile, '--insecure', '--spool', dir, '--observer-id', 'x'], /--collector must be an https:\/\/ URL/],
      [['--interface', 'lo', ...common(), '--observer-id', 'bad id!'], /--observer-id must be/],
      [['--interface', 'lo', ...common(), '--keep-root'], /--keep-root needs --allow-root/],
      [['--interface', 'lo', ...common(), '--token-file', join(dir, 'nope')], /--token-file .*nope: cannot read: ENOENT/],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = umbra(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, args.join(' ')).to.match(re);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    }
  });

  it('the agent: section of a config file is read strictly, and the command line wins', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'agent:\n  interfaces: [lo]\n  spool_dri: /tmp/x\n');
    let r = umbra(['--config', bad]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/bad\.yaml: \/agent\/spool_dri: unknown key/);
    const none = join(dir, 'none.yaml');
    writeFileSync(none, 'collector: {}\n');
    r = umbra(['--config', none]);
    expect(r.stderr).to.match(/none\.yaml: \/agent: required key missing/);
    const good = join(dir, 'good.yaml');
    writeFileSync(good, `agent:\n  collector_url: ${collector.url}\n  token_file: token\n  ca_file: ${tls.cert.certFile}\n  spool_dir: spool-cfg\n  observer_id: ${AGENT}\n  stats_interval_seconds: 0\n  interfaces: [lo]\n`);
    // the file's interface is replaced by --replay's files? no: they exclude each other, which proves the file was read
    r = umbra(['--config', good, '--replay', fixture('captures', 'clients', 'dig-udp.pcap')]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/--interface and --replay exclude each other/);
  });

  it('no such interface: one line naming it', function () {
    if (!isRoot) this.skip(); // without root, permission is refused first
    const r = umbra(['--interface', 'umbra-nosuch0', ...common()]);
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal('umbra agent: umbra-nosuch0: cannot open capture: no such interface (No such device exists)');
  });

  it('no permission (started as nobody): says to run as root or grant CAP_NET_RAW', function () {
    if (!isRoot) this.skip(); // setpriv to nobody needs root
    if (!nobodyCanRead(RUN[RUN.length - 1]!)) {
      console.log(`    (skipped: ${NOBODY_SKIP_REASON})`);
      this.skip();
    }
    const r = umbra(['--interface', 'lo', ...common()], { asNobody: true });
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/^umbra agent: lo: cannot open capture: permission denied .*run umbra agent as root, or grant node CAP_NET_RAW/);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
  });

  it('a filter libpcap cannot compile: one line naming --filter', function () {
    if (!isRoot) this.skip();
    const r = umbra(['--interface', 'lo', ...common(), '--filter', 'tcp port banana']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/^umbra agent: --filter: libpcap cannot compile the filter on lo: /);
  });

  it('--replay ships a capture file through the real CLI to the collector and exits 0', async () => {
    const f = fixture('captures', 'clients', 'curl-http1-ipv4.pcap');
    const want = (await analyzeFiles([f], { all: false })).events.map((e) => `${e.event.action} ${e.destination?.domain}`).sort();
    const r = await umbraAsync(['--replay', f, ...common(), '--spool', join(dir, 'spool-replay'), '--allow-root']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/stopped \(source-end\):.* pending=0/);
    expect(r.stderr).to.not.include('warning'); // the token file is 0600
    const got = (await collector.store.query({ agentId: AGENT, limit: 1000 })).map((e) => `${e.event.action} ${e.destination?.domain}`).sort();
    expect(got).to.deep.equal(want);
    // The same token in a file every user may read: still used, with a warning.
    const open = join(dir, 'token-0644');
    writeFileSync(open, readFileSync(tokenFile));
    chmodSync(open, 0o644);
    const w = await umbraAsync(['--replay', f, ...common(), '--token-file', open, '--spool', join(dir, 'spool-replay-0644'), '--allow-root']);
    expect(w.status, w.stderr).to.equal(0);
    expect(w.stderr).to.include(`umbra agent: warning: --token-file ${open} is readable by every user (mode 0644); chmod 600 (or 640 with the agent's group)\n`);
  });
});
