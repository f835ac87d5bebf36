import { expect } from 'chai';
import { join } from 'node:path';
import { checkSchema } from '../../signatures/schema.js';
import { formatIssue, validateDirs, type ValidationIssue } from '../../signatures/validate.js';
import { fixture } from '../helpers/root.js';

describe('signatures/validate', () => {
  const broken = fixture('signatures', 'broken');
  let issues: ValidationIssue[];
  before(() => {
    issues = validateDirs([broken]).issues;
  });
  /** The one issue for file (basename) and JSON path, with its message. */
  function at(file: string, path: string): ValidationIssue[] {
    return issues.filter((i) => i.file === join(broken, file) && i.path === path);
  }
  function expectIssue(file: string, path: string, message: RegExp, line?: number): void {
    const found = at(file, path);
    expect(found.map((i) => i.message), `${file} ${path}\n${issues.map(formatIssue).join('\n')}`).to.satisfy((ms: string[]) => ms.some((m) => message.test(m)));
    if (line !== undefined) expect(found.find((i) => message.test(i.message))!.line, `${file} ${path} line`).to.equal(line);
  }

  it('a valid test catalog has no issues', () => {
    expect(validateDirs([fixture('signatures', 'good')]).issues.map(formatIssue)).to.deep.equal([]);
  });

  it('YAML syntax errors and duplicate keys name the file and line', () => {
    expectIssue('syntax.yaml', '/', /^YAML: /, 5);
    expectIssue('dupkey.yaml', '/', /^YAML: Map keys must be unique/, 6);
  });

  it('schema errors name the file, the JSON path and the line', () => {
    expectIssue('schema.yaml', '/services/0/categroy', /unknown key 'categroy'/, 6);
    expectIssue('schema.yaml', '/services/0', /missing required key 'category'/);
    expectIssue('schema.yaml', '/services/1/risk/trains_on_user_data/value', /one of: yes, no, opt-out, opt-in/, 23);
    expectIssue('schema.yaml', '/services/1/risk/retention', /missing required key 'source'/, 24);
    expectIssue('schema.yaml', '/services/1/risk/headquarters/value', /ISO 3166-1/, 25);
    expectIssue('schema.yaml', '/services/1/risk/enterprise_tier/source', /URL/, 27);
    expectIssue('schema.yaml', '/services/2/endpoints/webapp', /unknown key 'webapp'/, 34);
    expectIssue('schema.yaml', '/services/3/id', /lower-case/, 37);
    expectIssue('schema.yaml', '/services/3/category', /one of: chat-assistant/, 39);
    expectIssue('schema.yaml', '/services/3/sources', /fewer than 1/);
    expectIssue('not-a-list.yaml', '/services', /must be array/, 3);
  });

  it('patterns that can never match are errors, one per pattern, with the reason', () => {
    const cases: [number, RegExp][] = [
      [0, /lower case/], [1, /hyphen/], [2, /empty label/], [3, /longer than 63/], [6, /single label/],
      [7, /drop the '='/], [8, /not ASCII/], [9, /more than one '\*'/], [10, /ends with a dot/],
    ];
    for (const [j, why] of cases) expectIssue('patterns.yaml', `/services/0/endpoints/web/${j}`, why, 10 + j);
    expectIssue('patterns.yaml', '/services/4/endpoints', /no patterns/);
    expectIssue('patterns.yaml', '/services/3/endpoints/resolver', /only for category dns-resolver/);
  });

  it('shared infrastructure may never be a pattern or be covered by one', () => {
    expectIssue('patterns.yaml', '/services/0/endpoints/web/4', /'googleapis.com' is shared infrastructure/);
    expectIssue('patterns.yaml', '/services/0/endpoints/web/5', /covers every subdomain of 'amazonaws.com'/);
    expectIssue('patterns.yaml', '/services/0/endpoints/web/11', /'google.com' is shared/);
    expectIssue('patterns.yaml', '/services/0/endpoints/web/12', /'microsoft.com' is shared/);
    expectIssue('patterns.yaml', '/services/0/endpoints/api/0', /'github.com' is shared/);
    expectIssue('patterns.yaml', '/services/0/endpoints/api/1', /covers every subdomain of 'github.com'/);
    expectIssue('patterns.yaml', '/services/0/endpoints/api/2', /covers every subdomain of 'com'/);
  });

  it('duplicate ids and the same pattern in two services name both places', () => {
    expectIssue('patterns.yaml', '/services/5/id', /duplicate service id 'id-target' \(first defined in .*dup-id\.yaml at \/services\/0\)/);
    expectIssue('patterns.yaml', '/services/2/endpoints/web/0', /'dup.broken.test' is already used in service 'dup-one' .* at \/services\/1\/endpoints\/web\/0/);
  });

  it('a wildcard that a suffix pattern always beats can never match', () => {
    expectIssue('patterns.yaml', '/services/2/endpoints/web/1', /'\*\.shadow\.broken\.test' can never match: .*suffix pattern 'shadow\.broken\.test'/);
    expectIssue('patterns.yaml', '/services/2/endpoints/web/2', /can never match/);
  });

  it('a redundant nested pattern of the same service is a warning, not an error', () => {
    const w = at('patterns.yaml', '/services/6/endpoints/web/1');
    expect(w).to.have.length(1);
    expect(w[0]!.severity).to.equal('warning');
    expect(w[0]!.message).to.match(/redundant/);
  });

  it('every issue names a file and a JSON path', () => {
    expect(issues.length).to.be.greaterThan(30);
    for (const i of issues) {
      expect(i.file).to.match(/\.yaml$/);
      expect(i.path).to.match(/^\//);
      expect(formatIssue(i)).to.contain(i.path);
    }
  });

  it('checkSchema rejects unknown top-level keys and non-objects', () => {
    expect(checkSchema('f.yaml', { vendor: 'V', services: [], extra: 1 }).map((i) => `${i.path} ${i.message}`)).to.include.members(['/extra unknown key \'extra\'', '/services must NOT have fewer than 1 items']);
    expect(checkSchema('f.yaml', 'text')[0]).to.include({ file: 'f.yaml', path: '/' });
    expect(checkSchema('f.yaml', null)[0]).to.include({ file: 'f.yaml', path: '/' });
  });

  it('a missing directory is an issue, not an exception', () => {
    const r = validateDirs([fixture('signatures', 'no-such-dir')]);
    expect(r.issues).to.have.length(1);
    expect(r.issues[0]!.message).to.match(/cannot read directory: ENOENT/);
  });
});
