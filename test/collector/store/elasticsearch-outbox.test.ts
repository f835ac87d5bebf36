import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ES_REJECTED_REASON, OutboxStore, type OutboxOptions } from '../../../collector/store/outbox.js';
import { storedEvent, type DeadLetter, type StoredEvent } from '../../../collector/store/store.js';
import { UmbraError } from '../../../common/errors.js';
import { AGENT, makeEvent } from '../helpers.js';
import { FakeElasticsearch } from './es-fake.js';

const stored = (seq: number): StoredEvent => {
  const event = makeEvent(seq);
  return storedEvent(event, AGENT, Date.parse(event['@timestamp']));
};
const seqOf = (id: string): number => Number(id.slice(id.lastIndexOf(':') + 1));
/** Deterministic "random" for the jitter. */
const lcg = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const FAST: Partial<OutboxOptions> = { retryBaseMs: 1, retryMaxMs: 4, idlePollMs: 5, random: lcg(7), log: () => {} };

/** Events waiting in the outbox file, read from outside (rows are chunks of events). */
function pendingRows(path: string): number {
  return outboxIds(path).length;
}
function outboxIds(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT n, ids, docs FROM outbox').all() as { n: number; ids: string; docs: string }[];
    const ids = rows.flatMap((r) => JSON.parse(r.ids) as string[]);
    for (const r of rows) {
      // Each row holds n ids and n documents, the document of each id.
      const docs = r.docs.split('\n').map((d) => (JSON.parse(d) as { event: { id: string } }).event.id);
      expect(docs).to.deep.equal(JSON.parse(r.ids));
      expect(docs.length).to.equal(r.n);
    }
    return ids;
  } finally { db.close(); }
}

