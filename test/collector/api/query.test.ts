// The query API over real HTTPS against a real collector on SQLite (its worker
// thread), with the hand-made set of 18 events of query-fixture.ts whose
// expected answers are worked out by hand there (the table), not by the code under test.
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import type { UmbraEvent } from '../../../agent/event.js';
import { startCollector, type RunningCollector } from '../../../collector/ingest/server.js';
import { storedEvent, type StoredEvent } from '../../../collector/store/store.js';
import { ADMIN_TOKEN, AGENT_TOKEN, call, ndjson, OTHER_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../helpers.js';
import { ALL, BATCH_G1, BATCH_G2, CATEGORIES, D, ev, FILTER_CASES, G1, G2, N, SERVICES, short, SOURCES, TIMELINE_1H, TIMELINE_1H_QS } from './query-fixture.js';

describe('query API (HTTPS, SQLite): filters, pages, summaries', function () {
  this.timeout(60_000);
  let t: TempDir;
  let c: RunningCollector;
  let ca: string;

  const get = (path: string, token: string | null = ADMIN_TOKEN) => call(c.url, path, null, { ca, token });
  const ok = async (path: string): Promise<any> => {
    const r = await get(path);
    expect(r.status, `${path}: ${r.body}`).to.equal(200);
    return r.json;
  };
  const ids = async (qs: string): Promise<string[]> => {
    const j = await ok(`/api/v1/events${qs}`);
    expect(j.count).to.equal(j.events.length);
    return j.events.map((e: any) => short(e.event.id));
  };
  const error = async (path: string): Promise<string> => {
    const r = await get(path);
    expect(r.status, `${path}: ${r.body}`).to.equal(400);
    return r.json.error as string;
  };

  before(async () => {
    t = await tempDirWithCert();
    ca = t.cert.certPem;
    c = await startCollector(testConfig(t), { log: () => {} });
    // Stored as the collector's identity enrichment will store them: user.name is the
    // collector's to set (an agent sending it is dead-lettered), so the fixture goes
    // straight into the store, in the order the agents' batches would arrive.
    const stored = (agent: string) => (e: unknown): StoredEvent => storedEvent(e as UmbraEvent, agent, Date.parse((e as UmbraEvent)['@timestamp']));
    expect(await c.store.insertBatch(BATCH_G1.map(stored(G1)), [])).to.deep.equal({ accepted: 14, duplicates: 0 });
    expect(await c.store.insertBatch(BATCH_G2.map(stored(G2)), [])).to.deep.equal({ accepted: 4, duplicates: 0 });
  });
  after(async () => {
    await c.close();
    rmSync(t.dir, { recursive: true, force: true });
  });

  it('events: all newest first (ties: later stored first), stored as sent, with user', async () => {
    expect(await ids('?limit=1000')).to.deep.equal(ALL);
    const j = await ok('/api/v1/events?user=dave');
    expect(j.events).to.deep.equal([BATCH_G2[3]]);
    expect(j.next_cursor).to.equal(null);
  });

  it('events: every filter, alone and combined', async () => {
    for (const [qs, want] of FILTER_CASES) expect(await ids(`?${qs}`), qs).to.deep.equal(want);
  });

  it('events: pages through everything by next_cursor without gaps or repeats, also with a filter and while new events arrive', async () => {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const j: any = await ok(`/api/v1/events?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(j.events.map((e: any) => short(e.event.id)));
      cursor = j.next_cursor;
      expect(pages.length).to.be.below(10);
    } while (cursor !== null);
    expect(pages.map((p) => p.length)).to.deep.equal([4, 4, 4, 4, 2]);
    expect(pages.flat()).to.deep.equal(ALL);

    // A page that ends exactly at the last match says so (no empty page after it).
    const f1 = await ok('/api/v1/events?category=coding-assistant&limit=3');
    const f2 = await ok(`/api/v1/events?category=coding-assistant&limit=3&cursor=${f1.next_cursor}`);
    const f3 = await ok(`/api/v1/events?category=coding-assistant&limit=3&cursor=${f2.next_cursor}`);
    expect([f1, f2, f3].map((j) => j.events.map((e: any) => short(e.event.id)))).to.deep.equal([['1:18', '1:17', '1:16'], ['1:15', '1:14', '1:13'], ['1:12', '2:6', '1:5']]);
    expect(f3.next_cursor).to.equal(null);

    // New events (newer than everything, and as old as the cursor's event) arriving mid-way change nothing in the pages after the cursor.
    const p1 = await ok('/api/v1/events?limit=5'); // 2:9 1:10 2:8 1:18 1:17
    const late = [
      ev(19, G1, '2026-11-27T00:00:00.000Z', '10.0.0.9', null, 'chatgpt', 'tls-client-hello', 'chatgpt.com'),
      ev(20, G1, `${D}14:00:00.000Z`, '10.0.0.9', null, 'copilot', 'tls-client-hello', 'api.githubcopilot.com'),
    ];
    expect((await call(c.url, '/api/v1/events', ndjson(late), { ca, token: AGENT_TOKEN })).json.accepted).to.equal(2);
    try {
      const rest: string[] = [];
      let cur: string | null = p1.next_cursor;
      while (cur !== null) {
        const j: any = await ok(`/api/v1/events?limit=5&cursor=${cur}`);
        rest.push(...j.events.map((e: any) => short(e.event.id)));
        cur = j.next_cursor;
      }
      // 1:20 has 1:17's time but was stored after it: it sorts before the cursor, not after.
      expect(rest).to.deep.equal(ALL.slice(5));
      expect((await ids('?limit=3'))).to.deep.equal(['1:19', '2:9', '1:10']);
    } finally {
      // The later tests count the 18 only: take the two out again (through the store's own file, the collector keeps running).
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(`${t.dir}/umbra.sqlite`);
      db.pragma('busy_timeout = 5000');
      db.prepare("DELETE FROM events WHERE id IN (?, ?)").run(`${G1}:19`, `${G1}:20`);
      db.close();
    }
    expect(await ids('?limit=1000')).to.deep.equal(ALL);
  });

  it('summary/services: top services with name, vendor, category, events, distinct sources, first and last seen', async () => {
    const j = await ok('/api/v1/summary/services');
    expect(j).to.deep.equal({
      limit: 10,
      count: 3,
      services: SERVICES,
    });
    const two = await ok('/api/v1/summary/services?limit=2');
    expect(two.services.map((s: any) => s.id)).to.deep.equal(['github-copilot', 'openai-chatgpt']);
    const g2 = await ok(`/api/v1/summary/services?agent=${G2}`);
    expect(g2.services.map((s: any) => [s.id, s.events, s.sources])).to.deep.equal([['openai-chatgpt', 2, 2], ['github-copilot', 1, 1]]);
    const hour12 = await ok('/api/v1/summary/services?since=2026-11-25T12:00:00Z&until=2026-11-25T13:00:00Z');
    expect(hour12.services.map((s: any) => [s.id, s.events, s.sources, s.first_seen, s.last_seen])).to.deep.equal([
      ['anthropic-claude', 2, 1, `${D}12:04:59.999Z`, `${D}12:05:00.000Z`],
      ['github-copilot', 2, 2, `${D}12:05:00.000Z`, `${D}12:59:59.999Z`],
      ['openai-chatgpt', 1, 1, `${D}12:00:00.000Z`, `${D}12:00:00.000Z`],
    ]);
    expect((await ok('/api/v1/summary/services?user=nobody')).services).to.deep.equal([]);
    expect((await ok('/api/v1/summary/services?limit=100000')).limit).to.equal(100);
  });

  it('summary/sources: top source addresses with their users, events, distinct services', async () => {
    const j = await ok('/api/v1/summary/sources');
    expect(j.count).to.equal(6);
    expect(j.sources).to.deep.equal(SOURCES);
    const chat = await ok('/api/v1/summary/sources?category=chat-assistant&limit=2');
    expect(chat.sources.map((s: any) => [s.source_ip, s.events, s.users])).to.deep.equal([['10.0.0.1', 3, ['alice', 'carol']], ['10.0.0.2', 3, ['bob']]]);
  });

  it('summary/categories: events, distinct services and sources per category', async () => {
    const j = await ok('/api/v1/summary/categories');
    expect(j.categories).to.deep.equal(CATEGORIES);
    expect((await ok('/api/v1/summary/categories?domain_suffix=chatgpt.com')).categories.map((r: any) => [r.category, r.events])).to.deep.equal([['chat-assistant', 4]]);
  });

  it('summary/timeline: UTC buckets, edges exact, empty buckets filled, split by service or category', async () => {
    const h = await ok('/api/v1/summary/timeline?interval=1h&since=2026-11-25T11:00:00Z&until=2026-11-25T15:00:00Z');
    expect(h).to.deep.equal({
      interval: '1h', interval_ms: 3_600_000, split: null, since: `${D}11:00:00.000Z`, until: `${D}15:00:00.000Z`, total: 15,
      buckets: [
        { start: `${D}11:00:00.000Z`, events: 2 }, // 11 (11:00:00.000), 1 (11:59:59.999)
        { start: `${D}12:00:00.000Z`, events: 5 }, // 2, 3, 4, 5, 6 (12:59:59.999)
        { start: `${D}13:00:00.000Z`, events: 1 }, // 7
        { start: `${D}14:00:00.000Z`, events: 7 }, // 12-18
      ],
    });
    expect(await ok(`/api/v1/summary/timeline?${TIMELINE_1H_QS}`)).to.deep.equal(TIMELINE_1H);
    const m = await ok('/api/v1/summary/timeline?interval=5m&since=2026-11-25T11:55:00Z&until=2026-11-25T12:10:00Z');
    expect(m.buckets).to.deep.equal([
      { start: `${D}11:55:00.000Z`, events: 1 }, // 1 at 11:59:59.999
      { start: `${D}12:00:00.000Z`, events: 2 }, // 2 at 12:00:00.000, 3 at 12:04:59.999
      { start: `${D}12:05:00.000Z`, events: 2 }, // 4 and 5 at 12:05:00.000
    ]);
    // until is exclusive: 13:00:00.000 is not in the 12:00 bucket's range; since mid-bucket counts only what is after it.
    expect((await ok('/api/v1/summary/timeline?since=2026-11-25T12:00:00Z&until=2026-11-25T13:00:00Z')).buckets).to.deep.equal([{ start: `${D}12:00:00.000Z`, events: 5 }]);
    expect((await ok('/api/v1/summary/timeline?since=2026-11-25T12:30:00Z&until=2026-11-25T13:30:00Z')).buckets).to.deep.equal([
      { start: `${D}12:00:00.000Z`, events: 1 }, { start: `${D}13:00:00.000Z`, events: 1 },
    ]);
    // Without a range: from the first to the last bucket with events; day buckets start at midnight UTC.
    const d = await ok('/api/v1/summary/timeline?interval=1d&split=category');
    expect(d).to.deep.equal({
      interval: '1d', interval_ms: 86_400_000, split: 'category', since: null, until: null, total: 18,
      buckets: [
        { start: '2026-11-25T00:00:00.000Z', events: 16, by: { 'chat-assistant': 5, 'coding-assistant': 9, '(none)': 2 } },
        { start: '2026-11-26T00:00:00.000Z', events: 2, by: { 'chat-assistant': 2 } },
      ],
    });
    // Empty hours between are there with 0 (and an empty split).
    const g2 = await ok(`/api/v1/summary/timeline?agent=${G2}&split=service`);
    expect(g2.buckets.length).to.equal(13); // 12:00 on the 25th … 00:00 on the 26th
    expect(g2.buckets.map((b: any) => b.events)).to.deep.equal([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(g2.buckets[2]).to.deep.equal({ start: `${D}14:00:00.000Z`, events: 0, by: {} });
    expect(g2.total).to.equal(4);
    expect((await ok('/api/v1/summary/timeline?user=nobody')).buckets).to.deep.equal([]);
    // Exactly MAX_TIMELINE_BUCKETS (1000 × 5 min = 83 h 20 min) is answered; one millisecond more is a 400.
    const max = await ok('/api/v1/summary/timeline?interval=5m&since=2026-11-25T00:00:00Z&until=2026-11-28T11:20:00Z');
    expect(max.buckets.length).to.equal(1000);
    expect(max.total).to.equal(18);
    expect(await error('/api/v1/summary/timeline?interval=5m&since=2026-11-25T00:00:00Z&until=2026-11-28T11:20:00.001Z')).to.match(/^interval: 5m over this range makes 1001 buckets, at most 1000/);
    expect(await error('/api/v1/summary/timeline?interval=5m&since=2026-11-01T00:00:00Z')).to.match(/^interval: 5m over this range makes \d+ buckets/);
  });

  it('400 with a message naming the parameter: unknown, repeated, malformed', async () => {
    expect(await error('/api/v1/events?servcie=openai-chatgpt')).to.match(/^servcie: unknown parameter/);
    expect(await error('/api/v1/summary/services?cursor=abc')).to.match(/^cursor: unknown parameter/);
    expect(await error('/api/v1/summary/services?interval=1h')).to.match(/^interval: unknown parameter/);
    expect(await error('/api/v1/dead-letters?since=2026-11-25')).to.match(/^since: unknown parameter/);
    expect(await error('/api/v1/events?service=a&service=b')).to.match(/^service: given more than once/);
    expect(await error('/api/v1/events?since=yesterday')).to.match(/^since: not a date/);
    expect(await error('/api/v1/events?since=2026-11-25T12:00:00')).to.match(/^since: not a date/); // no zone
    expect(await error('/api/v1/events?until=99999999999999999')).to.match(/^until: not a date/);
    expect(await error('/api/v1/events?since=2026-02-30')).to.match(/^since: not a date/); // V8 would read March 2
    expect(await error('/api/v1/events?since=2026-13-01T00:00:00Z')).to.match(/^since: not a date/);
    expect(await error('/api/v1/events?since=2026-11-25T24:00:00Z')).to.match(/^since: not a date/);
    expect((await get('/api/v1/events?since=2028-02-29T00:00:00Z')).status).to.equal(200); // a leap day
    expect(await error('/api/v1/events?source_ip=fe80::1%25eth0')).to.match(/^source_ip: /);
    expect(await error('/api/v1/events?since=2026-11-25T12:00:00Z&until=2026-11-25T12:00:00Z')).to.match(/^until: must be after since/);
    for (const l of ['0', '-1', 'abc', '1.5', '']) expect(await error(`/api/v1/events?limit=${l}`)).to.match(/^limit: a positive integer/);
    expect(await error('/api/v1/summary/sources?limit=0')).to.match(/^limit: /);
    expect(await error('/api/v1/dead-letters?limit=x')).to.match(/^limit: /);
    expect(await error('/api/v1/events?source_ip=10.0.0')).to.match(/^source_ip: not an IPv4 or IPv6 address/);
    expect(await error('/api/v1/events?action=tls')).to.match(/^action: one of dns-query, /);
    expect(await error('/api/v1/events?domain_suffix=*.com')).to.match(/^domain_suffix: a DNS name/);
    expect(await error('/api/v1/events?domain_suffix=.com')).to.match(/^domain_suffix: /);
    expect(await error(`/api/v1/events?domain=${'a'.repeat(256)}`)).to.match(/^domain: 1 to 255 characters/);
    expect(await error('/api/v1/events?service=')).to.match(/^service: 1 to 256 characters/);
    expect(await error(`/api/v1/events?user=${'u'.repeat(257)}`)).to.match(/^user: /);
    expect(await error('/api/v1/events?cursor=not*base64')).to.match(/^cursor: not a cursor this API gave/);
    expect(await error(`/api/v1/events?cursor=${Buffer.from('yesterday').toString('base64url')}`)).to.match(/^cursor: /);
    // Well formed but not SQLite's (an Elasticsearch cursor's key is an event id): refused by the store, through its worker thread.
    expect(await error(`/api/v1/events?cursor=${Buffer.from(`1795608000000:${G1}:5`).toString('base64url')}`)).to.match(/^cursor: not a cursor of this store/);
    expect(await error('/api/v1/summary/timeline?interval=15m')).to.match(/^interval: one of 5m, 1h, 1d/);
    expect(await error('/api/v1/summary/timeline?split=agent')).to.match(/^split: service or category/);
  });

  it('401 without the admin token on every route; 405 for other methods; the dead letters route answers', async () => {
    for (const path of ['/api/v1/events', '/api/v1/dead-letters', '/api/v1/summary/services', '/api/v1/summary/sources', '/api/v1/summary/categories', '/api/v1/summary/timeline']) {
      for (const token of [null, AGENT_TOKEN, 'wrong']) {
        const r = await get(path, token);
        expect(r.status, `${path} ${token}`).to.equal(401);
        expect(r.headers['www-authenticate']).to.equal('Bearer');
      }
    }
    expect((await call(c.url, '/api/v1/summary/services', null, { ca, token: ADMIN_TOKEN, method: 'DELETE' })).status).to.equal(405);
    expect((await get('/api/v1/summary/nothing')).status).to.equal(404);
    expect(await ok('/api/v1/dead-letters?limit=5')).to.deep.equal({ count: 0, dead_letters: [] });
  });
  it('at most MAX_CONCURRENT_QUERIES queries at once: the next one gets 429 with Retry-After', async () => {
    const { MAX_CONCURRENT_QUERIES } = await import('../../../collector/ingest/server.js');
    // Hold the store's reader: every summary waits on this gate.
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const real = c.store.summarize.bind(c.store);
    c.store.summarize = (async (q: Parameters<typeof real>[0]) => { await gate; return real(q); }) as typeof real;
    try {
      const held = Array.from({ length: MAX_CONCURRENT_QUERIES }, () => get('/api/v1/summary/services'));
      await new Promise((r) => setTimeout(r, 200));
      const over = await get('/api/v1/summary/services');
      expect(over.status).to.equal(429);
      expect(over.headers['retry-after']).to.equal('1');
      open();
      for (const r of await Promise.all(held)) expect(r.status).to.equal(200);
      expect((await get('/api/v1/summary/services')).status).to.equal(200);
    } finally {
      c.store.summarize = real;
      open();
    }
  });
});
