// The collector's HTTPS ingest through the real server on a loopback port and a
// real SQLite file in a temp dir.
import { expect } from 'chai';
import { constants as zlib, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { gunzipChunkBytes, startCollector, TLS_HANDSHAKE_TIMEOUT_MS, type RunningCollector } from '../../../collector/ingest/server.js';
import { SqliteStore } from '../../../collector/store/sqlite.js';
import type { DeadLetter, EventStore, InsertResult, StoredEvent, SummaryQuery } from '../../../collector/store/store.js';
import { ADMIN_TOKEN, AGENT, AGENT_TOKEN, call, makeEvent, ndjson, OTHER_AGENT, OTHER_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../helpers.js';

describe('collector ingest (HTTPS, SQLite)', function () {
  this.timeout(60_000);
  let t: TempDir;
  let c: RunningCollector;
  let ca: string;
  const post = (body: Buffer | string | null, opts: Parameters<typeof call>[3] = {}) => call(c.url, '/api/v1/events', body, { ca, ...opts });

  before(async () => {
    t = await tempDirWithCert();
    ca = t.cert.certPem;
  });
  beforeEach(async () => {
    c = await startCollector(testConfig(t, { limits: { max_line_bytes: 2 * 1024 * 1024, max_batch_events: 5000, max_body_bytes: 4 * 1024 * 1024, max_decoded_bytes: 32 * 1024 * 1024 } }), { log: () => {} });
  });
  afterEach(async () => {
    await c.close();
    // A fresh database per test.
    const { rmSync } = await import('node:fs');
    rmSync(`${t.dir}/umbra.sqlite`, { force: true });
    rmSync(`${t.dir}/umbra.sqlite-wal`, { force: true });
    rmSync(`${t.dir}/umbra.sqlite-shm`, { force: true });
  });
  after(() => t.remove());

  it('answers health without a token', async () => {
    const r = await call(c.url, '/api/v1/health', null, { ca, token: null });
    expect(r.status).to.equal(200);
    expect(r.json).to.deep.equal({ status: 'ok' });
  });

  it('stores a good gzip batch and acks with the counts; a replay is all duplicates', async () => {
    const events = Array.from({ length: 1000 }, (_, i) => makeEvent(i));
    const body = ndjson(events);
    const r = await post(body);
    expect(r.status, r.body).to.equal(200);
    expect(r.json).to.deep.equal({ accepted: 1000, duplicates: 0, dead_lettered: 0 });
    expect(await c.store.count()).to.equal(1000);
    const again = await post(body);
    expect(again.status).to.equal(200);
    expect(again.json).to.deep.equal({ accepted: 0, duplicates: 1000, dead_lettered: 0 });
    expect(await c.store.count()).to.equal(1000);
    // What was stored is what was sent.
    const q = await call(c.url, '/api/v1/events?limit=1000', null, { ca, token: ADMIN_TOKEN });
    expect(q.status).to.equal(200);
    expect(q.json.count).to.equal(1000);
    const byId = new Map(q.json.events.map((e: any) => [e.event.id, e]));
    for (const e of events) expect(byId.get(e.event.id)).to.deep.equal(e);
  });

  it('accepts identity encoding and CRLF line ends; a batch half replayed counts both', async () => {
    const r1 = await post(ndjson([makeEvent(1), makeEvent(2)]).replace(/\n/g, '\r\n'), { gzip: false });
    expect(r1.json).to.deep.equal({ accepted: 2, duplicates: 0, dead_lettered: 0 });
    const r2 = await post(ndjson([makeEvent(2), makeEvent(3)]), { gzip: false, headers: { 'Content-Encoding': 'identity' } });
    expect(r2.json).to.deep.equal({ accepted: 1, duplicates: 1, dead_lettered: 0 });
    expect(await c.store.count()).to.equal(3);
  });

  it('stores each line byte for byte, beyond ASCII too (identity and gzip); a body that is not UTF-8 is stored as decoded, U+FFFD for the bad byte', async () => {
    const Database = (await import('better-sqlite3')).default;
    const wide = (seq: number, name: string) => {
      const e = makeEvent(seq);
      (e.observer as { hostname?: string }).hostname = name;
      return e;
    };
    // Several KiB each, so the bodies are buffers of their own (the store may take their memory over).
    const names = ['passerelle-école', 'шлюз-东京-😀', 'gw\u00e9'];
    const batch = (from: number) => Array.from({ length: 30 }, (_, i) => wide(from + i, names[i % names.length]!));
    const identity = ndjson(batch(0));
    const gzipped = ndjson(batch(100));
    expect((await post(identity, { gzip: false })).json).to.deep.equal({ accepted: 30, duplicates: 0, dead_lettered: 0 });
    expect((await post(gzipped)).json).to.deep.equal({ accepted: 30, duplicates: 0, dead_lettered: 0 });
    // One byte that is not UTF-8 inside a JSON string: the line decodes with U+FFFD there.
    const bad = Buffer.from(JSON.stringify(wide(200, 'gw-X')));
    bad[bad.indexOf('gw-X') + 3] = 0xff;
    expect((await post(Buffer.concat([bad, Buffer.from('\n'), Buffer.from(ndjson([wide(201, 'ok')]))]), { gzip: false })).json).to.deep.equal({ accepted: 2, duplicates: 0, dead_lettered: 0 });
    // Read from the file by another connection (the collector's commits are acknowledged, so visible).
    const db = new Database(`${t.dir}/umbra.sqlite`, { readonly: true });
    const docOf = (id: string) => db.prepare('SELECT doc, typeof(doc) AS type FROM events WHERE id = ?').get(id) as { doc: string; type: string };
    for (const text of [identity, gzipped]) {
      for (const line of text.split('\n').filter(Boolean)) {
        const r = docOf(JSON.parse(line).event.id);
        expect(r.type).to.equal('text');
        expect(r.doc).to.equal(line);
      }
    }
    const replaced = docOf(wide(200, '').event.id!);
    expect(replaced.type).to.equal('text');
    expect(replaced.doc).to.equal(bad.toString('utf8'));
    expect(JSON.parse(replaced.doc).observer.hostname).to.equal('gw-\ufffd');
    db.close();
  });

  it('gzip bodies of several members (the trailer announces only the last one\'s size) and of zero bytes decode whole', async () => {
    // RFC 1952: a gzip file is a series of members; the ISIZE of the last tells nothing of the others.
    const first = ndjson(Array.from({ length: 400 }, (_, i) => makeEvent(i)));
    const last = ndjson([makeEvent(400)]);
    const twoMembers = Buffer.concat([gzipSync(Buffer.from(first)), gzipSync(Buffer.from(last))]);
    expect(twoMembers.readUInt32LE(twoMembers.length - 4)).to.equal(Buffer.byteLength(last));
    const r = await post(twoMembers, { headers: { 'Content-Encoding': 'gzip' } });
    expect(r.json).to.deep.equal({ accepted: 401, duplicates: 0, dead_lettered: 0 });
    expect(await c.store.count()).to.equal(401);
    const empty = await post(gzipSync(Buffer.alloc(0)), { headers: { 'Content-Encoding': 'gzip' } });
    expect(empty.json).to.deep.equal({ accepted: 0, duplicates: 0, dead_lettered: 0 });
  });

  it('refuses a wrong, missing or admin token with 401 and stores nothing', async () => {
    const body = ndjson([makeEvent(1)]);
    for (const token of ['wrong-token', null, ADMIN_TOKEN, AGENT_TOKEN + 'x', '']) {
      const r = await post(body, { token });
      expect(r.status, String(token)).to.equal(401);
      expect(r.headers['www-authenticate']).to.equal('Bearer');
    }
    const basic = await post(body, { token: null, headers: { Authorization: `Basic ${Buffer.from(`x:${AGENT_TOKEN}`).toString('base64')}` } });
    expect(basic.status).to.equal(401);
    expect(await c.store.count()).to.equal(0);
    expect(await c.store.countDeadLetters()).to.equal(0);
  });

  it('refuses a body over max_body_bytes with 413, declared or streamed, and stores nothing', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x61);
    const declared = await post(big, { gzip: false });
    expect(declared.status).to.equal(413);
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 80; i++) yield Buffer.alloc(64 * 1024, 0x62);
    }
    const streamed = await post(null, { chunks: chunks(), headers: { 'Content-Encoding': 'identity' } });
    expect(streamed.status).to.equal(413);
    expect(await c.store.count()).to.equal(0);
    // The server is still fine.
    expect((await post(ndjson([makeEvent(7)]))).status).to.equal(200);
  });

  it('stops a gzip bomb (1 GB of zeros) with 413 quickly, memory bounded', async () => {
    // ~1 GB of zeros gzipped by streaming (never 1 GB in memory here): ~1 MB.
    const gz = createGzip({ level: 9 });
    const parts: Buffer[] = [];
    gz.on('data', (b: Buffer) => parts.push(b));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 1024; i++) if (!gz.write(zeros)) await new Promise((r) => gz.once('drain', r));
    await new Promise((r) => gz.end(r));
    const bomb = Buffer.concat(parts);
    expect(bomb.length).to.be.below(1.5 * 1024 * 1024);
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    const t0 = Date.now();
    const r = await post(bomb, { headers: { 'Content-Encoding': 'gzip' } });
    const ms = Date.now() - t0;
    clearInterval(timer);
    expect(r.status).to.equal(413);
    expect(r.json.error).to.match(/decompressed body larger than 33554432 bytes/);
    expect(ms).to.be.below(3000);
    // The cap is 32 MiB of output: far from 1 GB.
    expect(peak - rss0).to.be.below(200 * 1024 * 1024);
    expect(await c.store.count()).to.equal(0);
  });

  it('refuses a line over max_line_bytes or a batch over max_batch_events with 413, storing nothing', async () => {
    const longLine = JSON.stringify({ ...makeEvent(1), pad: 'x'.repeat(2 * 1024 * 1024) });
    const r1 = await post(ndjson([makeEvent(0), longLine]));
    expect(r1.status).to.equal(413);
    expect(r1.json.error).to.match(/^line 2 is \d+ bytes, at most 2097152$/);
    const r2 = await post(ndjson(Array.from({ length: 5001 }, (_, i) => makeEvent(i))));
    expect(r2.status).to.equal(413);
    expect(r2.json.error).to.match(/more than 5000 events/);
    expect(await c.store.count()).to.equal(0);
    expect(await c.store.countDeadLetters()).to.equal(0);
  });

  it('dead-letters invalid JSON, absurd field sizes, missing fields and foreign observers; stores the valid lines', async () => {
    const oneMegDomain = makeEvent(3);
    oneMegDomain.destination.domain = 'a'.repeat(1024 * 1024);
    const longDomain = makeEvent(4, { domain: 'b'.repeat(300) + '.example' });
    const noSource: any = makeEvent(5);
    delete noSource.source;
    const badPort: any = makeEvent(6);
    badPort.destination.port = 70000;
    const foreign = makeEvent(7, { agent: OTHER_AGENT });
    const wrongId: any = makeEvent(8);
    wrongId.event.id = `${OTHER_AGENT}:8`;
    const badIp: any = makeEvent(9);
    badIp.source.ip = '10.0.0.999';
    const lines = [
      makeEvent(0),
      '{"@timestamp": "2026-11-25T12:00:00Z", truncated',
      makeEvent(1),
      '[1,2,3]',
      oneMegDomain,
      longDomain,
      noSource,
      badPort,
      foreign,
      wrongId,
      badIp,
      makeEvent(2),
    ];
    const r = await post(ndjson(lines));
    expect(r.status, r.body).to.equal(200);
    expect(r.json).to.deep.equal({ accepted: 3, duplicates: 0, dead_lettered: 9 });
    expect(await c.store.count()).to.equal(3);
    const dl = (await c.store.deadLetters(100)).reverse();
    expect(dl.map((d) => d.reason)).to.deep.equal([
      'json_invalid', 'not_an_object', 'field_too_large', 'field_too_large', 'field_missing', 'field_invalid', 'observer_mismatch', 'event_id_mismatch', 'field_invalid',
    ]);
    expect(dl.map((d) => d.detail.split(':')[0])).to.deep.equal(['line 2', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'line 10', 'line 11']);
    expect(dl[2]!.detail).to.equal('line 5: /destination/domain: 1048576 characters, at most 4096');
    expect(dl[3]!.detail).to.equal('line 6: /destination/domain: 308 characters, at most 255');
    expect(dl[4]!.detail).to.equal('line 7: /source: required');
    expect(dl[5]!.detail).to.equal('line 8: /destination/port: must be an integer 0-65535');
    expect(dl[6]!.detail).to.equal(`line 9: /observer/id: '${OTHER_AGENT}' sent with the token of agent '${AGENT}'`);
    expect(dl[8]!.detail).to.equal('line 11: /source/ip: not an IPv4 or IPv6 address');
    // The raw line is kept, truncated, with its real size.
    expect(dl[2]!.line.length).to.equal(4096);
    expect(dl[2]!.lineBytes).to.equal(JSON.stringify(oneMegDomain).length);
    expect(dl[0]!.line).to.equal(lines[1]);
    expect(dl.every((d) => d.agentId === AGENT)).to.equal(true);
    const ids = (await c.store.query({ limit: 10 })).map((e) => e.event.id).sort();
    expect(ids).to.deep.equal([`${AGENT}:0`, `${AGENT}:1`, `${AGENT}:2`]);
  });

  it('takes the other agent with its own token (from an environment variable)', async () => {
    const r = await post(ndjson([makeEvent(1, { agent: OTHER_AGENT })]), { token: OTHER_TOKEN });
    expect(r.json).to.deep.equal({ accepted: 1, duplicates: 0, dead_lettered: 0 });
    // Same sequence number, different agent: a different event.
    const r2 = await post(ndjson([makeEvent(1)]));
    expect(r2.json).to.deep.equal({ accepted: 1, duplicates: 0, dead_lettered: 0 });
  });

  it('refuses an unknown encoding or content type with 415, a corrupt gzip body with 400', async () => {
    const body = ndjson([makeEvent(1)]);
    const br = await post(body, { gzip: false, headers: { 'Content-Encoding': 'br' } });
    expect(br.status).to.equal(415);
    const ct = await post(body, { headers: { 'Content-Type': 'text/plain' } });
    expect(ct.status).to.equal(415);
    const gz = gzipSync(body);
    gz[gz.length - 12] ^= 0xff; // damage the deflate stream near its end
    const bad = await post(gz, { headers: { 'Content-Encoding': 'gzip' } });
    expect(bad.status).to.equal(400);
    expect(await c.store.count()).to.equal(0);
  });

  it('routes: 404 for unknown paths, 405 for wrong methods', async () => {
    expect((await call(c.url, '/nope', null, { ca })).status).to.equal(404);
    expect((await call(c.url, '/api/v1/events', null, { ca, method: 'DELETE' })).status).to.equal(405);
  });

  it('a connection that never starts its TLS handshake is closed after TLS_HANDSHAKE_TIMEOUT_MS (not Node\'s 120 s)', async function () {
    this.timeout(TLS_HANDSHAKE_TIMEOUT_MS + 15_000);
    const { connect } = await import('node:net');
    const port = Number(new URL(c.url).port);
    const sock = connect(port, '127.0.0.1');
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      sock.on('close', () => resolve(Date.now() - t0));
      sock.on('error', () => {});
    });
    expect(closedAfter).to.be.at.least(TLS_HANDSHAKE_TIMEOUT_MS - 1000);
  });

  it('a request target that is not a path (absolute form, malformed) is a 400, not an internal error', async () => {
    const { connect } = await import('node:tls');
    const port = Number(new URL(c.url).port);
    for (const target of ['http://[/x', 'http://a:99999/', 'http://%zz/', '//evil/api/v1/events']) {
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca }, () => s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        let text = '';
        s.on('data', (b: Buffer) => { text += b.toString(); });
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
      expect(answer.split('\r\n')[0], target).to.equal('HTTP/1.1 400 Bad Request');
      expect(answer).to.match(/\r\nx-content-type-options: nosniff\r\n/i);
    }
  });

  it('user, host and umbra.policy are the collector\'s to set: an agent sending them is dead-lettered (field_not_allowed)', async () => {
    const withUser = { ...makeEvent(41), user: { name: 'ceo@corp.example' } };
    const withHost = { ...makeEvent(42), host: { hostname: 'someone-else' } };
    const withPolicy = makeEvent(43) as any;
    withPolicy.umbra = { ...withPolicy.umbra, policy: { verdict: 'allow' } };
    const r = await post(ndjson([withUser, withHost, withPolicy, makeEvent(44)]));
    expect(r.json).to.deep.equal({ accepted: 1, duplicates: 0, dead_lettered: 3 });
    const dl = (await c.store.deadLetters(3)).reverse();
    expect(dl.map((d) => [d.reason, d.detail])).to.deep.equal([
      ['field_not_allowed', 'line 1: /user: set by the collector from identity sources, not by agents'],
      ['field_not_allowed', 'line 2: /host: set by the collector from identity sources, not by agents'],
      ['field_not_allowed', 'line 3: /umbra/policy: set by the collector (policy), not by agents'],
    ]);
  });

  it('query API: admin token required; filters by service, source address, time; limit', async () => {
    const events = [
      makeEvent(1, { service: 'openai-chatgpt', sourceIp: '10.1.1.1', ts: '2026-11-25T10:00:00.000001Z' }),
      makeEvent(2, { service: 'anthropic-claude', sourceIp: '10.1.1.2', ts: '2026-11-25T11:00:00.000001Z' }),
      makeEvent(3, { service: 'anthropic-claude', sourceIp: '10.1.1.1', ts: '2026-11-25T12:00:00.000001Z' }),
      makeEvent(4, { service: 'openai-chatgpt', sourceIp: '2001:db8::1', ts: '2026-11-25T13:00:00.000001+01:00' }),
    ];
    expect((await post(ndjson(events))).status).to.equal(200);
    const q = async (qs: string): Promise<string[]> => {
      const r = await call(c.url, `/api/v1/events${qs}`, null, { ca, token: ADMIN_TOKEN });
      expect(r.status, r.body).to.equal(200);
      return r.json.events.map((e: any) => e.event.id.split(':')[1]);
    };
    expect((await call(c.url, '/api/v1/events', null, { ca, token: AGENT_TOKEN })).status).to.equal(401);
    expect((await call(c.url, '/api/v1/events', null, { ca, token: null })).status).to.equal(401);
    expect(await q('')).to.deep.equal(['4', '3', '2', '1']); // newest first; 13:00+01:00 is 12:00Z like 3, stored after it
    expect(await q('?service=anthropic-claude')).to.deep.equal(['3', '2']);
    expect(await q('?source_ip=10.1.1.1')).to.deep.equal(['3', '1']);
    expect(await q('?source_ip=2001:db8::1')).to.deep.equal(['4']);
    expect(await q('?since=2026-11-25T11:00:00Z')).to.deep.equal(['4', '3', '2']);
    expect(await q('?since=2026-11-25T11:00:00Z&until=2026-11-25T12:00:00Z')).to.deep.equal(['2']);
    expect(await q('?limit=2')).to.deep.equal(['4', '3']);
    expect((await call(c.url, '/api/v1/events?since=yesterday', null, { ca, token: ADMIN_TOKEN })).status).to.equal(400);
    expect((await call(c.url, '/api/v1/events?limit=-1', null, { ca, token: ADMIN_TOKEN })).status).to.equal(400);
  });
});

