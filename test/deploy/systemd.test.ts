// deploy/systemd: the unit files are read as systemd reads them (a small INI
// parser), and held to what the code does: ExecStart uses only options that
// `umbra <command> --help` lists, TimeoutStopSec outlasts the graceful stops,
// the paths match deploy/umbra.example.yaml, the users exist once sysusers ran,
// `systemd-analyze verify` accepts them, and MemoryDenyWriteExecute (which node
// cannot run under) is not set.
//
// As root, the privilege sets are exercised for real: the collector runs as
// `nobody` with an empty capability bounding set and no_new_privs, the agent as
// root under exactly the unit's CapabilityBoundingSet, capturing a veth whose
// other end is in a network namespace; a DNS query from the namespace must
// reach the collector's store, the agent must end with uid nobody and no
// capability, and removing any one capability from the set must make it fail.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../helpers/root.js';
import { NOBODY_SKIP_REASON, nobodyCanRead } from '../helpers/nobody.js';
import { SHUTDOWN_FLUSH_MS, SHUTDOWN_GRACE_MS } from '../../collector/ingest/server.js';
import { DEFAULT_STOP_TIMEOUT_MS } from '../../agent/ship/shipper.js';
import { hashToken } from '../../collector/auth/tokens.js';
import { ADMIN_TOKEN, AGENT, AGENT_TOKEN, call, tempDirWithCert, type TempDir } from '../collector/helpers.js';
import type { UmbraEvent } from '../../agent/event.js';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const RUN = fromSource ? ['--import', 'tsx', join(here, '..', 'collector', 'run-umbra.ts')] : [join(here, '..', 'collector', 'run-umbra.js')];
const SYSTEMD_DIR = join(ROOT, 'deploy', 'systemd');
const UMBRA_BIN = '/usr/local/bin/umbra';

// ---------------------------------------------------------------------------
// A unit file as systemd reads it: [Section], Key=Value, comments (# ;) on their
// own lines, a trailing backslash continues a line, a repeated key adds a value.

type Unit = Map<string, Map<string, string[]>>;

