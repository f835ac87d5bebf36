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
});