/** The real SQLite store, with a switch to fail and a gate to hold batches. */
class ControlledStore implements EventStore {
  failing = false;
  gate: Promise<void> | null = null;
  entered = 0;
  constructor(readonly inner: SqliteStore) {}
  async insertBatch(events: readonly StoredEvent[], dead: readonly DeadLetter[]): Promise<InsertResult> {
    this.entered++;
    if (this.gate) await this.gate;
    if (this.failing) throw new Error('disk I/O error (test)');
    return this.inner.insertBatch(events, dead);
  }
  count() { return this.inner.count(); }
  query(q: Parameters<EventStore['query']>[0]) { return this.inner.query(q); }
  page(q: Parameters<EventStore['page']>[0]) { return this.inner.page(q); }
  summarize<Q extends SummaryQuery>(q: Q) { return this.inner.summarize(q); }
  countDeadLetters() { return this.inner.countDeadLetters(); }
  deadLetters(n?: number) { return this.inner.deadLetters(n); }
  close() { return this.inner.close(); }
}

describe('collector ingest under store failure, load and shutdown', function () {
  this.timeout(30_000);
  let t: TempDir;
  let store: ControlledStore;
  before(async () => { t = await tempDirWithCert(); });
  beforeEach(() => { store = new ControlledStore(SqliteStore.open(`${t.dir}/s-${Date.now()}-${Math.random()}.sqlite`)); });
  afterEach(async () => { await store.close(); });
  after(() => t.remove());

  const waitFor = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cond()).to.equal(true);
  };

  it('answers 503 with Retry-After when the store fails, acknowledges nothing, and recovers', async () => {
    const c = await startCollector(testConfig(t), { store, log: () => {} });
    try {
      store.failing = true;
      const body = ndjson([makeEvent(1), makeEvent(2)]);
      const r = await call(c.url, '/api/v1/events', body, { ca: t.cert.certPem });
      expect(r.status).to.equal(503);
      expect(r.headers['retry-after']).to.equal('5');
      expect(r.json).to.not.have.property('accepted');
      expect(await store.count()).to.equal(0);
      store.failing = false;
      const ok = await call(c.url, '/api/v1/events', body, { ca: t.cert.certPem });
      expect(ok.json).to.deep.equal({ accepted: 2, duplicates: 0, dead_lettered: 0 });
    } finally {
      await c.close();
    }
  });

  it('answers 429 with Retry-After past max_inflight_batches', async () => {
    const c = await startCollector(testConfig(t, { limits: { max_inflight_batches: 1 } }), { store, log: () => {} });
    try {
      let open!: () => void;
      store.gate = new Promise((r) => { open = r; });
      const first = call(c.url, '/api/v1/events', ndjson([makeEvent(1)]), { ca: t.cert.certPem });
      await waitFor(() => store.entered === 1);
      const second = await call(c.url, '/api/v1/events', ndjson([makeEvent(2)]), { ca: t.cert.certPem });
      expect(second.status).to.equal(429);
      expect(second.headers['retry-after']).to.equal('1');
      open();
      expect((await first).json).to.deep.equal({ accepted: 1, duplicates: 0, dead_lettered: 0 });
      expect(await store.count()).to.equal(1);
    } finally {
      store.gate = null;
      await c.close();
    }
  });

  it('close() lets an in-flight batch finish and be acknowledged, then refuses connections', async () => {
    const c = await startCollector(testConfig(t), { store, log: () => {} });
    let open!: () => void;
    store.gate = new Promise((r) => { open = r; });
    const inflight = call(c.url, '/api/v1/events', ndjson([makeEvent(1), makeEvent(2)]), { ca: t.cert.certPem });
    await waitFor(() => store.entered === 1);
    let closed = false;
    const closing = c.close().then(() => { closed = true; });
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).to.equal(false);
    open();
    const r = await inflight;
    expect(r.json).to.deep.equal({ accepted: 2, duplicates: 0, dead_lettered: 0 });
    expect(r.headers.connection).to.equal('close');
    await closing;
    expect(await store.count()).to.equal(2);
    let refused = false;
    await call(c.url, '/api/v1/health', null, { ca: t.cert.certPem }).catch(() => { refused = true; });
    expect(refused).to.equal(true);
  });
});

