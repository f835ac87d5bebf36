// The one-way dependency of DESIGN.md: `agent` never imports `collector`
// (collector may use agent's event types and signatures; both use common/).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

  it('umbra agent loads prom-client only with --metrics-listen: no static import path from cli/agent.ts reaches it', () => {
    // Static (not `import type`, not import()) imports, followed through our own modules.
    const seen = new Set<string>();
    const reaching: string[] = [];
    const walk = (file: string, path: string[]): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^(?:import|export) (?!type )[^;]*?from '([^']+)';/gm)) {
        const spec = m[1]!;
        if (spec === 'prom-client') reaching.push([...path, file.slice(ROOT.length + 1)].join(' → '));
        else if (spec.startsWith('.')) walk(resolve(dirname(file), spec.replace(/\.js$/, '.ts')), [...path, file.slice(ROOT.length + 1)]);
      }
    };
    walk(join(ROOT, 'cli', 'agent.ts'), []);
    expect(seen.size).to.be.greaterThan(20); // the walk did follow the agent's modules
    expect(reaching).to.deep.equal([]);
    // And at run time: the agent's modules loaded (this test's tree: dist/ or the sources under tsx),
    // prom-client is not; making the metrics loads it.
    const ts = import.meta.url.endsWith('.ts');
    const tree = ts ? ROOT : join(dirname(fileURLToPath(import.meta.url)), '..');
    const mod = (rel: string): string => pathToFileURL(join(tree, `${rel}.${ts ? 'ts' : 'js'}`)).href;
    const script = `
      const { createRequire } = await import('node:module');
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/prom-client/'));
      await import(${JSON.stringify(mod('cli/agent'))});
      await import(${JSON.stringify(mod('agent/runner'))});
      const before = loaded();
      const { AgentMetrics } = await import(${JSON.stringify(mod('agent/metrics'))});
      const { Counters } = await import(${JSON.stringify(mod('agent/stats'))});
      new AgentMetrics({ counters: new Counters(), spool: () => undefined });
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const r = spawnSync(process.execPath, [...(ts ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script], { encoding: 'utf8', cwd: ROOT });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).to.deep.equal({ before: false, after: true });
  });
});
