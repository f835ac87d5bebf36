// The one-way dependency of DESIGN.md: `agent` never imports `collector`
// (collector may use agent's event types and signatures; both use common/).
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/root.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layout', () => {
  for (const [part, forbidden] of [['agent', 'collector'], ['signatures', 'agent'], ['signatures', 'collector'], ['common', 'agent'], ['common', 'collector']] as const) {
    it(`${part}/ never imports ${forbidden}/`, () => {
      const offenders = sources(join(ROOT, part)).filter((f) => new RegExp(`from '(\\.\\./)+${forbidden}/`).test(readFileSync(f, 'utf8')));
      expect(offenders.map((f) => f.slice(ROOT.length + 1))).to.deep.equal([]);
    });
  }
  it('cli/agent.ts (the gateway agent) imports no collector/ module and loads ajv/yaml only for --config', () => {
    const src = readFileSync(join(ROOT, 'cli', 'agent.ts'), 'utf8');
    expect(src).not.to.match(/from '\.\.\/collector\//);
    for (const f of sources(join(ROOT, 'agent'))) expect(readFileSync(f, 'utf8'), f).not.to.match(/^import (?!type )[^;]*from '(ajv|yaml)'/m);
  });
});