describe('gunzipChunkBytes (the output chunk a gzip body is inflated in)', () => {
  const MAX = 64 * 1024 * 1024;
  it('a body of one member: the size its trailer announces, so it inflates into one buffer of its own', () => {
    const text = Buffer.from(ndjson(Array.from({ length: 200 }, (_, i) => makeEvent(i))));
    const raw = gzipSync(text);
    expect(gunzipChunkBytes(raw, MAX)).to.equal(text.length);
    const out = gunzipSync(raw, { chunkSize: gunzipChunkBytes(raw, MAX) });
    expect(out.equals(text)).to.equal(true);
    expect(out.byteOffset === 0 && out.byteLength === out.buffer.byteLength).to.equal(true);
  });

  it('never smaller than zlib\'s default chunk: a last member announcing 0 bytes does not make 64 MiB inflate 64 bytes at a time', () => {
    // A valid two-member body: 64 MiB of zeros (~64 KB compressed), then an empty member (ISIZE 0).
    // In 64-byte chunks gunzipSync made a million slices (~1.7 s, ~130 MB of heap here) against
    // ~0.4 s in zlib's default 16 KiB ones.
    const raw = Buffer.concat([gzipSync(Buffer.alloc(MAX), { level: 9 }), gzipSync(Buffer.alloc(0))]);
    expect(raw.readUInt32LE(raw.length - 4)).to.equal(0);
    expect(gunzipChunkBytes(raw, MAX)).to.equal(zlib.Z_DEFAULT_CHUNK);
    expect(gunzipChunkBytes(Buffer.from([0x1f, 0x8b]), MAX)).to.equal(zlib.Z_DEFAULT_CHUNK); // no trailer at all
  });

  it('a trailer announcing more than deflate can give (1032:1, zlib\'s technical details) is not believed: no 64 MiB buffer for a body of a few bytes', () => {
    const raw = gzipSync(Buffer.from('{"a":1}\n'));
    expect(raw.length).to.be.below(64);
    raw.writeUInt32LE(MAX, raw.length - 4); // forged
    const chunk = gunzipChunkBytes(raw, MAX);
    expect(chunk).to.be.at.most(Math.max(zlib.Z_DEFAULT_CHUNK, raw.length * 1032));
    // and never above max_decoded_bytes
    const big = gzipSync(Buffer.alloc(MAX), { level: 9 });
    expect(gunzipChunkBytes(big, 1024 * 1024)).to.equal(1024 * 1024);
  });
});
