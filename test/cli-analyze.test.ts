// `umbra analyze` as people run it: the real command in a child process.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, fixture } from './helpers/root.js';

const UMBRA = join(ROOT, 'bin', 'umbra.js');
const run = (args: string[], input?: Buffer) => spawnSync(process.execPath, [UMBRA, 'analyze', ...args], { encoding: 'utf8', input });
const CURL = fixture('captures', 'clients', 'curl-http1-ipv4.pcap');

describe('umbra analyze (command)', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-cli-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--help answers and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/usage: umbra analyze/).and.match(/--format ndjson\|table/).and.match(/--all/).and.match(/--stats/);
  });

  it('prints NDJSON events when stdout is not a terminal, AI only by default', () => {
    const r = run([CURL]);
    expect(r.status).to.equal(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => `${e.event.action} ${e.destination.domain} ${e.umbra.service.id}`)).to.deep.equal([
      'dns-query api.openai.com openai-api', 'dns-answer api.openai.com openai-api', 'http-request api.openai.com openai-api',
      'dns-query chatgpt.com openai-chatgpt', 'dns-answer chatgpt.com openai-chatgpt', 'tls-client-hello chatgpt.com openai-chatgpt',
    ]);
  });

  it('--all adds observations that match no catalog entry', () => {
    const ai = run([fixture('captures', 'clients', 'dig-udp.pcap')]).stdout.trim().split('\n');
    const all = run(['--all', fixture('captures', 'clients', 'dig-udp.pcap')]).stdout.trim().split('\n');
    expect(all.length).to.equal(ai.length + 2); // example.org query and answer
    expect(all.some((l) => l.includes('"example.org"'))).to.equal(true);
  });

  it("reads standard input with '-'", () => {
    const r = run(['--format', 'ndjson', '-'], readFileSync(CURL));
    expect(r.status).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.have.length(6);
  });

  it('--format table prints a header and one aligned row per event', () => {
    const r = run(['--format', 'table', CURL]);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^TIME\s+SOURCE\s+DESTINATION\s+PROTO\s+ACTION\s+NAME\s+SERVICE\s+VIA$/);
    expect(lines).to.have.length(7);
    expect(lines[6]).to.match(/tls-client-hello\s+chatgpt\.com\s+ChatGPT\s+sni$/);
  });

  it('--stats prints the counters on stderr', () => {
    const r = run(['--stats', CURL]);
    expect(r.stderr).to.match(/packets\s+39\n/).and.match(/events\.matched\s+6\n/).and.match(/peak_rss_mb/);
  });

  it('several files are merged in time order', () => {
    const a = fixture('captures', 'clients', 'python-ssl.pcap');
    const b = fixture('captures', 'clients', 'openssl-tls12.pcap');
    const r = run([a, b]);
    const ts = r.stdout.trim().split('\n').map((l) => JSON.parse(l)['@timestamp']);
    expect(ts).to.have.length(2);
    expect([...ts].sort()).to.deep.equal(ts);
  });

  it('a file that is not a capture: exit 2, one line naming the file and the reason, no stack', () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'hello world, not a capture\n');
    const r = run([f]);
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.include(f).and.match(/not a capture file/);
  });

  it('a capture cut inside its header: exit 2 with the reason', () => {
    const f = join(dir, 'cut.pcap');
    writeFileSync(f, readFileSync(CURL).subarray(0, 10));
    const r = run([f]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/truncated capture header/);
  });

  it('a missing file and a bad option are clear errors', () => {
    expect(run([join(dir, 'nope.pcap')]).stderr).to.match(/cannot open capture: no such file/);
    const r = run(['--format', 'xml', CURL]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/--format must be ndjson or table/);
  });
});
