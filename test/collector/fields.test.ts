import { expect } from 'chai';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIELD_BY_NAME, FIELDS } from '../../collector/fields.js';
import { FIELDS_DOC_PATH, renderFieldsDoc } from '../../collector/fields-doc.js';
import { buildMappingProperties } from '../../collector/store/es-template.js';
import { fixture, ROOT } from '../helpers/root.js';
import { makeEvent } from './helpers.js';

/** Every *.ndjson under a folder, recursively. */
function ndjsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...ndjsonFiles(p));
    else if (e.name.endsWith('.ndjson')) out.push(p);
  }
  return out.sort();
}

/** Leaf paths of a JSON value with the JSON type found there (arrays flattened, as Elasticsearch does). */
function leaves(v: unknown, path: string, out: Map<string, Set<string>>): void {
  if (Array.isArray(v)) { for (const x of v) leaves(x, path, out); return; }
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
    return;
  }
  let s = out.get(path);
  if (!s) out.set(path, (s = new Set()));
  s.add(v === null ? 'null' : typeof v);
}

/** JSON types a declared Elasticsearch type accepts without coercion. */
const JSON_TYPES: Record<string, string[]> = { keyword: ['string', 'number'], ip: ['string'], date: ['string'], long: ['number'], boolean: ['boolean'] };

describe('event fields declaration', () => {
  it('declares each name once, leaves with a leaf type, parents of declared leaves never as leaves', () => {
    const names = FIELDS.map((d) => d.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const d of FIELDS) {
      expect(d.description.length, d.name).to.be.greaterThan(3);
      const parts = d.name.split('.');
      for (let i = 1; i < parts.length; i++) {
        const parent = FIELD_BY_NAME.get(parts.slice(0, i).join('.'));
        if (parent) expect(parent.type, `${d.name} under ${parent.name}`).to.equal('object');
      }
    }
  });

  it('every leaf of every golden event (and of an agent-shipped event) is declared with a matching type', () => {
    const files = ndjsonFiles(fixture('captures'));
    expect(files.length).to.be.greaterThan(20);
    const seen = new Map<string, Set<string>>();
    let events = 0;
    for (const f of files) {
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        leaves(JSON.parse(line), '', seen);
        events++;
      }
    }
    expect(events).to.be.greaterThan(100);
    // The golden files come from `umbra analyze` (no agent ids): add the fields an agent adds when shipping.
    leaves(makeEvent(1), '', seen);
    const problems: string[] = [];
    for (const [path, types] of seen) {
      const d = FIELD_BY_NAME.get(path);
      if (!d) { problems.push(`${path}: not declared in collector/fields.ts`); continue; }
      if (d.type === 'object') { problems.push(`${path}: declared object, holds ${[...types].join('/')}`); continue; }
      for (const t of types) if (!JSON_TYPES[d.type]!.includes(t)) problems.push(`${path}: declared ${d.type}, holds ${t}`);
    }
    expect(problems).to.deep.equal([]);
    // And the check can fail: an undeclared leaf is reported.
    const extra = new Map<string, Set<string>>();
    leaves({ source: { ipaddr: 'x' } }, '', extra);
    expect([...extra.keys()].filter((p) => !FIELD_BY_NAME.has(p))).to.deep.equal(['source.ipaddr']);
  });

  it('the mapping tree has one leaf per declared leaf field, with its type', () => {
    const props = buildMappingProperties();
    for (const d of FIELDS) {
      let node: { type?: string; properties?: Record<string, unknown> } = { properties: props };
      for (const p of d.name === '@timestamp' ? ['@timestamp'] : d.name.split('.')) node = node.properties![p] as typeof node;
      expect(node.type, d.name).to.equal(d.type);
    }
    expect(props['source']).to.deep.equal({ properties: { ip: { type: 'ip' }, port: { type: 'long' } } });
  });

  it(`${FIELDS_DOC_PATH} is generated from the declaration and up to date (GENERATE=1 rewrites it)`, () => {
    const path = join(ROOT, FIELDS_DOC_PATH);
    const want = renderFieldsDoc();
    if (process.env.GENERATE === '1') writeFileSync(path, want);
    const have = readFileSync(path, 'utf8');
    expect(have, `${FIELDS_DOC_PATH} is out of date: run GENERATE=1 npx mocha --config .mocharc.dev.json test/collector/fields.test.ts`).to.equal(want);
    for (const d of FIELDS) expect(have).to.include(`| \`${d.name}\` | ${d.type}`);
  });
});

describe('Elasticsearch install files (deploy/elasticsearch)', () => {
  it('are generated from the declaration and up to date (GENERATE=1 rewrites them)', async () => {
    const { mkdirSync } = await import('node:fs');
    const { deployFiles, ES_DEPLOY_DIR } = await import('../../collector/store/es-template.js');
    const dir = join(ROOT, ES_DEPLOY_DIR);
    const files = deployFiles();
    expect(Object.keys(files).sort()).to.deep.equal(['umbra-events-mappings.json', 'umbra-events-policy.json', 'umbra-events-settings.json', 'umbra-events.json']);
    for (const [name, f] of Object.entries(files)) {
      const want = `${JSON.stringify(f.body, null, 2)}\n`;
      if (process.env.GENERATE === '1') { mkdirSync(dir, { recursive: true }); writeFileSync(join(dir, name), want); }
      expect(readFileSync(join(dir, name), 'utf8'), `${ES_DEPLOY_DIR}/${name} is out of date: GENERATE=1`).to.equal(want);
    }
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const f of Object.values(files)) expect(readme).to.include(f.request);
  });
});
