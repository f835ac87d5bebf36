// `umbra collector` as a person runs it: a child process, its output, its exit
// code, and a graceful stop on SIGTERM with the data on disk.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { hashToken } from '../../collector/auth/tokens.js';
import { AGENT, AGENT_TOKEN, call, makeEvent, ndjson, tempDirWithCert, type TempDir } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const ARGS = fromSource ? ['--import', 'tsx', join(here, 'run-umbra.ts')] : [join(here, 'run-umbra.js')];
const umbra = (...args: string[]) => spawnSync(process.execPath, [...ARGS, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('umbra collector (command)', function () {
  this.timeout(60_000);
  let t: TempDir;
  before(async () => { t = await tempDirWithCert(); });
  after(() => t.remove());

  it('--help answers and exits 0; the command is listed by umbra --help', () => {
    const r = umbra('collector', '--help');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/usage: umbra collector --config FILE/).and.match(/umbra collector token/);
    expect(umbra('--help').stdout).to.match(/collector +run the collector/);
  });

  it('token prints a token and its SHA-256 in a config line', () => {
    const r = umbra('collector', 'token', '--agent', 'gw-9');
    expect(r.status).to.equal(0);
    const token = /^token: +(\S+)$/m.exec(r.stdout)![1]!;
    const sha = /^sha256: +([0-9a-f]{64})$/m.exec(r.stdout)![1]!;
    expect(hashToken(token).toString('hex')).to.equal(sha);
    expect(r.stdout).to.include(`  - id: gw-9\n    token_sha256: ${sha}`);
  });

  it('a bad config is one line naming file and key, exit 2; missing --config is a usage error', () => {
    const f = join(t.dir, 'bad.yaml');
    writeFileSync(f, 'collector:\n  tls: {cert_file: a, key_file: b}\n  limits: {max_body_byte: 1}\n');
    const r = umbra('collector', '--config', f);
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal(`umbra collector: ${f}: /collector/limits/max_body_byte: unknown key`);
    const u = umbra('collector');
    expect(u.status).to.equal(2);
    expect(u.stderr).to.match(/--config FILE is required/);
  });

  it('--check validates and exits 0', () => {
    const f = join(t.dir, 'ok.yaml');
    writeFileSync(f, `collector:\n  tls: {cert_file: ${t.cert.certFile}, key_file: ${t.cert.keyFile}}\n  agents: [{id: a1, token_sha256: ${'c'.repeat(64)}}]\n`);
    const r = umbra('collector', '--config', f, '--check');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/ok \(1 agent\(s\), 0 admin token\(s\), store sqlite\)/);
    expect(r.stderr).to.equal('');
    // A token file every user may read: still valid, with a warning naming the key and the file.
    const tokenFile = join(t.dir, 'a2.token');
    writeFileSync(tokenFile, 'a-token-for-a2\n');
    chmodSync(tokenFile, 0o644);
    const g = join(t.dir, 'warn.yaml');
    writeFileSync(g, `collector:\n  tls: {cert_file: ${t.cert.certFile}, key_file: ${t.cert.keyFile}}\n  agents: [{id: a2, token_file: ${tokenFile}}]\n`);
    const w = umbra('collector', '--config', g, '--check');
    expect(w.status, w.stderr).to.equal(0);
    expect(w.stderr).to.equal(`umbra collector: warning: ${g}: /collector/agents/0/token_file: ${tokenFile} is readable by every user (mode 0644); chmod 600 (or 640 with the service's group)\n`);
  });

  it('runs, takes a batch, and on SIGTERM stops cleanly with the batch on disk', async () => {
    const f = join(t.dir, 'run.yaml');
    writeFileSync(f, [
      `data_dir: ${join(t.dir, 'run-data')}`,
      'collector:',
      '  listen: {host: 127.0.0.1, port: 0}',
      `  tls: {cert_file: ${t.cert.certFile}, key_file: ${t.cert.keyFile}}`,
      `  agents: [{id: ${AGENT}, token_env: RUN_TOKEN}]`,
      '',
    ].join('\n'));
    const child = spawn(process.execPath, [...ARGS, 'collector', '--config', f], { env: { ...process.env, RUN_TOKEN: AGENT_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (let i = 0; i < 300 && !/listening on (https:\S+)/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    const url = /listening on (https:\S+)/.exec(stderr)?.[1];
    expect(url, stderr).to.be.a('string');
    const r = await call(url!, '/api/v1/events', ndjson([makeEvent(1), makeEvent(2), makeEvent(3)]), { ca: t.cert.certPem });
    expect(r.json).to.deep.equal({ accepted: 3, duplicates: 0, dead_lettered: 0 });
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(stderr).to.match(/SIGTERM, finishing in-flight batches/).and.match(/stopped \(1 batches, 3 events stored/);
    const s = SqliteStore.open(join(t.dir, 'run-data', 'umbra.sqlite'));
    expect(await s.count()).to.equal(3);
    await s.close();
  });

  it('a SIGTERM during start-up stops it cleanly once it is up (exit 0), not by the signal', async () => {
    const f = join(t.dir, 'early.yaml');
    writeFileSync(f, [
      `data_dir: ${join(t.dir, 'early-data')}`,
      'collector:',
      '  listen: {host: 127.0.0.1, port: 0}',
      `  tls: {cert_file: ${t.cert.certFile}, key_file: ${t.cert.keyFile}}`,
      '  agents: []', // its warning is printed just before the collector thread starts: the signal goes then
      '',
    ].join('\n'));
    const child = spawn(process.execPath, [...ARGS, 'collector', '--config', f], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<[number | null, string | null]>((r) => child.on('exit', (code, sig) => r([code, sig])));
    await new Promise<void>((resolve) => child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (/no agent can send events/.test(stderr)) resolve();
    }));
    child.kill('SIGTERM');
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    expect(await exited, stderr).to.deep.equal([0, null]);
    expect(stderr).to.match(/SIGTERM, finishing in-flight batches/).and.match(/stopped \(0 batches/);
  });
});
