import { expect } from 'chai';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_WAL_AUTOCHECKPOINT_BYTES, SQLITE_PAGE_SIZE_BYTES, SqliteStore } from '../../../collector/store/sqlite.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../collector/store/sqlite-migrations.js';
import { MAX_DEAD_LETTER_LINE_CHARS, MAX_QUERY_LIMIT, type DeadLetter, type StoredEvent, storedEvent } from '../../../collector/store/store.js';
import { UmbraError } from '../../../common/errors.js';
import { AGENT, makeEvent } from '../helpers.js';

const stored = (seq: number, over: Parameters<typeof makeEvent>[1] = {}): StoredEvent => {
  const event = makeEvent(seq, over);
  return storedEvent(event, AGENT, Date.parse(event['@timestamp']));
};

describe('SQLite store', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-sqlite-test-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the file and its directory on first open, migrates from empty, reopens idempotently', async () => {
    const path = join(dir, 'deeper', 'data', 'umbra.sqlite');
    const s = SqliteStore.open(path);
    expect(existsSync(path)).to.equal(true);
    expect(s.migrationsApplied).to.deep.equal(MIGRATIONS.map((m) => m.version));
    expect(s.schemaVersion()).to.equal(SCHEMA_VERSION);
    await s.insertBatch([stored(1), stored(2)], []);
    await s.close();
    // Looked at from outside: WAL, the version, the tables and indexes.
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
    expect(db.pragma('page_size', { simple: true })).to.equal(16384);
    expect(db.pragma('user_version', { simple: true })).to.equal(SCHEMA_VERSION);
    const names = (db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table','index') AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(names).to.deep.equal(['dead_letters', 'dead_letters_received', 'events', 'events_category', 'events_domain', 'events_service', 'events_source_minute', 'events_ts', 'events_user']);
    db.close();
    const again = SqliteStore.open(path);
    expect(again.migrationsApplied).to.deep.equal([]);
    expect(await again.count()).to.equal(2);
    await again.close();
  });

  it('keeps the page size of an existing file (4 KiB before SQLITE_PAGE_SIZE_BYTES) and migrates it as usual', async () => {
    expect(SQLITE_PAGE_SIZE_BYTES).to.not.equal(4096);
    const path = join(dir, 'old.sqlite');
    const old = new Database(path);
    old.pragma('page_size = 4096');
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0]!.sql);
    old.pragma('user_version = 1');
    old.close();
    const s = SqliteStore.open(path);
    expect(s.migrationsApplied).to.deep.equal(MIGRATIONS.slice(1).map((m) => m.version));
    expect(await s.insertBatch([stored(1), stored(2)], [])).to.deep.equal({ accepted: 2, duplicates: 0 });
    await s.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('page_size', { simple: true })).to.equal(4096);
    expect((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n).to.equal(2);
    db.close();
  });

  it('checkpoints by itself once the WAL holds DEFAULT_WAL_AUTOCHECKPOINT_BYTES, whatever the page size', async () => {
    const path = join(dir, 'wal.sqlite');
    const s = SqliteStore.open(path, { synchronous: 'normal' });
    let seq = 0;
    let maxWal = 0;
    // ~4x the threshold in ~100 KB commits; the WAL file is reused from its start after each checkpoint.
    while (seq < 20_000) {
      await s.insertBatch(Array.from({ length: 100 }, () => stored(++seq)), []);
      maxWal = Math.max(maxWal, statSync(`${path}-wal`).size);
    }
    await s.close();
    expect(maxWal).to.be.greaterThan(DEFAULT_WAL_AUTOCHECKPOINT_BYTES * 0.9);
    expect(maxWal).to.be.lessThan(DEFAULT_WAL_AUTOCHECKPOINT_BYTES + 1024 * 1024);
  });

  it('refuses a file whose schema is newer than this code', () => {
    const path = join(dir, 'new.sqlite');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => SqliteStore.open(path)).to.throw(UmbraError, new RegExp(`${path}: database schema version ${SCHEMA_VERSION + 1} is newer`));
  });

  it('refuses a file that is not a database', () => {
    const path = join(dir, 'not.sqlite');
    writeFileSync(path, 'this is not sqlite at all, just text long enough to be read as a header........');
    expect(() => SqliteStore.open(path)).to.throw(UmbraError, /not\.sqlite: file is not a database/);
  });

  it('counts duplicates across and within batches; stores dead letters truncated with their size', async () => {
    const s = SqliteStore.open(join(dir, 'a.sqlite'), { synchronous: 'normal' });
    expect(await s.insertBatch([stored(1), stored(2), stored(1)], [])).to.deep.equal({ accepted: 2, duplicates: 1 });
    expect(await s.insertBatch([stored(2), stored(3)], [])).to.deep.equal({ accepted: 1, duplicates: 1 });
    const long = 'x'.repeat(MAX_DEAD_LETTER_LINE_CHARS + 10);
    const dl: DeadLetter = { receivedAt: '2026-11-25T12:00:00.000Z', agentId: AGENT, reason: 'json_invalid', detail: 'line 1: bad', line: long, lineBytes: long.length };
    expect(await s.insertBatch([], [dl])).to.deep.equal({ accepted: 0, duplicates: 0 });
    expect(await s.count()).to.equal(3);
    expect(await s.countDeadLetters()).to.equal(1);
    const [got] = await s.deadLetters();
    expect(got).to.include({ agentId: AGENT, reason: 'json_invalid', detail: 'line 1: bad', lineBytes: long.length });
    expect(got!.line).to.equal(long.slice(0, MAX_DEAD_LETTER_LINE_CHARS));
    await s.close();
  });

  it('stores a batch in one transaction: a failing row leaves nothing of the batch', async () => {
    const s = SqliteStore.open(join(dir, 'tx.sqlite'));
    const bad = stored(2);
    (bad as { sourceIp: unknown }).sourceIp = null; // NOT NULL constraint fails inside the transaction
    let failed = false;
    await s.insertBatch([stored(1), bad], []).catch(() => { failed = true; });
    expect(failed).to.equal(true);
    expect(await s.count()).to.equal(0);
    await s.close();
    await s.insertBatch([stored(1)], []).then(() => expect.fail('closed store accepted a batch'), (e: Error) => expect(e.message).to.match(/closed/));
  });

  it('queries by time range, service, source address and agent, newest first, limit capped', async () => {
    const s = SqliteStore.open(join(dir, 'q.sqlite'));
    const batch = Array.from({ length: 1500 }, (_, i) => stored(i, { service: i % 2 ? 'anthropic-claude' : 'openai-chatgpt', sourceIp: i % 3 ? '10.0.0.1' : '10.0.0.2' }));
    await s.insertBatch(batch, []);
    const all = await s.query({ limit: 5000 });
    expect(all.length).to.equal(MAX_QUERY_LIMIT);
    expect(all[0]!.event.id).to.equal(`${AGENT}:1499`);
    expect((await s.query({})).length).to.equal(100);
    const since = batch[1000]!.timestampMs;
    const until = batch[1010]!.timestampMs;
    const r = await s.query({ sinceMs: since, untilMs: until, service: 'anthropic-claude', sourceIp: '10.0.0.1' });
    // i in [1000, 1010), odd, not a multiple of 3: 1001, 1003, 1007, 1009.
    expect(r.map((e) => e.event.id)).to.deep.equal([1009, 1007, 1003, 1001].map((i) => `${AGENT}:${i}`));
    expect(await s.query({ agentId: 'someone-else' })).to.deep.equal([]);
    expect(r[0]).to.deep.equal(JSON.parse(batch[1009]!.json));
    await s.close();
  });
});

