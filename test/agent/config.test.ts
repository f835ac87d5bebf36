// The agent: section of umbra.yaml (agent/config.ts): the example file documents
// every key and its uncommented section is valid; metrics_listen is read.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AGENT_CONFIG_SCHEMA, loadAgentConfig, parseAgentSection } from '../../agent/config.js';
import { parseMetricsListen } from '../../agent/metrics.js';
import { ROOT } from '../helpers/root.js';

const EXAMPLE = join(ROOT, 'deploy', 'umbra.example.yaml');

describe('agent config (agent: section)', () => {
  it('deploy/umbra.example.yaml documents every agent key, and its (commented) section is valid', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const start = text.indexOf('\n# agent:\n');
    expect(start).to.be.greaterThan(0);
    const section = text.slice(start + 1).split('\n').filter((l) => l.startsWith('#')).map((l) => l.slice(2)).join('\n');
    const raw = parse(section) as { agent: Record<string, unknown> };
    expect(Object.keys(raw.agent).sort()).to.deep.equal(Object.keys(AGENT_CONFIG_SCHEMA.properties).sort());
    const c = parseAgentSection(raw.agent, EXAMPLE);
    expect(c.metricsListen).to.equal('127.0.0.1:9464');
    expect(parseMetricsListen(c.metricsListen!)).to.deep.equal({ host: '127.0.0.1', port: 9464 });
  });

  it('metrics_listen: HOST:PORT or a bare port; other types are errors naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-agent-config-'));
    try {
      const f = join(dir, 'umbra.yaml');
      writeFileSync(f, 'agent:\n  metrics_listen: 9464\n');
      expect(loadAgentConfig(f).metricsListen).to.equal('9464');
      writeFileSync(f, 'agent:\n  metrics_listen: "[::1]:9100"\n');
      expect(loadAgentConfig(f).metricsListen).to.equal('[::1]:9100');
      writeFileSync(f, 'agent:\n  metrics_listen: true\n');
      expect(() => loadAgentConfig(f)).to.throw(`${f}: /agent/metrics_listen: must be string,integer`);
      writeFileSync(f, 'agent:\n  metrics_listen: 70000\n');
      expect(() => loadAgentConfig(f)).to.throw(`${f}: /agent/metrics_listen: must be <= 65535`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
