import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Spool } from '../../../agent/ship/spool.js';
import { backoffDelay, parseRetryAfter, Shipper, type ShipperOptions } from '../../../agent/ship/shipper.js';
import { mkEvent, selfSigned, tempDir, TestCollector, waitFor } from '../../helpers/ship.js';

const AGENT = 'gw-7';
const TOKEN = 'secret-token-of-gw-7';

describe('agent/ship/shipper', function () {
  this.timeout(60_000);
  let tls: { cert: string; key: string };
  let otherTls: { cert: string; key: string };
  let certs: ReturnType<typeof tempDir>;
  let tmp: ReturnType<typeof tempDir>;
  let spool: Spool;
  let collector: TestCollector;
  let shipper: Shipper | undefined;
  let logs: string[];

  before(async () => {
    certs = tempDir('umbra-certs-');
    tls = await selfSigned(certs.dir);
    const other = tempDir('umbra-certs-');
    otherTls = await selfSigned(other.dir);
    other.remove();
  });
  after(() => certs.remove());

  beforeEach(async () => {
    tmp = tempDir();
    spool = Spool.open({ dir: tmp.dir, agentId: AGENT, fsync: 'never', segmentBytes: 8192, maxBytes: 1024 * 1024 });
    collector = new TestCollector(tls, TOKEN);
    await collector.start();
    logs = [];
  });
  afterEach(async () => {
    await shipper?.stop(100);
    shipper = undefined;
    spool.close();
    await collector.stop();
    tmp.remove();
  });

  const ship = (o: Partial<ShipperOptions> = {}): Shipper => {
    shipper = new Shipper({
      spool, url: collector.url, token: TOKEN, ca: tls.cert, lingerMs: 20, backoffBaseMs: 20, backoffCapMs: 200,
      log: (level, m) => logs.push(`${level}: ${m}`), ...o,
    });
    shipper.start();
    return shipper;
  };
  const fill = (n: number, from = 0): string[] => {
    const ids: string[] = [];
    for (let i = from; i < from + n; i++) {
      const seq = spool.append(mkEvent(i));
      if (seq !== null) ids.push(`${spool.idPrefix}${seq}`);
    }
    return ids;
  };
  const storedIds = (): string[] => [...collector.events.keys()].sort();

  it('ships gzip NDJSON with the bearer token; acknowledged events leave the spool', async () => {
    const ids = fill(500);
    let encoding: string | undefined;
    collector.script = (_lines, req) => {
      encoding = req.headers['content-encoding'] as string;
      expect(req.headers['content-type']).to.equal('application/x-ndjson');
      return undefined;
    };
    const s = ship({ batchMaxEvents: 100 });
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
    expect(encoding).to.equal('gzip');
    expect(collector.batchSizes.every((n) => n <= 100)).to.equal(true);
    const e = collector.events.get(`${spool.idPrefix}17`)!;
    expect(e.observer!.id).to.equal(AGENT);
    expect(e.dns!.question.name).to.equal('q16.example');
    // Acknowledged segments are gone: one empty segment remains.
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.spool')).length).to.equal(1);
    expect(spool.bytes).to.equal(0);
    expect(s.counters.get('ship.events_acked')).to.equal(500);
    expect(s.counters.get('ship.collector_accepted')).to.equal(500);
    expect(s.counters.get('ship.retries')).to.equal(0);
  });

  it('identity encoding when gzip is off', async () => {
    const ids = fill(20);
    let encoding: string | undefined = 'unset';
    collector.script = (_l, req) => {
      encoding = req.headers['content-encoding'] as string | undefined;
      return undefined;
    };
    ship({ gzip: false });
    await waitFor(() => spool.pending === 0, 10_000, 'the spool to drain');
    expect(encoding).to.equal(undefined);
    expect(storedIds()).to.deep.equal(ids.sort());
  });

  it('415 for gzip: the shipper falls back to identity encoding, everything arrives', async () => {
    const ids = fill(120);
    const encodings: (string | undefined)[] = [];
    collector.script = (_l, req) => {
      const enc = req.headers['content-encoding'] as string | undefined;
      encodings.push(enc);
      return enc === 'gzip' ? { status: 415, body: '{"error":"unsupported encoding"}' } : undefined;
    };
    const s = ship({ batchMaxEvents: 50, maxInflight: 1 });
    await waitFor(() => spool.pending === 0, 10_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
    expect(encodings).to.deep.equal(['gzip', undefined, undefined, undefined]);
    expect(s.counters.get('ship.http_415')).to.equal(1);
    expect(logs.filter((l) => l.includes('refused gzip')).length).to.equal(1);
  });

  for (const [what, header] of [
    ['503 + Retry-After in seconds', () => '1'],
    ['429 + Retry-After as an HTTP date', () => new Date(Date.now() + 2000).toUTCString()],
  ] as const) {
    it(`${what}, then 200: waits as told, every event arrives exactly once by event.id`, async () => {
      const ids = fill(300);
      let refusals = 0;
      const times: number[] = [];
      collector.script = () => {
        times.push(Date.now());
        if (refusals < 2) {
          refusals++;
          return { status: what.startsWith('503') ? 503 : 429, headers: { 'retry-after': header() } };
        }
        return undefined;
      };
      const s = ship({ batchMaxEvents: 1000, backoffCapMs: 50 });
      await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
      expect(storedIds()).to.deep.equal(ids.sort());
      expect(collector.duplicates).to.equal(0);
      // The waits follow Retry-After (≥ ~1 s), not the 50 ms backoff cap. HTTP dates have
      // one-second resolution, so that wait may be a little under 2 s.
      expect(times[1]! - times[0]!).to.be.at.least(950);
      expect(times[2]! - times[1]!).to.be.at.least(950);
      expect(s.counters.get('ship.retries')).to.equal(2);
    });
  }

  it('a lost response (stored, connection cut) is replayed; the collector sees duplicates, stores once', async () => {
    const ids = fill(200);
    collector.cutAfterStore = 2;
    const s = ship({ batchMaxEvents: 50, maxInflight: 1 });
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
    // Batch 1..50 is stored and cut, sent again (all duplicates) and cut, sent a third time:
    // the collector saw 100 duplicate lines, the agent one answer saying 50.
    expect(collector.duplicates).to.equal(100);
    expect(s.counters.get('ship.network_errors')).to.equal(2);
    expect(s.counters.get('ship.collector_duplicates')).to.equal(50);
  });

  it('several batches in flight: up to maxInflight requests at once, every event stored once, the spool drained', async () => {
    const ids = fill(600);
    collector.delayMs = 30;
    const s = ship({ batchMaxEvents: 50, maxInflight: 3 });
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
    expect(collector.maxOpen).to.equal(3);
    expect(collector.duplicates).to.equal(0);
    expect(collector.batchSizes.every((n) => n <= 50)).to.equal(true);
    expect(s.counters.get('ship.events_acked')).to.equal(600);
  });

  it('a batch refused in the middle of a window: the spool is acknowledged only up to it; the later batch is sent again (duplicates), nothing lost', async () => {
    const ids = fill(150); // three batches of 50: seqs 1-50, 51-100, 101-150
    collector.delayMs = 20;
    const seqOf = (e: { event: { id?: string } }): number => Number(e.event.id!.slice(spool.idPrefix.length));
    let refused = false;
    const ackedWhenResent: number[] = [];
    collector.script = (lines) => {
      if (seqOf(lines[0]!) !== 51) return undefined;
      if (!refused) {
        refused = true;
        return { status: 503, headers: { 'retry-after': '0' }, body: '{"error":"store unavailable"}' };
      }
      ackedWhenResent.push(spool.ackedSeq);
      return undefined;
    };
    const s = ship({ batchMaxEvents: 50, maxInflight: 3 });
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
    // Batches 1 and 3 were stored in the first window, 2 refused: only 1-50 acknowledged.
    expect(ackedWhenResent).to.deep.equal([50]);
    // Batch 3 went again with batch 2 and was stored once: its 50 lines came back as duplicates.
    expect(collector.duplicates).to.equal(50);
    expect(s.counters.get('ship.http_503')).to.equal(1);
  });

  it('415 while several gzip batches are in flight: every body goes with the encoding it really has, everything arrives', async () => {
    const ids = fill(3000, 0);
    let mislabelled = 0;
    let refused = 0;
    collector.onRaw = (body, req) => {
      const gz = req.headers['content-encoding'] === 'gzip';
      if (!gz && body[0] === 0x1f && body[1] === 0x8b) mislabelled++;
      if (gz && ++refused > 2) return { status: 415, body: '{"error":"no gzip here"}' }; // a proxy that stops taking gzip
      return undefined;
    };
    const s = ship({ batchMaxEvents: 100, maxInflight: 3 });
    await waitFor(() => spool.pending === 0, 30_000, 'the spool to drain');
    expect(mislabelled).to.equal(0);
    expect(storedIds()).to.deep.equal(ids.sort());
    expect(logs.filter((l) => l.includes('refused gzip')).length).to.equal(1);
    expect(s.counters.get('ship.retries')).to.equal(0);
  });

  it('an acknowledgement that fails (segment cannot be deleted) after a partial batch: nothing is skipped, everything arrives', function () {
    if (process.getuid?.() !== 0) this.skip();
    return (async () => {
      spool.close();
      spool = Spool.open({ dir: tmp.dir, agentId: AGENT, fsync: 'never', segmentBytes: 2048, maxBytes: 1024 * 1024 });
      const ids = fill(200);
      const seg1 = join(tmp.dir, readdirSync(tmp.dir).filter((f) => f.endsWith('.spool')).sort()[0]!);
      try {
        execFileSync('chattr', ['+i', seg1]); // unlink(2) of it fails with EPERM, even for root
      } catch {
        this.skip(); // a file system without the immutable flag
      }
      const seqOf = (e: { event: { id?: string } }): number => Number(e.event.id!.split(':').pop());
      let faulty = true;
      collector.delayMs = 30;
      collector.script = (lines) => {
        const first = seqOf(lines[0]!);
        const last = seqOf(lines[lines.length - 1]!);
        if (faulty && first === 1 && lines.length === 20) return { status: 413, body: '{}' }; // split: 1-10 stored, 11-20 refused below
        if (faulty && first >= 11 && last <= 60) return { status: 503, headers: { 'retry-after': '0' }, body: '{}' };
        return undefined;
      };
      const ack = spool.ack.bind(spool);
      let throws = 0;
      spool.ack = (n: number): void => {
        try {
          ack(n);
        } catch (e) {
          throws++;
          execFileSync('chattr', ['-i', seg1]);
          faulty = false;
          throw e;
        }
      };
      try {
        ship({ batchMaxEvents: 20, maxInflight: 3 });
        await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
      } finally {
        try { execFileSync('chattr', ['-i', seg1], { stdio: 'ignore' }); } catch { /* already cleared */ }
      }
      expect(throws).to.equal(1);
      expect(storedIds()).to.deep.equal(ids.sort());
      // The segment that could not be deleted was deleted by a later acknowledgement, and is no longer counted.
      expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.spool')).length).to.equal(1);
      expect(spool.bytes).to.equal(0);
      expect(logs.some((l) => l.includes('spool: ') && l.includes('EPERM'))).to.equal(true);
    })();
  });

  it('stop(timeout) returns in time even when a request would start after the time is up (collector stuck)', async () => {
    // Large events: the next batch is still being compressed when stop()'s time is up.
    spool.close();
    spool = Spool.open({ dir: tmp.dir, agentId: AGENT, fsync: 'never', maxBytes: 64 * 1024 * 1024 });
    for (let i = 0; i < 400; i++) {
      const e = mkEvent(i);
      e.dns!.question.name = 'q' + randomBytes(30_000).toString('base64');
      spool.append(e);
    }
    const STOP_MS = 1000;
    let t0 = 0;
    let n = 0;
    const stuck = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const k = ++n;
      req.resume();
      // The first batch is answered just before stop()'s deadline; after that the collector is stuck.
      req.on('end', () => { if (k === 1) setTimeout(() => res.end('{"accepted":100,"duplicates":0,"dead_lettered":0}'), Math.max(0, STOP_MS - 15 - (Date.now() - t0))); });
    });
    await new Promise<void>((ok) => stuck.listen(0, '127.0.0.1', () => ok()));
    try {
      const s = new Shipper({ spool, url: `https://127.0.0.1:${(stuck.address() as AddressInfo).port}`, token: TOKEN, ca: tls.cert, batchMaxEvents: 100, maxInflight: 1, requestTimeoutMs: 8000, log: (l, m) => logs.push(`${l}: ${m}`) });
      t0 = Date.now();
      s.start();
      const delivered = await s.stop(STOP_MS);
      const took = Date.now() - t0;
      expect(delivered).to.equal(false);
      expect(took, `stop took ${took} ms`).to.be.below(STOP_MS + 1000);
      expect(n).to.be.at.least(1);
    } finally {
      stuck.closeAllConnections();
      stuck.close();
    }
  });

  it('counters count only answers that were used: a batch stored after an older one failed is not counted twice, a dropped event once', async () => {
    for (let i = 0; i < 30; i++) spool.append(i === 25 ? mkEvent('huge', 5000) : mkEvent(i));
    collector.delayMs = 20;
    let first = true;
    collector.script = (lines) => {
      if (lines.some((l) => l.dns!.question.name.startsWith('qhuge'))) return { status: 413 };
      if (first) {
        first = false;
        return { status: 503, headers: { 'retry-after': '0' } }; // the oldest batch, once: the two after it are sent again
      }
      return undefined;
    };
    const s = ship({ batchMaxEvents: 10, maxInflight: 3 });
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(collector.events.size).to.equal(29);
    expect(s.counters.get('ship.events_acked')).to.equal(29);
    expect(s.counters.get('ship.rejected_too_large')).to.equal(1);
    expect(logs.filter((l) => l.includes('as too large')).length).to.equal(1);
    // Events stored from an answer that was not used come back as duplicates when sent again.
    expect(s.counters.get('ship.collector_accepted') + s.counters.get('ship.collector_duplicates')).to.equal(29);
  });

  it('collector down for a while, then up: everything appended meanwhile arrives', async () => {
    const port = collector.port;
    await collector.stop();
    const s = ship({ batchMaxEvents: 64 });
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) {
      ids.push(...fill(30, round * 30));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(collector.events.size).to.equal(0);
    expect(s.counters.get('ship.network_errors')).to.be.greaterThan(2);
    expect(s.lastError).to.match(/network: .*ECONNREFUSED/);
    await collector.start(port);
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
    expect(logs.some((l) => l.startsWith('info: collector accepts events again'))).to.equal(true);
  });

  it('413: the batch is halved until it fits; every event arrives in order', async () => {
    const ids = fill(100);
    collector.script = (lines) => (lines.length > 12 ? { status: 413, body: '{"error":"batch too large"}' } : undefined);
    const s = ship({ batchMaxEvents: 100 });
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
    expect(collector.batchSizes.every((n) => n <= 12)).to.equal(true);
    expect(s.counters.get('ship.split_batches')).to.be.greaterThan(0);
    expect(s.counters.get('ship.rejected_too_large')).to.equal(0);
    expect(collector.duplicates).to.equal(0);
  });

  it('413 on a single event: that event is dropped and counted, the others arrive', async () => {
    fill(30);
    const big = spool.append(mkEvent('huge', 5000))!;
    const ids = fill(30, 100);
    collector.script = (lines) => (lines.some((l) => l.dns!.question.name.startsWith('qhuge')) ? { status: 413 } : undefined);
    const s = ship({ batchMaxEvents: 100 });
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    expect(s.counters.get('ship.rejected_too_large')).to.equal(1);
    expect(collector.events.has(`${spool.idPrefix}${big}`)).to.equal(false);
    expect(collector.events.size).to.equal(60);
    for (const id of ids) expect(collector.events.has(id)).to.equal(true);
    expect(logs.some((l) => l.includes(`${spool.idPrefix}${big}`) && l.includes('too large'))).to.equal(true);
  });

  it('401: a clear error, nothing acknowledged, the spool keeps everything', async () => {
    fill(40);
    const s = ship({ token: 'wrong' });
    await waitFor(() => s.counters.get('ship.http_401') >= 3, 10_000, 'three 401s');
    await s.stop(100);
    shipper = undefined;
    expect(logs.filter((l) => l.startsWith('error: ') && l.includes('token')).length).to.equal(1);
    expect(spool.pending).to.equal(40);
    expect(spool.readBatch(100, 1e9).length).to.equal(40);
    expect(collector.events.size).to.equal(0);
  });

  it('the collector certificate is pinned: another CA fails, insecure accepts it', async () => {
    const ids = fill(10);
    const s = ship({ ca: otherTls.cert });
    await waitFor(() => s.counters.get('ship.network_errors') >= 2, 10_000, 'TLS failures');
    expect(s.lastError).to.match(/self[- ]signed|certificate/i);
    await s.stop(100);
    expect(collector.events.size).to.equal(0);
    ship({ ca: undefined, insecure: true });
    await waitFor(() => spool.pending === 0, 10_000, 'the spool to drain');
    expect(storedIds()).to.deep.equal(ids.sort());
  });

  it('spool full while the collector is down: the drop counter equals exactly the missing events', async () => {
    spool.close();
    spool = Spool.open({ dir: tmp.dir + '/small', agentId: AGENT, fsync: 'never', segmentBytes: 4096, maxBytes: 16384 });
    const port = collector.port;
    await collector.stop();
    const s = ship({ batchMaxEvents: 50 });
    const names = new Map<string, boolean>(); // question name → appended
    for (let i = 0; i < 400; i++) {
      const e = mkEvent(i);
      names.set(e.dns!.question.name, spool.append(e) !== null);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    const dropped = spool.counters.get('spool.dropped');
    expect(dropped).to.be.greaterThan(100);
    await collector.start(port);
    await waitFor(() => spool.pending === 0, 20_000, 'the spool to drain');
    await s.stop(1000);
    const got = new Set([...collector.events.values()].map((e) => e.dns!.question.name));
    const missing = [...names.keys()].filter((n) => !got.has(n));
    expect(missing.length).to.equal(dropped);
    expect(missing.every((n) => names.get(n) === false)).to.equal(true);
    expect(collector.events.size).to.equal(400 - dropped);
  });

  it('stop() flushes what is left within its timeout; with the collector down it gives up in time', async () => {
    const ids = fill(250);
    let s = ship({ batchMaxEvents: 100, lingerMs: 10_000 });
    expect(await s.stop(5000)).to.equal(true);
    shipper = undefined;
    expect(storedIds()).to.deep.equal(ids.sort());
    fill(10, 1000);
    await collector.stop();
    s = ship();
    const t0 = Date.now();
    expect(await s.stop(300)).to.equal(false);
    shipper = undefined;
    expect(Date.now() - t0).to.be.below(1500);
    expect(spool.pending).to.equal(10);
  });

  it('stop() during a Retry-After wait keeps the wait, then flushes', async () => {
    const ids = fill(30);
    const times: number[] = [];
    collector.script = () => {
      times.push(Date.now());
      return times.length === 1 ? { status: 503, headers: { 'retry-after': '1' } } : undefined;
    };
    const s = ship();
    await waitFor(() => times.length === 1, 5000, 'the first request');
    expect(await s.stop(3000)).to.equal(true);
    shipper = undefined;
    expect(times.length).to.equal(2);
    expect(times[1]! - times[0]!).to.be.at.least(950);
    expect(storedIds()).to.deep.equal(ids.sort());
  });

  it('Retry-After parsing and full-jitter backoff', () => {
    expect(parseRetryAfter('120')).to.equal(120_000);
    expect(parseRetryAfter(' 0 ')).to.equal(0);
    expect(parseRetryAfter('99999999')).to.equal(600_000);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).to.equal(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).to.equal(0);
    expect(parseRetryAfter('soon')).to.equal(undefined);
    expect(parseRetryAfter(undefined)).to.equal(undefined);
    expect(backoffDelay(0, 250, 60_000, () => 0.5)).to.equal(125);
    expect(backoffDelay(3, 250, 60_000, () => 0.5)).to.equal(1000);
    expect(backoffDelay(20, 250, 60_000, () => 0.999)).to.equal(59_940);
    expect(backoffDelay(5000, 250, 60_000, () => 0)).to.equal(0);
  });
});