async function until(cond: () => boolean, ms = 30_000, show?: () => unknown): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out${show ? `: ${JSON.stringify(show())}` : ""}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('Elasticsearch store: durable outbox in front of Elasticsearch (official client mock)', function () {
  this.timeout(180_000);
  let dir: string;
  const opened: OutboxStore[] = [];
  const open = async (o: OutboxOptions): Promise<OutboxStore> => { const s = await OutboxStore.open(o); opened.push(s); return s; };
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-outbox-test-')); });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close(); // a failed test leaves no drainer running
    rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges from the outbox while Elasticsearch is down, installs and drains once it answers', async () => {
    const fake = new FakeElasticsearch();
    let down = true;
    // Down: the installation fails as when nothing listens.
    const path = join(dir, 'outbox.sqlite');
    const es = fake.events();
    const realInstall = es.install.bind(es);
    es.install = async () => { if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:9200'); return realInstall(); };
    const store = await open({ path, es, ...FAST });
    const pages = new Database(path, { readonly: true });
    expect(pages.pragma('page_size', { simple: true })).to.equal(16384); // a new outbox file, as the SQLite store's
    pages.close();
    const r = await store.insertBatch([stored(1), stored(2), stored(1)], []);
    expect(r).to.deep.equal({ accepted: 2, duplicates: 1 });
    await new Promise((res) => setTimeout(res, 50));
    expect(store.stats().installed).to.equal(false);
    expect(store.stats().pending).to.equal(2);
    expect(fake.docs.size).to.equal(0);
    down = false;
    await store.flush(10_000);
    expect(store.stats()).to.include({ installed: true, pending: 0, indexed: 2 });
    expect([...fake.docs.keys()].sort()).to.deep.equal([`${AGENT}:1`, `${AGENT}:2`]);
    expect(await store.count()).to.equal(2);
    expect((await store.query({})).map((e) => e.event.id)).to.deep.equal([`${AGENT}:2`, `${AGENT}:1`]);
    await store.close();
    expect(pendingRows(path)).to.equal(0);
  });

  it('100,000 events through outbox → Elasticsearch with resets, 503s, 429s, item 429/503/400/409 and a restart mid-drain: indexed + dead-lettered = 100,000, none twice, outbox empty', async () => {
    const N = 100_000;
    const BATCH = 1000;
    const fake = new FakeElasticsearch();
    // Deterministic schedule. Whole requests: resets, 503s, 429s.
    fake.requestFault = (n) => (n % 17 === 3 ? 'reset' : n % 23 === 5 ? 503 : n % 29 === 7 ? 429 : null);
    // Items: every 50th is refused for good (400, mapping error); some answer 429 once, some 503 twice.
    const rejectedSeq = (s: number) => s % 50 === 0;
    fake.itemFault = (id, attempt) => {
      const s = seqOf(id);
      if (rejectedSeq(s)) return 400;
      if (s % 7 === 1 && attempt === 1) return 429;
      if (s % 11 === 2 && attempt <= 2) return 503;
      return null;
    };
    // Some events are already in Elasticsearch (written by another collector before a failover): 409s.
    let preexisting = 0;
    for (let s = 0; s < N; s++) if (s % 13 === 5 && !rejectedSeq(s)) { fake.docs.set(`${AGENT}:${s}`, { pre: true }); preexisting++; }

    const path = join(dir, 'outbox.sqlite');
    let store = await open({ path, es: fake.events(), ...FAST, maxEvents: N });
    let sent = 0;
    let replayed = 0;
    // First part of the stream; batch 10 is replayed (the agent did not get our ack).
    for (let b = 0; b < N / BATCH / 2; b++) {
      const batch = Array.from({ length: BATCH }, (_, i) => stored(b * BATCH + i));
      const r = await store.insertBatch(batch, []);
      sent += r.accepted;
      if (b === 10) { const again = await store.insertBatch(batch, []); replayed += BATCH; expect(again.accepted + again.duplicates).to.equal(BATCH); sent += again.accepted; }
    }
    // Restart mid-drain, as after a crash: close while a bulk request is in flight (its answer is lost).
    await until(() => fake.bulkRequests >= 12, 30_000, () => ({ bulk: fake.bulkRequests, st: store.stats() }));
    let stopAt = fake.bulkRequests + 1;
    while (fake.requestFault(stopAt) !== null) stopAt++; // a request Elasticsearch carries out
    let closing: Promise<void> | null = null;
    let interrupted: string[] = [];
    fake.onBulk = (n) => {
      if (n !== stopAt) return;
      interrupted = fake.lastBulk!.body.filter((_, i) => i % 2 === 0).map((a) => (a as { create: { _id: string } }).create._id);
      closing = store.close();
    };
    await until(() => closing !== null);
    await closing;
    fake.onBulk = null;
    const left = pendingRows(path);
    expect(left).to.be.greaterThan(0);
    // Elasticsearch created documents of the interrupted request, but their rows are still in the outbox: they will be resent (409).
    const createdThen = interrupted.filter((id) => fake.created.get(id) === 1);
    expect(createdThen.length).to.be.greaterThan(0);
    const inOutbox = new Set(outboxIds(path));
    expect(createdThen.filter((id) => inOutbox.has(id))).to.deep.equal(createdThen);
    store = await open({ path, es: fake.events(), ...FAST, maxEvents: N });
    expect(store.stats().pending).to.equal(left);
    for (let b = N / BATCH / 2; b < N / BATCH; b++) {
      const r = await store.insertBatch(Array.from({ length: BATCH }, (_, i) => stored(b * BATCH + i)), []);
      sent += r.accepted;
    }
    // A replay of an early batch after it was drained: accepted by the outbox, 409 at Elasticsearch.
    await store.insertBatch(Array.from({ length: BATCH }, (_, i) => stored(i)), []);
    replayed += BATCH;
    await store.flush(120_000);

    // Dead letters, read from the file: each refused event once, plus again for each replay of it
    // (the replayed batches 10 and 0 hold 20 each: a refusal is recorded each time it happens).
    const db = new Database(path, { readonly: true });
    const dead = db.prepare('SELECT reason, detail, line FROM dead_letters').all() as { reason: string; detail: string; line: string }[];
    db.close();
    const deadIds = dead.map((d) => (JSON.parse(d.line) as { event: { id: string } }).event.id);
    const distinctDead = new Set(deadIds);
    const indexedIds = [...fake.docs.keys()];
    expect(indexedIds.length + distinctDead.size).to.equal(N);
    expect(distinctDead.size).to.equal(N / 50);
    expect(dead.length).to.equal(N / 50 + (2 * BATCH) / 50);
    expect(await store.countDeadLetters()).to.equal(dead.length);
    expect(dead.every((d) => d.reason === ES_REJECTED_REASON && /^400 document_parsing_exception: .*failed to parse field \[source\.ip\]/.test(d.detail))).to.equal(true);
    expect(deadIds.every((id) => rejectedSeq(seqOf(id)))).to.equal(true);
    for (const id of indexedIds) if (distinctDead.has(id)) expect.fail(`${id} both indexed and dead-lettered`);
    for (const id of indexedIds) expect(rejectedSeq(seqOf(id)), id).to.equal(false);
    expect(fake.nonCreateActions).to.equal(0);
    expect([...fake.created.values()].every((n) => n === 1)).to.equal(true);
    expect(fake.created.size + preexisting).to.equal(indexedIds.length);
    expect(pendingRows(path)).to.equal(0);
    expect(await store.count()).to.equal(indexedIds.length);
    const st = store.stats();
    expect(st.failedRequests).to.be.greaterThan(0);
    expect(st.retriedItems).to.be.greaterThan(0);
    expect(st.duplicates).to.be.greaterThan(0);
    expect(replayed).to.equal(2 * BATCH);
    await store.close();
  });

  it('bounded: beyond max events or bytes insertBatch rejects with nothing stored (the ingest answers 503), and accepts again once drained', async () => {
    const fake = new FakeElasticsearch();
    fake.requestFault = () => 503; // Elasticsearch overloaded for now
    const path = join(dir, 'outbox.sqlite');
    const store = await open({ path, es: fake.events(), ...FAST, maxEvents: 10 });
    await store.insertBatch(Array.from({ length: 8 }, (_, i) => stored(i)), []);
    const dl: DeadLetter = { receivedAt: new Date().toISOString(), agentId: AGENT, reason: 'json_invalid', detail: 'x', line: '{', lineBytes: 1 };
    let err: unknown;
    try { await store.insertBatch([stored(100), stored(101), stored(102)], [dl]); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(UmbraError);
    expect((err as UmbraError).code).to.equal('UMBRA_E_STORE');
    expect((err as Error).message).to.match(/outbox full \(8 events, \d+ bytes waiting for Elasticsearch; limits 10 events/);
    expect(pendingRows(path)).to.equal(8);
    expect(await store.countDeadLetters()).to.equal(0);
    fake.requestFault = () => null;
    await store.flush(10_000);
    expect(await store.insertBatch([stored(100), stored(101), stored(102)], [dl])).to.deep.equal({ accepted: 3, duplicates: 0 });
    expect(await store.countDeadLetters()).to.equal(1);
    await store.close();

    const small = await open({ path: join(dir, 'b.sqlite'), es: new FakeElasticsearch().events(), ...FAST, maxBytes: 2000, drain: false });
    await small.insertBatch([stored(1)], []);
    let err2: unknown;
    try { await small.insertBatch([stored(2), stored(3), stored(4)], []); } catch (e) { err2 = e; }
    expect((err2 as Error).message).to.match(/outbox full .*2000 bytes\)/);
    await small.close();
  });

  it('install: false (installed beforehand by an administrator): no install request at all, straight to bulk', async () => {
    const fake = new FakeElasticsearch();
    const store = await open({ path: join(dir, 'n.sqlite'), es: fake.events(), ...FAST, install: false });
    await store.insertBatch([stored(1), stored(2)], []);
    await store.flush(10_000);
    expect(fake.docs.size).to.equal(2);
    expect(fake.calls.map((c) => `${c.method} ${c.path}`).filter((c) => !/_bulk|_refresh/.test(c))).to.deep.equal([]);
  });

  it('a 413 for the whole request halves the bulk size until it fits', async () => {
    const fake = new FakeElasticsearch();
    fake.requestFault = () => (fake.lastBulk!.body.length / 2 > 25 ? 413 : null);
    const store = await open({ path: join(dir, 'o.sqlite'), es: fake.events(), ...FAST, bulkMaxEvents: 100 });
    await store.insertBatch(Array.from({ length: 100 }, (_, i) => stored(i)), []);
    await store.flush(10_000);
    expect(fake.docs.size).to.equal(100);
    expect(fake.lastBulk!.body.length / 2).to.be.at.most(25);
    await store.close();
  });
});