export function parseUnit(text: string, name = 'unit'): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i]!.trim();
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      section = unit.get(sec[1]!) ?? new Map();
      unit.set(sec[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 1) throw new Error(`${name}:${i + 1}: not a section header or Key=Value: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    section.set(key, [...(section.get(key) ?? []), value]);
  }
  return unit;
}

const values = (u: Unit, section: string, key: string): string[] => u.get(section)?.get(key) ?? [];
function one(u: Unit, section: string, key: string): string {
  const v = values(u, section, key);
  if (v.length !== 1) throw new Error(`[${section}] ${key}: expected one value, found ${v.length}`);
  return v[0]!;
}

/** systemd time span (`45s`, `1min 30s`, `500ms`, a bare number = seconds) in milliseconds. */
export function timeSpanMs(s: string): number {
  const unitMs: Record<string, number> = { ms: 1, msec: 1, s: 1000, sec: 1000, second: 1000, seconds: 1000, m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000, h: 3_600_000, hr: 3_600_000, hour: 3_600_000, hours: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)\s*([a-z]*)/g;
  let m: RegExpExecArray | null;
  let seen = '';
  while ((m = re.exec(s))) {
    const mult = m[2] === '' ? 1000 : unitMs[m[2]!];
    if (mult === undefined) throw new Error(`time span '${s}': unknown unit '${m[2]}'`);
    total += Number(m[1]) * mult;
    seen += m[0];
  }
  if (seen.replace(/\s/g, '') !== s.replace(/\s/g, '')) throw new Error(`time span '${s}': not understood`);
  return total;
}

/** Splits a command line as systemd does for our simple lines (double quotes, no escapes). */
function words(cmd: string): string[] {
  return [...cmd.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function loadUnit(file: string): Unit {
  return parseUnit(readFileSync(join(SYSTEMD_DIR, file), 'utf8'), file);
}

function help(sub: string): string {
  const r = spawnSync(process.execPath, [...RUN, sub, '--help'], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`umbra ${sub} --help: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Options `--help` lists, with whether each takes a value (`--config FILE`). */
function helpOptions(text: string): Map<string, boolean> {
  const opts = new Map<string, boolean>();
  for (const m of text.matchAll(/(?:^|[\s,\[])(--[a-z][a-z0-9-]*)( [A-Z][A-Z_]*)?/gm)) opts.set(m[1]!, opts.get(m[1]!) || m[2] !== undefined);
  return opts;
}

/** Checks a command line `umbra <sub> ...` against `umbra <sub> --help`; returns its options. */
function checkCommand(cmd: string, helps: Map<string, Map<string, boolean>>): Map<string, string | true> {
  const w = words(cmd);
  expect(w[0], cmd).to.equal(UMBRA_BIN);
  const sub = w[1]!;
  const known = helps.get(sub);
  expect(known, `umbra ${sub}: not a subcommand whose help was read`).to.not.equal(undefined);
  const out = new Map<string, string | true>();
  for (let i = 2; i < w.length; i++) {
    const opt = w[i]!;
    expect(opt, `${cmd}: '${opt}' is not an option`).to.match(/^--[a-z]/);
    expect(known!.has(opt), `${cmd}: umbra ${sub} --help does not list ${opt}`).to.equal(true);
    if (known!.get(opt)) {
      const v = w[++i];
      expect(v !== undefined && !v.startsWith('--'), `${cmd}: ${opt} needs a value`).to.equal(true);
      out.set(opt, v!);
    } else out.set(opt, true);
  }
  return out;
}

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith('/') ? dir : dir + '/');
const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** The agent unit's bounding set, as setpriv's --bounding-set list (`+net_raw,...`). */
function boundingForSetpriv(caps: string[]): string {
  return ['-all', ...caps.map((c) => '+' + c.replace(/^CAP_/, '').toLowerCase())].join(',');
}

/** Capability numbers (linux/capability.h): for reading CapBnd in /proc/PID/status. */
const CAP_NUMBERS: Record<string, number> = { CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_SETGID: 6, CAP_SETUID: 7, CAP_NET_BIND_SERVICE: 10, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_SYS_ADMIN: 21 };

describe('deploy/systemd unit files', function () {
  this.timeout(120_000);
  const collector = loadUnit('umbra-collector.service');
  const agent = loadUnit('umbra-agent.service');
  const helps = new Map<string, Map<string, boolean>>();
  const example = parseYaml(readFileSync(join(ROOT, 'deploy', 'umbra.example.yaml'), 'utf8')) as Record<string, any>;

  before(() => {
    for (const sub of ['collector', 'agent']) helps.set(sub, helpOptions(help(sub)));
    expect(helps.get('agent')!.get('--interface')).to.equal(true); // the help parser itself works
    expect(helps.get('collector')!.get('--check')).to.equal(false);
  });

  it('parses as systemd reads them, with the sections and the install target', () => {
    for (const u of [collector, agent]) {
      expect([...u.keys()]).to.deep.equal(['Unit', 'Service', 'Install']);
      expect(one(u, 'Install', 'WantedBy')).to.equal('multi-user.target');
      expect(one(u, 'Service', 'Type')).to.equal('simple');
      expect(one(u, 'Unit', 'After')).to.contain('network-online.target');
    }
    const p = parseUnit('[A]\n# c\nK=1 \\\n  2\nK=3\n');
    expect(p.get('A')!.get('K')).to.deep.equal(['1  2', '3']);
  });

  it('ExecStart/ExecStartPre use only options that umbra <command> --help lists', () => {
    const c = checkCommand(one(collector, 'Service', 'ExecStart'), helps);
    expect(c.get('--config')).to.equal('/etc/umbra/umbra.yaml');
    const pre = checkCommand(one(collector, 'Service', 'ExecStartPre'), helps);
    expect(pre.get('--check')).to.equal(true);
    expect(pre.get('--config')).to.equal(c.get('--config'));
    const a = checkCommand(one(agent, 'Service', 'ExecStart'), helps);
    expect(a.get('--config')).to.equal('/etc/umbra/umbra.yaml');
    expect(a.get('--user')).to.equal('umbra-agent');
    expect(a.get('--spool')).to.be.a('string');
    // the checker refuses what help does not list
    expect(() => checkCommand(`${UMBRA_BIN} agent --interfaces eth0`, helps)).to.throw(/does not list --interfaces/);
  });

  it('TimeoutStopSec outlasts the graceful stops (collector: SHUTDOWN_GRACE_MS + SHUTDOWN_FLUSH_MS; agent: the final flush)', () => {
    expect(one(collector, 'Service', 'KillSignal')).to.equal('SIGTERM');
    expect(one(agent, 'Service', 'KillSignal')).to.equal('SIGTERM');
    const c = timeSpanMs(one(collector, 'Service', 'TimeoutStopSec'));
    expect(c).to.be.greaterThan(SHUTDOWN_GRACE_MS + SHUTDOWN_FLUSH_MS);
    const a = timeSpanMs(one(agent, 'Service', 'TimeoutStopSec'));
    expect(a).to.be.greaterThan(DEFAULT_STOP_TIMEOUT_MS);
    expect(timeSpanMs('1min 30s')).to.equal(90_000);
  });

  it('both are sandboxed, restart on failure, and leave MemoryDenyWriteExecute unset (node needs W+X for its JIT)', () => {
    for (const u of [collector, agent]) {
      const s = (k: string): string => one(u, 'Service', k);
      expect(s('NoNewPrivileges')).to.equal('yes');
      expect(s('ProtectSystem')).to.equal('strict');
      expect(s('ProtectHome')).to.equal('yes');
      expect(s('PrivateTmp')).to.equal('yes');
      expect(s('PrivateDevices')).to.equal('yes');
      expect(s('ProtectKernelTunables')).to.equal('yes');
      expect(s('ProtectKernelModules')).to.equal('yes');
      expect(s('ProtectControlGroups')).to.equal('yes');
      expect(s('RestrictNamespaces')).to.equal('yes');
      expect(s('RestrictSUIDSGID')).to.equal('yes');
      expect(s('SystemCallArchitectures')).to.equal('native');
      expect(values(u, 'Service', 'SystemCallFilter')).to.include('@system-service');
      expect(s('Restart')).to.equal('on-failure');
      expect(Number(s('LimitNOFILE'))).to.be.greaterThanOrEqual(4096);
      expect(values(u, 'Service', 'MemoryDenyWriteExecute')).to.deep.equal([]);
      expect(values(u, 'Service', 'AmbientCapabilities')).to.deep.equal(['']);
    }
    expect(one(collector, 'Service', 'User')).to.equal('umbra');
    expect(one(collector, 'Service', 'CapabilityBoundingSet')).to.equal('');
    expect(one(collector, 'Service', 'RestrictAddressFamilies').split(/\s+/).sort()).to.deep.equal(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    expect(values(agent, 'Service', 'User')).to.deep.equal([]); // root until the agent's own drop
    expect(one(agent, 'Service', 'CapabilityBoundingSet').split(/\s+/).sort()).to.deep.equal(['CAP_CHOWN', 'CAP_DAC_READ_SEARCH', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID']);
    expect(one(agent, 'Service', 'RestrictAddressFamilies').split(/\s+/).sort()).to.deep.equal(['AF_INET', 'AF_INET6', 'AF_PACKET', 'AF_UNIX']);
  });

  it('the paths match deploy/umbra.example.yaml: data_dir is the collector StateDirectory, every file it reads is under /etc/umbra', () => {
    const confDir = '/etc/' + one(collector, 'Service', 'ConfigurationDirectory');
    expect(confDir).to.equal('/etc/umbra');
    expect(one(agent, 'Service', 'ConfigurationDirectory')).to.equal('umbra');
    const stateDir = '/var/lib/' + one(collector, 'Service', 'StateDirectory');
    expect(example.data_dir).to.equal(stateDir);
    expect(under(example.store.sqlite.path, stateDir), 'store.sqlite.path under data_dir').to.equal(true);
    expect(under(checkCommand(one(collector, 'Service', 'ExecStart'), helps).get('--config') as string, confDir)).to.equal(true);
    const read = [example.collector.tls.cert_file, example.collector.tls.key_file, ...example.signatures.extra_dirs,
      ...[...example.collector.agents, ...example.collector.admin_tokens, ...(example.collector.metrics?.tokens ?? [])].flatMap((t: Record<string, string>) => (t.token_file ? [t.token_file] : []))];
    expect(read.length).to.be.greaterThanOrEqual(3);
    for (const p of read) expect(under(p, confDir), `${p} under ${confDir} (readable in the sandbox)`).to.equal(true);
    // EnvironmentFile holds token_env secrets (UMBRA_ADMIN_TOKEN in the example)
    expect(one(collector, 'Service', 'EnvironmentFile')).to.equal(`-${confDir}/collector.env`);
    expect(example.collector.admin_tokens.some((t: Record<string, string>) => t.token_env)).to.equal(true);

    // the agent: its spool is inside its own StateDirectory, its config is the same file,
    // and the files the example's (commented) agent: section names are under /etc/umbra
    const a = checkCommand(one(agent, 'Service', 'ExecStart'), helps);
    const agentState = '/var/lib/' + one(agent, 'Service', 'StateDirectory');
    expect(under(a.get('--spool') as string, agentState)).to.equal(true);
    expect(a.get('--spool')).to.not.equal(agentState); // a subdirectory: systemd keeps the StateDirectory root's, the agent gives spool/ to its user
    expect(under(agentState, stateDir), 'the agent spool is not inside the collector data_dir').to.equal(false);
    expect(a.get('--config')).to.equal(c('--config'));
    const text = readFileSync(join(ROOT, 'deploy', 'umbra.example.yaml'), 'utf8');
    const block = text.slice(text.indexOf('\n# agent:') + 1).split('\n').filter((l) => l.startsWith('#')).map((l) => l.slice(2)).join('\n');
    const agentSection = (parseYaml(block) as { agent: Record<string, string> }).agent;
    for (const k of ['token_file', 'ca_file']) expect(under(agentSection[k]!, confDir), `agent.${k}`).to.equal(true);

    function c(opt: string): string | true | undefined {
      return checkCommand(one(collector, 'Service', 'ExecStart'), helps).get(opt);
    }
  });

  it('the users the units run as are created by umbra.sysusers.conf (systemd-sysusers --root)', function () {
    const text = readFileSync(join(SYSTEMD_DIR, 'umbra.sysusers.conf'), 'utf8');
    const declared = text.split('\n').filter((l) => /^u\s/.test(l)).map((l) => l.split(/\s+/)[1]);
    const needed = [one(collector, 'Service', 'User'), checkCommand(one(agent, 'Service', 'ExecStart'), helps).get('--user') as string];
    expect(declared).to.have.members(needed);
    if (!have('systemd-sysusers')) {
      console.log('    (systemd-sysusers missing: only the file was read)');
      return;
    }
    const root = mkdtempSync(join(tmpdir(), 'umbra-sysusers-'));
    try {
      mkdirSync(join(root, 'usr/lib/sysusers.d'), { recursive: true });
      mkdirSync(join(root, 'etc'));
      writeFileSync(join(root, 'usr/lib/sysusers.d/umbra.conf'), text);
      const r = spawnSync('systemd-sysusers', [`--root=${root}`], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
      for (const u of needed) expect(passwd, u).to.match(new RegExp(`^${u}:x:\\d+:\\d+:.*:/usr/sbin/nologin$`, 'm'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('systemd-analyze verify accepts both units, without a warning', function () {
    if (!have('systemd-analyze')) {
      console.log('    (skipped: systemd-analyze missing; apt-get install systemd)');
      this.skip();
    }
    // verify checks that ExecStart's program exists: point it at a stand-in
    const dir = mkdtempSync(join(tmpdir(), 'umbra-verify-'));
    try {
      writeFileSync(join(dir, 'umbra'), '#!/bin/sh\n', { mode: 0o755 });
      for (const f of ['umbra-collector.service', 'umbra-agent.service']) {
        writeFileSync(join(dir, f), readFileSync(join(SYSTEMD_DIR, f), 'utf8').replaceAll(UMBRA_BIN, join(dir, 'umbra')));
      }
      const verify = (files: string[]): { status: number | null; out: string } => {
        const r = spawnSync('systemd-analyze', ['verify', '--man=no', '--generators=no', ...files], { encoding: 'utf8' });
        return { status: r.status, out: (r.stdout + r.stderr).trim() };
      };
      const r = verify([join(dir, 'umbra-collector.service'), join(dir, 'umbra-agent.service')]);
      expect(r.out).to.equal('');
      expect(r.status).to.equal(0);
      // and it does complain about a misspelt key (the check can fail)
      writeFileSync(join(dir, 'bad.service'), readFileSync(join(dir, 'umbra-agent.service'), 'utf8').replace('ProtectSystem=', 'ProtectSystm='));
      expect(verify([join(dir, 'bad.service')]).out).to.match(/Unknown key.*ProtectSystm/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every capability named exists (capsh --supports)', function () {
    if (!have('capsh')) {
      console.log('    (skipped: capsh missing; apt-get install libcap2-bin)');
      this.skip();
    }
    for (const cap of one(agent, 'Service', 'CapabilityBoundingSet').split(/\s+/)) {
      expect(spawnSync('capsh', [`--supports=${cap.toLowerCase()}`]).status, cap).to.equal(0);
    }
    expect(spawnSync('capsh', ['--supports=cap_net_raww']).status).to.not.equal(0);
  });

  it('node cannot run under W^X (why MemoryDenyWriteExecute is not set): it aborts in its first JIT compilation', function () {
    if (!have('python3')) this.skip();
    // PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1): what systemd >= 255 sets for MemoryDenyWriteExecute=yes
    const py = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)
os.execv(sys.argv[1], [sys.argv[1], "-e", "let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log('ran', s)"])`;
    const r = spawnSync('python3', ['-c', py, process.execPath], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 77) {
      console.log('    (skipped: this kernel has no PR_SET_MDWE, Linux < 6.3)');
      this.skip();
    }
    expect(r.stdout).to.not.contain('ran');
    expect(r.signal ?? r.status).to.not.equal(0);
    expect(r.stderr).to.match(/Fatal|Check failed|SetPermissions/);
    // and the same program runs without it
    const ok = spawnSync(process.execPath, ['-e', "let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log('ran', s)"], { encoding: 'utf8' });
    expect(ok.stdout).to.contain('ran');
  });
});

// ---------------------------------------------------------------------------

const NS = 'umbra-dp-ns';
const HOST_IF = 'umbra-dp0';
const NS_IF = 'umbra-dp1';
const S4 = '10.79.0.1';
const C4 = '10.79.0.2';

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function removeTopology(): void {
  sh('ip', ['netns', 'del', NS], true);
  sh('ip', ['link', 'del', HOST_IF], true);
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Child {
  proc: ChildProcess;
  err: () => string;
  exit: Promise<number | null>;
}

function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, err: () => err, exit };
}

function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** The pid of a process's (first) child: the traced program under strace. */
function childPid(pid: number): number {
  const c = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
  if (!c) throw new Error(`process ${pid} has no child`);
  return Number(c);
}

/** systemd's system call groups (`systemd-analyze syscall-filter`), expanded: group → system calls. */
function syscallGroups(): (group: string) => Set<string> {
  const out = sh('systemd-analyze', ['syscall-filter']);
  const groups = new Map<string, string[]>();
  let cur: string[] | null = null;
  for (const line of out.split('\n')) {
    if (/^@[a-z-]+$/.test(line)) groups.set(line, (cur = []));
    else if (cur && /^\s+[@a-z_0-9-]+$/.test(line)) cur.push(line.trim());
  }
  const expand = (g: string): Set<string> => {
    const members = groups.get(g);
    if (!members) throw new Error(`systemd-analyze syscall-filter: no group ${g}`);
    return new Set(members.flatMap((m) => (m.startsWith('@') ? [...expand(m)] : [m])));
  };
  return expand;
}

/** System calls in an strace -f log from the exec of node on (the program and the children it starts). */
function tracedSyscalls(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const from = text.indexOf(`execve("${process.execPath}"`);
  if (from < 0) throw new Error(`${file}: no execve of ${process.execPath}`);
  return new Set([...text.slice(from).matchAll(/^\d+ +([a-z_0-9]+)\(/gm)].map((m) => m[1]!));
}

/** Refused by @system-service in some systemd versions, and harmless refused: V8 probes memory protection keys and carries on without. */
const TOLERATED_REFUSALS = new Set(['pkey_alloc', 'pkey_free', 'pkey_mprotect']);

describe('deploy/systemd privilege sets, live (root only)', function () {
  this.timeout(180_000);
  const agentUnit = loadUnit('umbra-agent.service');
  const AGENT_CAPS = one(agentUnit, 'Service', 'CapabilityBoundingSet').split(/\s+/);
  let work = '';
  let tls: TempDir | undefined;
  let collector: Child | undefined;
  let agent: Child | undefined;
  let url = '';
  let nobody = { uid: -1, gid: -1 };
  let agentStatus: Record<string, string> = {};
  let stored: UmbraEvent[] = [];
  let agentCode: number | null = null;
  let collectorStopMs = -1;
  let collectorCode: number | null = null;
  const traced = have('strace') && have('systemd-analyze');
  const traceFile = (name: string): string => join(work, `${name}.strace`);
  /** Under strace when there is one (to read the system calls made), else directly. */
  const startTraced = (name: string, args: string[]): Child => (traced ? start('strace', ['-f', '-qq', '-o', traceFile(name), 'setpriv', ...args]) : start('setpriv', args));
  const pidOf = (c: Child): number => (traced ? childPid(c.proc.pid!) : c.proc.pid!);
  const tokenFile = (): string => join(work, 'agent.token');
  const spoolIn = (d: string): string => join(work, d, 'spool');

  const agentArgs = (caps: string[], spool: string): string[] => [
    `--bounding-set=${boundingForSetpriv(caps)}`, '--inh-caps=-all', '--no-new-privs', process.execPath, ...RUN, 'agent',
    '--interface', HOST_IF, '--collector', url, '--ca', tls!.cert.certFile, '--token-file', tokenFile(), '--spool', spool,
    '--observer-id', AGENT, '--user', 'nobody', '--stats-interval', '0'];

  before(async function () {
    if (process.geteuid?.() !== 0) {
      console.log('    (skipped: needs root for a network namespace, live capture and setpriv; run the tests as root)');
      this.skip();
    }
    const missing = ['ip', 'setpriv', 'dig'].filter((t) => !have(t));
    if (missing.length) {
      console.log(`    (skipped: missing ${missing.join(', ')}; see scripts/setup.sh)`);
      this.skip();
    }
    if (!nobodyCanRead(RUN[RUN.length - 1]!)) {
      console.log(`    (skipped: ${NOBODY_SKIP_REASON})`);
      this.skip();
    }
    nobody = { uid: Number(sh('id', ['-u', 'nobody']).trim()), gid: Number(sh('id', ['-g', 'nobody']).trim()) };
    removeTopology();
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
    sh('ip', ['link', 'set', NS_IF, 'netns', NS]);
    sh('ip', ['link', 'set', HOST_IF, 'up']);
    sh('ip', ['addr', 'add', `${S4}/24`, 'dev', HOST_IF]);
    sh('ip', ['-n', NS, 'link', 'set', NS_IF, 'up']);
    sh('ip', ['-n', NS, 'addr', 'add', `${C4}/24`, 'dev', NS_IF]);

    work = mkdtempSync(join(tmpdir(), 'umbra-deploy-'));
    chmodSync(work, 0o755);
    // the collector's files as the unit's layout has them: readable by its user, data dir owned by it
    tls = await tempDirWithCert();
    chmodSync(tls.dir, 0o755);
    chmodSync(dirname(tls.cert.certFile), 0o755);
    chownSync(tls.cert.keyFile, 0, nobody.gid);
    chmodSync(tls.cert.keyFile, 0o640);
    const data = join(work, 'data');
    mkdirSync(data, { mode: 0o750 });
    chownSync(data, nobody.uid, nobody.gid);
    const config = join(work, 'umbra.yaml');
    writeFileSync(config, [
      `data_dir: ${data}`,
      'collector:',
      '  listen: { host: 127.0.0.1, port: 0 }',
      `  tls: { cert_file: ${tls.cert.certFile}, key_file: ${tls.cert.keyFile} }`,
      `  agents: [{ id: ${AGENT}, token_sha256: ${hashToken(AGENT_TOKEN).toString('hex')} }]`,
      `  admin_tokens: [{ name: test, token_sha256: ${hashToken(ADMIN_TOKEN).toString('hex')} }]`,
      '',
    ].join('\n'), { mode: 0o644 });
    writeFileSync(tokenFile(), AGENT_TOKEN + '\n', { mode: 0o600 }); // root's only: read before the drop

    // collector as its unit runs it: an unprivileged user, no capability at all, no_new_privs
    collector = startTraced('collector', [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', '--bounding-set=-all', '--inh-caps=-all', '--no-new-privs',
      process.execPath, ...RUN, 'collector', '--config', config]);
    await until('the collector to listen', () => /listening on https:\/\//.test(collector!.err()) || collector!.proc.exitCode !== null, 30_000);
    expect(collector.proc.exitCode, collector.err()).to.equal(null);
    url = /listening on (https:\/\/\S+)/.exec(collector.err())![1]!;

    // agent as its unit runs it: root, but only the unit's bounding set, no_new_privs
    mkdirSync(join(work, 'state'), { mode: 0o755 }); // root's, like the StateDirectory
    agent = startTraced('agent', agentArgs(AGENT_CAPS, spoolIn('state')));
    await until('the agent to start', () => /info: started:/.test(agent!.err()) || agent!.proc.exitCode !== null, 30_000);
    expect(agent.proc.exitCode, agent.err()).to.equal(null);
    agentStatus = procStatus(pidOf(agent));

    sh('ip', ['netns', 'exec', NS, 'dig', `@${S4}`, '+tries=1', '+time=1', 'chatgpt.com', 'A'], true);
    const query = async (): Promise<UmbraEvent[]> => {
      const r = await call(url, '/api/v1/events?limit=1000', null, { token: ADMIN_TOKEN, ca: tls!.cert.certPem });
      return r.status === 200 ? (r.json.events as UmbraEvent[]) : [];
    };
    await until('the DNS query in the store', async () => (stored = await query()).some((e) => e.destination?.domain === 'chatgpt.com'), 30_000).catch(() => {});
    process.kill(pidOf(agent), 'SIGTERM');
    agentCode = await agent.exit;
    const t0 = Date.now();
    process.kill(pidOf(collector), 'SIGTERM');
    collectorCode = await collector.exit;
    collectorStopMs = Date.now() - t0;
  });

  after(async () => {
    for (const c of [agent, collector]) {
      if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
      try {
        process.kill(pidOf(c), 'SIGKILL');
      } catch {
        /* gone already */
      }
      c.proc.kill('SIGKILL');
    }
    tls?.remove();
    if (process.geteuid?.() === 0) removeTopology();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the collector runs as an unprivileged user with no capability, and stops on SIGTERM well within TimeoutStopSec', () => {
    expect(collectorCode, collector!.err()).to.equal(0);
    expect(collector!.err()).to.match(/collector: SIGTERM, finishing in-flight batches/);
    const timeout = timeSpanMs(one(loadUnit('umbra-collector.service'), 'Service', 'TimeoutStopSec'));
    expect(collectorStopMs).to.be.lessThan(timeout);
  });

  it('the agent opens the capture under exactly the unit\'s bounding set and then holds no capability, as nobody', () => {
    expect(agent!.err()).to.match(/started: interfaces umbra-dp0, .*uid \d+ \(dropped\)/);
    expect(agentStatus.Uid!.split(/\s+/).map(Number)).to.deep.equal([nobody.uid, nobody.uid, nobody.uid, nobody.uid]);
    expect(agentStatus.Gid!.split(/\s+/).map(Number)).to.deep.equal([nobody.gid, nobody.gid, nobody.gid, nobody.gid]);
    expect(agentStatus.Groups).to.equal('');
    expect(BigInt('0x' + agentStatus.CapEff)).to.equal(0n);
    expect(BigInt('0x' + agentStatus.CapPrm)).to.equal(0n);
    expect(BigInt('0x' + agentStatus.CapAmb)).to.equal(0n);
    const bnd = AGENT_CAPS.reduce((m, c) => m | (1n << BigInt(CAP_NUMBERS[c]!)), 0n);
    expect(BigInt('0x' + agentStatus.CapBnd)).to.equal(bnd);
    expect(agentStatus.NoNewPrivs).to.equal('1');
  });

  it('a DNS query from the namespace reaches the store through the sandboxed agent and collector', () => {
    const hit = stored.find((e) => e.event.action === 'dns-query' && e.destination?.domain === 'chatgpt.com');
    expect(hit, `events: ${JSON.stringify(stored.map((e) => [e.event.action, e.destination?.domain]))}\n${agent!.err()}\n${collector!.err()}`).to.not.equal(undefined);
    expect(hit!.source.ip).to.equal(C4);
    expect(hit!.observer?.id).to.equal(AGENT);
    expect(hit!.umbra?.service?.id).to.equal('openai-chatgpt');
    expect(agentCode, agent!.err()).to.equal(0);
  });

  it('every system call the collector and the agent made is allowed by their units\' SystemCallFilter (strace)', function () {
    if (!traced) {
      console.log('    (skipped: needs strace and systemd-analyze)');
      this.skip();
    }
    const group = syscallGroups();
    const service = group('@system-service');
    const privileged = group('@privileged');
    expect(service.has('openat') && service.has('setuid') && service.has('chown') && privileged.has('setuid') && !privileged.has('openat')).to.equal(true); // the expansion works
    const c = tracedSyscalls(traceFile('collector'));
    const a = tracedSyscalls(traceFile('agent'));
    expect(c.has('accept4') || c.has('accept')).to.equal(true); // it served the agent
    expect(a.has('setuid') || a.has('setresuid')).to.equal(true); // the drop happened under the trace
    const collectorOutside = [...c].filter((x) => !service.has(x) || privileged.has(x));
    const agentOutside = [...a].filter((x) => !service.has(x));
    expect(collectorOutside.filter((x) => !TOLERATED_REFUSALS.has(x)), 'collector: outside @system-service ~@privileged').to.deep.equal([]);
    expect(agentOutside.filter((x) => !TOLERATED_REFUSALS.has(x)), 'agent: outside @system-service').to.deep.equal([]);
    // address families: what each program opened, against RestrictAddressFamilies
    const families = (name: string): string[] => [...new Set([...readFileSync(traceFile(name), 'utf8').matchAll(/socket(?:pair)?\((AF_[A-Z0-9]+)/g)].map((m) => m[1]!))];
    const allowedFamilies = (f: string): string[] => one(loadUnit(f), 'Service', 'RestrictAddressFamilies').split(/\s+/);
    expect(families('collector').filter((x) => !allowedFamilies('umbra-collector.service').includes(x)), 'collector address families').to.deep.equal([]);
    expect(families('agent')).to.include('AF_PACKET');
    // AF_NETLINK: libpcap's wireless probe, refused harmlessly (next test)
    expect(families('agent').filter((x) => !allowedFamilies('umbra-agent.service').includes(x) && x !== 'AF_NETLINK'), 'agent address families').to.deep.equal([]);
    // what is refused must be refused with an error, not SIGSYS: both units set SystemCallErrorNumber=EPERM
    for (const f of ['umbra-collector.service', 'umbra-agent.service']) expect(one(loadUnit(f), 'Service', 'SystemCallErrorNumber'), f).to.equal('EPERM');
  });

  it('node carries on when pkey_alloc is refused with EPERM (strace fault injection), as SystemCallErrorNumber=EPERM makes it', function () {
    if (!have('strace')) this.skip();
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=pkey_alloc', '-e', 'inject=pkey_alloc:error=EPERM', process.execPath, '-e',
      "let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log('ran', s)"], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).to.contain('ran 49999995000000');
    expect(r.status).to.equal(0);
  });

  it('the agent opens its capture when AF_NETLINK is refused, as RestrictAddressFamilies refuses it (strace fault injection)', async function () {
    if (!have('strace')) this.skip();
    // run 1 finds which socket() call of its thread is the netlink one; run 2 refuses exactly that call
    const run = async (name: string, inject: string[]): Promise<{ code: number | null; err: string; trace: string }> => {
      mkdirSync(join(work, name), { recursive: true, mode: 0o755 });
      const c = start('strace', ['-f', '-qq', '-e', 'trace=socket', ...inject, '-o', traceFile(name), 'setpriv', ...agentArgs(AGENT_CAPS, spoolIn(name)).map((a, i, all) => (all[i - 1] === '--collector' ? 'https://127.0.0.1:9' : a))]);
      await until(`${name}: the agent to start`, () => /info: started:/.test(c.err()) || c.proc.exitCode !== null, 30_000).catch(() => {});
      if (c.proc.exitCode === null) process.kill(childPid(c.proc.pid!), 'SIGTERM');
      const code = await c.exit;
      return { code, err: c.err(), trace: readFileSync(traceFile(name), 'utf8') };
    };
    const first = await run('netlink-1', []);
    expect(first.code, first.err).to.equal(0);
    const nl = /^(\d+) socket\(AF_NETLINK/m.exec(first.trace);
    if (!nl) {
      console.log('    (skipped: this libpcap opens no netlink socket)');
      this.skip();
    }
    const nth = [...first.trace.matchAll(new RegExp(`^${nl![1]} socket\\(`, 'gm'))].findIndex((m) => m.index === nl!.index) + 1;
    const second = await run('netlink-2', ['-e', `inject=socket:error=EAFNOSUPPORT:when=${nth}`]);
    expect(second.trace).to.match(/socket\(AF_NETLINK.*EAFNOSUPPORT.*\(INJECTED\)/);
    expect(second.trace).to.match(/socket\(AF_PACKET.* = \d+$/m);
    expect(second.err).to.match(/started: interfaces umbra-dp0, .*\(dropped\)/);
    expect(second.code, second.err).to.equal(0);
  });

  // Each capability, removed, breaks the start at the step that needs it.
  const cases: [string, string, RegExp][] = [
    ['CAP_NET_RAW', 'state', /cannot open capture: permission denied/],
    ['CAP_CHOWN', 'fresh-chown', /spool directory .*: cannot give to user nobody .* \(EPERM\)/],
    ['CAP_DAC_READ_SEARCH', 'state', /spool directory .*: cannot list .* \(EACCES\)/], // the spool from the run above: nobody's, 0750
    ['CAP_SETGID', 'state', /cannot become user nobody/],
    ['CAP_SETUID', 'state', /cannot become user nobody/],
  ];
  for (const [cap, dir, message] of cases) {
    it(`without ${cap} the agent cannot start (${message.source})`, async () => {
      expect(AGENT_CAPS).to.include(cap);
      mkdirSync(join(work, dir), { recursive: true, mode: 0o755 });
      const c = start('setpriv', agentArgs(AGENT_CAPS.filter((x) => x !== cap), spoolIn(dir)));
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), 60_000);
      const code = await c.exit;
      clearTimeout(timer);
      expect(code, c.err()).to.be.oneOf([1, 2]);
      expect(c.err()).to.match(message);
      expect(c.err()).to.not.match(/info: started:/);
    });
  }
});
