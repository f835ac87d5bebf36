import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_INTERVAL_MS, SqliteWorkerStore } from '../../../collector/store/sqlite-worker.js';
import { SCHEMA_VERSION } from '../../../collector/store/sqlite-migrations.js';
import { storedEvent, type EventBytes, type StoredEvent } from '../../../collector/store/store.js';
import { UmbraError } from '../../../common/errors.js';
import { AGENT, makeEvent } from '../helpers.js';

const stored = (seq: number): StoredEvent => {
  const event = makeEvent(seq);
  return storedEvent(event, AGENT, Date.parse(event['@timestamp']));
};

describe('SQLite store in its worker thread', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-sqlite-worker-test-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('group-commits concurrent batches, each answered with its own counts in order', async () => {
    const s = await SqliteWorkerStore.open(join(dir, 'w.sqlite'));
    const range = (a: number, b: number): StoredEvent[] => Array.from({ length: b - a }, (_, i) => stored(a + i));
    // Sent without waiting: they reach the worker together and overlap.
    const results = await Promise.all([
      s.insertBatch(range(0, 500), []),
      s.insertBatch(range(250, 750), []),
      s.insertBatch(range(0, 1000), [{ receivedAt: '2026-11-25T12:00:00Z', agentId: AGENT, reason: 'json_invalid', detail: 'line 1: x', line: 'x', lineBytes: 1 }]),
      s.insertBatch(range(0, 10), []),
    ]);
    expect(results).to.deep.equal([
      { accepted: 500, duplicates: 0 },
      { accepted: 250, duplicates: 250 },
      { accepted: 250, duplicates: 750 },
      { accepted: 0, duplicates: 10 },
    ]);
    expect(await s.count()).to.equal(1000);
    expect(await s.countDeadLetters()).to.equal(1);
    expect((await s.query({ limit: 1 }))[0]).to.deep.equal(JSON.parse(stored(999).json));
    expect((await s.deadLetters())[0]).to.include({ reason: 'json_invalid', agentId: AGENT });
    await s.close();
    // Committed on disk, as seen by another connection.
    const db = new Database(join(dir, 'w.sqlite'), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n).to.equal(1000);
    db.close();
  });

  it('takes the documents as received bytes: a body that is a buffer of its own moves to the writer, a view into a shared one is copied', async () => {
    const s = await SqliteWorkerStore.open(join(dir, 'bytes.sqlite'));
    const batchOf = (events: StoredEvent[], body: Buffer): EventBytes => {
      const starts: number[] = [];
      const ends: number[] = [];
      let at = 0;
      for (const e of events) {
        starts.push(at);
        ends.push(at + Buffer.byteLength(e.json));
        at += Buffer.byteLength(e.json) + 1;
      }
      expect(at).to.equal(body.length);
      return { body, starts: Uint32Array.from(starts), ends: Uint32Array.from(ends) };
    };
    // A buffer of its own (as a decompressed body is): moved, left empty here.
    const big = Array.from({ length: 50 }, (_, i) => stored(i));
    const own = Buffer.from(big.map((e) => e.json + '\n').join(''));
    const ownCopy = Buffer.from(own);
    expect(own.byteOffset === 0 && own.byteLength === own.buffer.byteLength).to.equal(true);
    expect(await s.insertBatch(big, [], batchOf(big, own))).to.deep.equal({ accepted: 50, duplicates: 0 });
    expect(own.length).to.equal(0);
    // A view into Node's shared pool (a small Buffer): copied, the pool stays usable.
    const one = [stored(1000)];
    const pooled = Buffer.from(one[0]!.json + '\n');
    expect(pooled.byteLength).to.be.below(pooled.buffer.byteLength);
    expect(await s.insertBatch(one, [], batchOf(one, pooled))).to.deep.equal({ accepted: 1, duplicates: 0 });
    expect(pooled.toString()).to.equal(one[0]!.json + '\n');
    expect(Buffer.from('pool still works').toString()).to.equal('pool still works');
    // Bytes that do not match the batch are refused before anything is sent.
    const refused = await s.insertBatch(one, [], { body: pooled, starts: new Uint32Array(2), ends: new Uint32Array(2) }).then(() => null, (e: Error) => e);
    expect(refused?.message).to.equal('bytes of 2 events for a batch of 1');
    await s.close();
    const db = new Database(join(dir, 'bytes.sqlite'), { readonly: true });
    const docs = db.prepare('SELECT doc, typeof(doc) AS type FROM events ORDER BY rowid').all() as { doc: string; type: string }[];
    db.close();
    expect(docs.map((d) => d.type)).to.deep.equal(Array(51).fill('text'));
    expect(docs.map((d) => d.doc + '\n').join('')).to.equal(ownCopy.toString() + one[0]!.json + '\n');
  });

  it('checkpoints from its own thread: the database file fills while the store is open', async () => {
    const path = join(dir, 'ck.sqlite');
    const s = await SqliteWorkerStore.open(path);
    await s.insertBatch(Array.from({ length: 2000 }, (_, i) => stored(i)), []);
    // The commit went to the WAL (~2 MB); the writer leaves checkpoints to the other thread.
    expect(statSync(path + '-wal').size).to.be.above(1024 * 1024);
    const deadline = Date.now() + CHECKPOINT_INTERVAL_MS * 5;
    while (statSync(path).size < 1024 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(statSync(path).size).to.be.above(1024 * 1024);
    expect(await s.count()).to.equal(2000);
    await s.close();
  });

  it('a failing batch in a group fails alone; the others are stored', async () => {
    const s = await SqliteWorkerStore.open(join(dir, 'f.sqlite'));
    const bad = stored(5);
    (bad as { sourceIp: unknown }).sourceIp = null; // NOT NULL fails inside the transaction
    const [a, b, c] = await Promise.allSettled([s.insertBatch([stored(1)], []), s.insertBatch([stored(4), bad], []), s.insertBatch([stored(2)], [])]);
    expect(a).to.deep.equal({ status: 'fulfilled', value: { accepted: 1, duplicates: 0 } });
    expect(b.status).to.equal('rejected');
    expect((b as PromiseRejectedResult).reason.message).to.match(/NOT NULL constraint failed: events.source_ip/);
    expect(c).to.deep.equal({ status: 'fulfilled', value: { accepted: 1, duplicates: 0 } });
    expect(await s.count()).to.equal(2);
    await s.close();
  });

  it('reports a database it cannot open as UMBRA_E_STORE naming the file', async () => {
    const path = join(dir, 'newer.sqlite');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const err = await SqliteWorkerStore.open(path).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(UmbraError);
    expect((err as UmbraError).code).to.equal('UMBRA_E_STORE');
    expect((err as Error).message).to.equal(`${path}: database schema version ${SCHEMA_VERSION + 1} is newer than this Umbra knows (${SCHEMA_VERSION}); upgrade Umbra`);
  });

  it('after close, calls reject instead of hanging', async () => {
    const s = await SqliteWorkerStore.open(join(dir, 'c.sqlite'));
    await s.close();
    const err = await s.insertBatch([stored(1)], []).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect(err!.message).to.match(/SQLite writer exited/);
    const readErr = await s.count().then(() => null, (e: Error) => e);
    expect(readErr!.message).to.match(/SQLite reader exited/);
  });

  it('queries run beside the commits: an insert sent while a long summary runs is answered first', async () => {
    const s = await SqliteWorkerStore.open(join(dir, 'r.sqlite'));
    try {
      for (let b = 0; b < 20; b++) await s.insertBatch(Array.from({ length: 5000 }, (_, i) => stored(b * 5000 + i)), []);
      const order: string[] = [];
      const read = s.summarize({ kind: 'sources', filter: {}, limit: 100 }).then(() => order.push('summary'));
      await new Promise((r) => setTimeout(r, 5)); // the reader has started on it
      const write = s.insertBatch([stored(200_000)], []).then(() => order.push('insert'));
      await Promise.all([read, write]);
      // One thread for both (before): the insert waited for the summary of 100,000 rows.
      expect(order).to.deep.equal(['insert', 'summary']);
      expect(await s.count()).to.equal(100_001);
    } finally {
      await s.close();
    }
  });
});
