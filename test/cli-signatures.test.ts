// `umbra signatures …` through the real launcher (bin/umbra.js → dist/), on the
// test catalogs and the shipped one. `npm test` builds first.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fixture, ROOT } from './helpers/root.js';

const UMBRA = join(ROOT, 'bin', 'umbra.js');
const GOOD = fixture('signatures', 'good');

function umbra(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return umbraIn('', ...args);
}
function umbraIn(input: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [UMBRA, 'signatures', ...args], { encoding: 'utf8', cwd: ROOT, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('umbra signatures', () => {
  it('--help lists the four commands; each command has its own --help', () => {
    const r = umbra('--help');
    expect(r.status).to.equal(0);
    for (const c of ['list', 'test', 'validate', 'stats']) expect(r.stdout).to.match(new RegExp(`^  ${c} `, 'm'));
    for (const c of ['list', 'test', 'validate', 'stats']) {
      const h = umbra(c, '--help');
      expect(h.status, c).to.equal(0);
      expect(h.stdout, c).to.match(new RegExp(`^usage: umbra signatures ${c}`));
    }
  });

  it('an unknown command or option exits 2 with a one-line reason', () => {
    const r = umbra('frobnicate');
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/unknown signatures command 'frobnicate'/);
    const o = umbra('list', '--colour');
    expect(o.status).to.equal(2);
    expect(o.stderr).to.match(/Unknown option '--colour'/);
    expect(o.stderr).to.not.match(/at .*\.js:\d+/);
  });

  it('test: prints the service, rule and kind for each name, or "no match"', () => {
    const r = umbra('test', '--data-dir', GOOD, 'X.Chat.Example-AI.test.', 'notexample-ai.test', 'us-central1-aiplatform.googleapis.com', 'storage.googleapis.com', 'bad name');
    expect(r.status).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^name\s+service\s+category\s+rule\s+kind$/);
    expect(lines[2]).to.match(/^X\.Chat\.Example-AI\.test\. \(x\.chat\.example-ai\.test\)\s+ex-chat \(Example Chat\)\s+chat-assistant\s+chat\.example-ai\.test\s+web$/);
    expect(lines[3]).to.match(/^notexample-ai\.test\s+no match$/);
    expect(lines[4]).to.match(/^us-central1-aiplatform\.googleapis\.com\s+cloud-vertex .*\*-aiplatform\.googleapis\.com\s+api$/);
    expect(lines[5]).to.match(/^storage\.googleapis\.com\s+no match$/);
    expect(lines[6]).to.match(/^bad name\s+no match \(not a valid host name\)$/);
    // columns align: every "service" cell starts at the same offset
    const col = lines[0]!.indexOf('service');
    for (const l of lines.slice(2)) expect(l[col - 1]).to.equal(' ');
    for (const l of lines.slice(2)) expect(l[col]).to.not.equal(' ');
  });

  it('test --format json', () => {
    const r = umbra('test', '--data-dir', GOOD, '--format', 'json', 'api.example-ai.test', 'example.org');
    expect(r.status).to.equal(0);
    const j = JSON.parse(r.stdout) as { name: string; match: { service: string; rule: string; kind: string } | null }[];
    expect(j[0]!.match).to.include({ service: 'ex-api', rule: 'api.example-ai.test', kind: 'api' });
    expect(j[1]!.match).to.equal(null);
  });

  it('test - reads names from standard input', () => {
    const r = umbraIn('api.example-ai.test\n\nexample.org\r\n', 'test', '--data-dir', GOOD, '--format', 'json', '-');
    expect(r.status).to.equal(0);
    const j = JSON.parse(r.stdout) as { name: string; match: { service: string } | null }[];
    expect(j.map((x) => [x.name, x.match?.service ?? null])).to.deep.equal([['api.example-ai.test', 'ex-api'], ['example.org', null]]);
  });

  it('validate --format json lists issues with file, line, path and severity', () => {
    const r = umbra('validate', '--format', 'json', fixture('signatures', 'broken'));
    expect(r.status).to.equal(1);
    const j = JSON.parse(r.stdout) as { file: string; line: number | null; path: string; severity: string; message: string }[];
    expect(j).to.deep.include({ file: 'test/fixtures/signatures/broken/schema.yaml', line: 6, path: '/services/0/categroy', severity: 'error', message: "unknown key 'categroy'" });
  });

  it('list: filters by category, as an aligned table or as JSON', () => {
    const r = umbra('list', '--data-dir', GOOD, '--category', 'model-api');
    expect(r.status).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^id\s+name\s+vendor\s+category\s+patterns$/);
    expect(lines.slice(2, -1).map((l) => l.split(/\s+/)[0])).to.deep.equal(['cloud-bedrock', 'cloud-openai', 'cloud-special', 'cloud-vertex', 'ex-api']);
    expect(lines.at(-1)).to.equal('5 services');
    const j = JSON.parse(umbra('list', '--data-dir', GOOD, '--format', 'json').stdout) as { id: string; risk: unknown }[];
    expect(j.map((s) => s.id)).to.include('ex-doh');
    expect(j.find((s) => s.id === 'ex-chat')!.risk).to.have.property('trains_on_user_data');
    expect(umbra('list', '--category', 'nonsense').status).to.equal(2);
  });

  it('list --extra-dir shows the organisation\'s replacement', () => {
    const j = JSON.parse(umbra('list', '--data-dir', GOOD, '--extra-dir', fixture('signatures', 'extra'), '--format', 'json').stdout) as { id: string; name: string }[];
    expect(j.find((s) => s.id === 'ex-api')!.name).to.equal('Example API via ACME contract');
  });

  it('validate DIR: exits 1 and lists each error with file, line and JSON path', () => {
    const r = umbra('validate', fixture('signatures', 'broken'));
    expect(r.status).to.equal(1);
    expect(r.stdout).to.match(/^test\/fixtures\/signatures\/broken\/schema\.yaml:6: \/services\/0\/categroy: unknown key 'categroy'$/m);
    expect(r.stdout).to.match(/^test\/fixtures\/signatures\/broken\/patterns\.yaml:14: \/services\/0\/endpoints\/web\/4: pattern 'googleapis\.com' is shared infrastructure/m);
    expect(r.stdout).to.match(/: \d+ errors, 1 warning$/m);
  });

  it('validate exits 0 on a clean directory, and 1 when an extra directory clashes with it', () => {
    const ok = umbra('validate', GOOD);
    expect(ok.status).to.equal(0);
    expect(ok.stdout).to.match(/3 files, 9 services, \d+ patterns: 0 errors, 0 warnings/);
    const clash = umbra('validate', GOOD, '--extra-dir', fixture('signatures', 'broken-layer'));
    expect(clash.status).to.equal(1);
    expect(clash.stdout).to.match(/broken-layer\/clash\.yaml:9: \/services\/0\/endpoints\/web\/0: pattern 'chat\.example-ai\.test' is already used in service 'ex-chat'/);
  });

  it('stats: counts by category, region and risk-attribute coverage (table and JSON)', () => {
    const j = JSON.parse(umbra('stats', '--data-dir', GOOD, '--format', 'json').stdout) as Record<string, unknown>;
    expect(j).to.include({ services: 9, ai_services: 8, other_services: 1, files: 3 });
    expect(j.by_category).to.deep.equal({ 'model-api': 5, 'chat-assistant': 1, 'coding-assistant': 1, 'dns-resolver': 1, 'other-ai': 1 });
    // headquarters: FR, FR, unknown, US ×5, CH
    expect(j.by_region).to.deep.equal({ US: 5, EU: 2, other: 1, unknown: 1 });
    expect(j.attribute_coverage).to.deep.equal({ trains_on_user_data: 2, retention: 1, headquarters: 8, processing_jurisdiction: 1, enterprise_tier: 1, certifications: 1 });
    const t = umbra('stats', '--data-dir', GOOD);
    expect(t.status).to.equal(0);
    expect(t.stdout).to.match(/^9 services \(8 AI, 1 DNS resolvers and other\)/);
    expect(t.stdout).to.match(/^headquarters\s+8\s+89 %$/m);
  });

  it('a broken catalog is one UMBRA_E_SIGNATURES message naming file and path, exit 2', () => {
    const r = umbra('test', '--data-dir', fixture('signatures', 'broken'), 'a.test');
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/^umbra signatures: signatures: \d+ errors in the catalog/);
    expect(r.stderr).to.match(/dupkey\.yaml:6: \/: YAML: Map keys must be unique/);
    expect(r.stderr).to.not.match(/at .*\.js:\d+/);
  });

  it('the shipped catalog: validate passes and test finds ChatGPT', () => {
    const v = umbra('validate');
    expect(v.stdout.trimEnd().split('\n').filter((l) => !/: warning: /.test(l)).slice(0, -1), 'validate errors').to.deep.equal([]);
    expect(v.status).to.equal(0);
    const r = umbra('test', 'chatgpt.com', 'notopenai.com');
    expect(r.stdout).to.match(/^chatgpt\.com\s+openai-chatgpt \(ChatGPT\)/m);
    expect(r.stdout).to.match(/^notopenai\.com\s+no match$/m);
  });
});
