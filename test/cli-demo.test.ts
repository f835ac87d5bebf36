// `umbra demo --once`, the README's main command, run as people run it: the
// collector, the agent replaying the shipped capture over real HTTPS, the store,
// and the summary. Expected names per person come from outside the code: the
// people/sessions table that made the capture and, for each session, the names
// its client was told (captures/*/EXPECTED.tsv).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, fixture } from './helpers/root.js';
import { PEOPLE } from './tools/make-demo-capture.js';

const UMBRA = join(ROOT, 'bin', 'umbra.js');
const NOT_AI = new Set(['example.org']);

function toldNames(session: string): string[] {
  const [dir, name] = session.split('/') as [string, string];
  const rows = readFileSync(fixture('captures', dir, 'EXPECTED.tsv'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'));
  if (dir === 'clients') return rows.find((r) => r[0] === name)![2]!.split(' ');
  return rows.filter((r) => r[0] === `${name}.pcap`).map((r) => r[3]!);
}

describe('umbra demo --once', function () {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-demo-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stores every AI use of the shipped capture through the real agent and collector and tells who used what', () => {
    const r = spawnSync(process.execPath, [UMBRA, 'demo', '--once', '--data-dir', join(dir, 'state')], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/collector: https:\/\/127\.0\.0\.1:\d+/).and.match(/all delivered/);
    const rows = r.stdout.split('\n').filter((l) => /^(10\.20\.1\.|fd20::)/.test(l)).map((l) => l.split(/\s{2,}/));
    const seen = new Map<string, Set<string>>();
    for (const row of rows) {
      const host = row[0]!.startsWith('fd20::') ? Number(row[0]!.slice(6)) : Number(row[0]!.split('.')[3]);
      for (const n of row[6]!.split(' ')) (seen.get(String(host)) ?? seen.set(String(host), new Set()).get(String(host))!).add(n);
    }
    for (const p of PEOPLE) {
      const want = new Set(p.sessions.flatMap(toldNames).filter((n) => !NOT_AI.has(n)));
      expect([...(seen.get(String(p.host)) ?? [])].sort(), `10.20.1.${p.host}`).to.deep.equal([...want].sort());
    }
    const stored = Number(/store: (\d+) events/.exec(r.stdout)![1]);
    const spooled = Number(/(\d+) AI events spooled/.exec(r.stdout)![1]);
    expect(stored).to.equal(spooled).and.be.greaterThan(30);
  });

  it('--help answers', () => {
    const r = spawnSync(process.execPath, [UMBRA, 'demo', '--help'], { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/usage: umbra demo/).and.match(/--once/);
  });
});
