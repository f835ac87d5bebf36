// runAgent with a file source (what `umbra demo` does): the real pipeline, spool,
// shipper and collector (HTTPS, SQLite) in one process; no root needed.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent, type AgentOptions } from '../../agent/runner.js';
import { startCollector, type RunningCollector } from '../../collector/ingest/server.js';
import { defaultCatalog } from '../../signatures/loader.js';
import { analyzeFiles } from '../helpers/analyze.js';
import { fixture } from '../helpers/root.js';
import { AGENT, AGENT_TOKEN, OTHER_AGENT, OTHER_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../collector/helpers.js';
import type { UmbraEvent } from '../../agent/event.js';

const CLIENTS = readdirSync(fixture('captures', 'clients')).filter((f) => f.endsWith('.pcap')).map((f) => fixture('captures', 'clients', f));
const key = (e: UmbraEvent): string => `${e['@timestamp']} ${e.event.action} ${e.destination?.domain} ${e.umbra?.service?.id} ${e.source.ip}:${e.source.port}`;

describe('runAgent (file source → pipeline → spool → shipper → collector)', function () {
  this.timeout(60_000);
  let tls: TempDir;
  let collector: RunningCollector;
  let dir: string;
  const logs: string[] = [];
  const base = (over: Partial<AgentOptions> = {}): AgentOptions => ({
    source: { kind: 'files', paths: CLIENTS },
    matcher: defaultCatalog().matcher,
    observer: { id: AGENT, name: 'runner-test' },
    spool: { dir: join(dir, `spool-${Math.random().toString(36).slice(2)}`), fsync: 'never' },
    shipper: { url: collector.url, token: AGENT_TOKEN, ca: tls.cert.certPem, lingerMs: 20 },
    statsIntervalMs: 0,
    log: (level, m) => logs.push(`${level}: ${m}`),
    ...over,
  });

  before(async () => {
    tls = await tempDirWithCert();
    collector = await startCollector(testConfig(tls), { log: () => {} });
    dir = mkdtempSync(join(tmpdir(), 'umbra-runner-'));
  });
  after(async () => {
    await collector?.close();
    tls?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships exactly the events umbra analyze finds, each once, then stops at the end of the files', async () => {
    const expected = (await analyzeFiles(CLIENTS, { all: false })).events.map(key).sort();
    expect(expected.length).to.be.greaterThan(20);
    const seen: UmbraEvent[] = [];
    const agent = await runAgent(base({ onEvent: (e) => seen.push(e) }));
    expect(agent.privileges).to.equal(null);
    const s = await agent.done;
    expect(s.reason).to.equal('source-end');
    expect(s.delivered, logs.join('\n')).to.equal(true);
    expect(s.pending).to.equal(0);
    expect(s.counters['agent.events']).to.equal(expected.length);
    expect(s.counters['ship.events_acked']).to.equal(expected.length);
    const stored = await collector.store.query({ agentId: AGENT, limit: 1000 });
    expect(stored.map(key).sort()).to.deep.equal(expected);
    expect(seen.map(key).sort()).to.deep.equal(expected);
    for (const e of stored) expect(e.observer).to.deep.equal({ id: AGENT, name: 'runner-test' });
    expect(logs.some((l) => /stopped \(source-end\)/.test(l))).to.equal(true);
  });

  it('paced replay follows the capture timestamps (divided by speed)', async () => {
    // dig-udp.pcap spans 0.83 s of capture time
    const f = fixture('captures', 'clients', 'dig-udp.pcap');
    const t0 = performance.now();
    const s = await (await runAgent(base({ source: { kind: 'files', paths: [f], paced: true, speed: 1 } }))).done;
    const paced = performance.now() - t0;
    expect(s.reason).to.equal('source-end');
    expect(paced).to.be.greaterThan(800);
    const t1 = performance.now();
    await (await runAgent(base({ source: { kind: 'files', paths: [f], paced: true, speed: 4 } }))).done;
    const fast = performance.now() - t1;
    expect(fast).to.be.lessThan(paced - 400);
  });

  it('stop() ends a replay early, gracefully: what was seen is shipped, the rest never read', async () => {
    // chromium-tls.pcap spans 18.9 s; paced, only its start is read within 300 ms
    const f = fixture('captures', 'clients', 'chromium-tls.pcap');
    const agent = await runAgent(base({ source: { kind: 'files', paths: [f], paced: true } }));
    await new Promise((r) => setTimeout(r, 300));
    const s = await agent.stop();
    expect(s.reason).to.equal('stop');
    expect(s.delivered).to.equal(true);
    expect(s.counters.packets).to.be.greaterThan(0).and.lessThan(75); // 75 packets in the file
    expect(s.elapsedSec).to.be.lessThan(5);
    expect(await agent.stop()).to.equal(s); // idempotent
  });

  it('a collector that refuses the token: nothing acknowledged, the events stay in the spool for the next start', async () => {
    const spoolDir = join(dir, 'spool-kept');
    const observer = { id: OTHER_AGENT };
    const f = fixture('captures', 'clients', 'dig-udp.pcap');
    const s = await (await runAgent(base({ source: { kind: 'files', paths: [f] }, observer, spool: { dir: spoolDir, fsync: 'never' }, shipper: { url: collector.url, token: 'wrong-token', ca: tls.cert.certPem, lingerMs: 20 }, stopTimeoutMs: 500 }))).done;
    expect(s.delivered, JSON.stringify(s) + logs.join('\n')).to.equal(false);
    expect(s.pending).to.equal(s.counters['agent.events']);
    expect(s.pending).to.be.greaterThan(0);
    // the next start (an empty source) with the right token ships them
    const before = await collector.store.count();
    const s2 = await (await runAgent(base({ source: { kind: 'files', paths: [fixture('captures', 'clients', 'node-tls.pcap')] }, observer, spool: { dir: spoolDir, fsync: 'never' },
      shipper: { url: collector.url, token: OTHER_TOKEN, ca: tls.cert.certPem, lingerMs: 20 } }))).done;
    expect(s2.delivered).to.equal(true);
    expect((await collector.store.count()) - before).to.equal(s.pending + (s2.counters['agent.events'] ?? 0));
  });

  it('start-up errors are thrown with nothing left running: a missing capture file', async () => {
    let err: Error | undefined;
    try {
      await runAgent(base({ source: { kind: 'files', paths: [join(dir, 'nope.pcap')] } }));
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/nope\.pcap: cannot open capture/);
  });
});
