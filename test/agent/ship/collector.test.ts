// The agent's shipping against the real collector (collector/ingest/server.ts) on the
// SQLite store, over HTTPS on loopback: every event stored exactly once.
import { expect } from 'chai';
import { join } from 'node:path';
import { Spool } from '../../../agent/ship/spool.js';
import { Shipper } from '../../../agent/ship/shipper.js';
import { startCollector, type RunningCollector } from '../../../collector/ingest/server.js';
import { AGENT, AGENT_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../../collector/helpers.js';
import { mkEvent, waitFor } from '../../helpers/ship.js';

describe('agent/ship → collector (real server, SQLite)', function () {
  this.timeout(120_000);
  let t: TempDir;
  let collector: RunningCollector | undefined;
  let spool: Spool;
  let shipper: Shipper | undefined;
  let logs: string[];

  beforeEach(async () => {
    t = await tempDirWithCert();
    spool = Spool.open({ dir: join(t.dir, 'spool'), agentId: AGENT, fsync: 'never' });
    logs = [];
  });
  afterEach(async () => {
    await shipper?.stop(200);
    shipper = undefined;
    spool.close();
    await collector?.close();
    collector = undefined;
    t.remove();
  });

  const ship = (token = AGENT_TOKEN, batchMaxEvents = 1000): Shipper => {
    shipper = new Shipper({
      spool, url: collector!.url, token, ca: t.cert.certPem, batchMaxEvents, lingerMs: 20, backoffBaseMs: 20, backoffCapMs: 300,
      log: (level, m) => logs.push(`${level}: ${m}`),
    });
    shipper.start();
    return shipper;
  };
  const fill = (n: number, from = 0): void => {
    for (let i = from; i < from + n; i += 100) spool.appendMany(Array.from({ length: Math.min(100, from + n - i) }, (_, k) => mkEvent(i + k)));
  };

  it('20,000 events: all stored once, the spool drained', async () => {
    collector = await startCollector(testConfig(t), { log: () => {} });
    fill(20_000);
    const s = ship();
    await waitFor(() => spool.pending === 0, 60_000, 'the spool to drain');
    expect(await collector.store.count()).to.equal(20_000);
    expect(collector.stats.duplicates).to.equal(0);
    expect(s.counters.get('ship.collector_accepted')).to.equal(20_000);
    const [e] = await collector.store.query({ limit: 1 });
    expect(e!.observer!.id).to.equal(AGENT);
  });

  it('collector stopped and restarted (same port, same store file) while events flow: exactly all stored', async () => {
    const config = testConfig(t);
    collector = await startCollector(config, { log: () => {} });
    const port = collector.port;
    config.collector.listen.port = port;
    ship(AGENT_TOKEN, 200);
    for (let round = 0; round < 6; round++) {
      fill(500, round * 500);
      await new Promise((r) => setTimeout(r, 60));
      if (round === 2) {
        await collector.close();
        collector = undefined;
        fill(500, 10_000);
        await new Promise((r) => setTimeout(r, 500));
        collector = await startCollector(config, { log: () => {} });
      }
    }
    await waitFor(() => spool.pending === 0, 60_000, 'the spool to drain');
    expect(await collector!.store.count()).to.equal(3500);
    expect(shipper!.counters.get('ship.network_errors') + shipper!.counters.get('ship.http_503')).to.be.greaterThan(0);
  });

  it("the collector's batch limit answers 413: the shipper halves until it fits", async () => {
    collector = await startCollector(testConfig(t, { limits: { max_batch_events: 64 } }), { log: () => {} });
    fill(1000);
    const s = ship(AGENT_TOKEN, 500);
    await waitFor(() => spool.pending === 0, 60_000, 'the spool to drain');
    expect(await collector.store.count()).to.equal(1000);
    expect(s.counters.get('ship.http_413')).to.be.greaterThan(0);
    expect(s.counters.get('ship.rejected_too_large')).to.equal(0);
  });

  it('a wrong token: 401, a clear error, nothing stored, nothing acknowledged', async () => {
    collector = await startCollector(testConfig(t), { log: () => {} });
    fill(50);
    const s = ship('not-the-token');
    await waitFor(() => s.counters.get('ship.http_401') >= 2, 10_000, '401s');
    expect(await collector.store.count()).to.equal(0);
    expect(spool.pending).to.equal(50);
    expect(logs.some((l) => l.startsWith('error:') && l.includes('401') && l.includes('token'))).to.equal(true);
  });
});
