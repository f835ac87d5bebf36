// The hand-made event set of the query API tests (SQLite over HTTPS in
// query.test.ts; a real Elasticsearch in store/elasticsearch-real.test.ts) and
// the answers worked out by hand from the table below.
import { AGENT, makeEvent, OTHER_AGENT } from '../helpers.js';

export const SVC = {
  chatgpt: { id: 'openai-chatgpt', name: 'ChatGPT', vendor: 'OpenAI', category: 'chat-assistant' },
  claude: { id: 'anthropic-claude', name: 'Claude', vendor: 'Anthropic', category: 'chat-assistant' },
  copilot: { id: 'github-copilot', name: 'GitHub Copilot', vendor: 'GitHub', category: 'coding-assistant' },
} as const;
type Svc = keyof typeof SVC | null;

export function ev(seq: number, agent: string, ts: string, src: string, user: string | null, svc: Svc, action: string, domain: string): unknown {
  const e = makeEvent(seq, { agent, ts, sourceIp: src, domain }) as any;
  e.event.action = action;
  if (svc) e.umbra.service = { ...SVC[svc] };
  else delete e.umbra;
  if (user) e.user = { name: user };
  if (src.includes(':')) e.network.type = 'ipv6';
  return e;
}

export const G1 = AGENT; // gw-test-1
export const G2 = OTHER_AGENT; // gw-test-2
export const D = '2026-11-25T';
export const N = '2026-11-26T';

// #   agent ts (UTC)            source       user   service  category   action            domain
// 1   G1  25 11:59:59.999       10.0.0.1     alice  chatgpt  chat       tls-client-hello  chatgpt.com
// 2   G1  25 12:00:00.000       10.0.0.1     alice  chatgpt  chat       dns-query         chatgpt.com
// 3   G1  25 12:04:59.999       10.0.0.2     bob    claude   chat       tls-client-hello  claude.ai
// 4   G1  25 12:05:00.000       10.0.0.2     -      claude   chat       quic-initial      claude.ai
// 5   G1  25 12:05:00.000       10.0.0.3     -      copilot  coding     tls-client-hello  api.githubcopilot.com
// 10  G1  26 00:00:00.000       10.0.0.2     bob    claude   chat       tls-client-hello  api.anthropic.com
// 11  G1  25 11:00:00.000       10.0.0.3     -      -        -          dns-answer        notchatgpt.com   (12:00+01:00)
// 12-18 G1 25 14:00:00.000      10.0.0.5     -      copilot  coding     tls-client-hello  api.githubcopilot.com
// 6   G2  25 12:59:59.999       10.0.0.1     alice  copilot  coding     http-request      copilot-proxy.githubusercontent.com
// 7   G2  25 13:00:00.000       10.0.0.4     -      -        -          dns-query         example.org
// 8   G2  25 23:59:59.999       10.0.0.1     carol  chatgpt  chat       tls-client-hello  ab.chatgpt.com
// 9   G2  26 00:00:00.000       2001:db8::1  dave   chatgpt  chat       quic-initial      chatgpt.com
// G1's batch is stored first, then G2's: among equal times the later stored comes first (9 before 10, 5 before 4, 18 … 12).
export const BATCH_G1 = [
  ev(1, G1, `${D}11:59:59.999Z`, '10.0.0.1', 'alice', 'chatgpt', 'tls-client-hello', 'chatgpt.com'),
  ev(2, G1, `${D}12:00:00.000Z`, '10.0.0.1', 'alice', 'chatgpt', 'dns-query', 'chatgpt.com'),
  ev(3, G1, `${D}12:04:59.999Z`, '10.0.0.2', 'bob', 'claude', 'tls-client-hello', 'claude.ai'),
  ev(4, G1, `${D}12:05:00.000Z`, '10.0.0.2', null, 'claude', 'quic-initial', 'claude.ai'),
  ev(5, G1, `${D}12:05:00.000Z`, '10.0.0.3', null, 'copilot', 'tls-client-hello', 'api.githubcopilot.com'),
  ev(10, G1, `${N}00:00:00.000Z`, '10.0.0.2', 'bob', 'claude', 'tls-client-hello', 'api.anthropic.com'),
  ev(11, G1, `${D}12:00:00.000+01:00`, '10.0.0.3', null, null, 'dns-answer', 'notchatgpt.com'),
  ...[12, 13, 14, 15, 16, 17, 18].map((s) => ev(s, G1, `${D}14:00:00.000Z`, '10.0.0.5', null, 'copilot', 'tls-client-hello', 'api.githubcopilot.com')),
];
export const BATCH_G2 = [
  ev(6, G2, `${D}12:59:59.999Z`, '10.0.0.1', 'alice', 'copilot', 'http-request', 'copilot-proxy.githubusercontent.com'),
  ev(7, G2, `${D}13:00:00.000Z`, '10.0.0.4', null, null, 'dns-query', 'example.org'),
  ev(8, G2, `${D}23:59:59.999Z`, '10.0.0.1', 'carol', 'chatgpt', 'tls-client-hello', 'ab.chatgpt.com'),
  ev(9, G2, `${N}00:00:00.000Z`, '2001:db8::1', 'dave', 'chatgpt', 'quic-initial', 'chatgpt.com'),
];
/** All 18, newest first, as `<agent>:<seq>` shortened to `1:<seq>` / `2:<seq>`. */
export const ALL = ['2:9', '1:10', '2:8', '1:18', '1:17', '1:16', '1:15', '1:14', '1:13', '1:12', '2:7', '2:6', '1:5', '1:4', '1:3', '1:2', '1:1', '1:11'];

/** `<agent>:<seq>` shortened as in ALL. */
export const short = (id: string): string => `${id.startsWith(G1 + ':') ? 1 : 2}:${id.split(':').pop()}`;

/** GET /api/v1/summary/services (no filter): copilot 5, 6, 12-18; chatgpt 1, 2, 8, 9; claude 3, 4, 10. */
export const SERVICES = [
  { id: 'github-copilot', name: 'GitHub Copilot', vendor: 'GitHub', category: 'coding-assistant', events: 9, sources: 3, first_seen: `${D}12:05:00.000Z`, last_seen: `${D}14:00:00.000Z` },
  { id: 'openai-chatgpt', name: 'ChatGPT', vendor: 'OpenAI', category: 'chat-assistant', events: 4, sources: 2, first_seen: `${D}11:59:59.999Z`, last_seen: `${N}00:00:00.000Z` },
  { id: 'anthropic-claude', name: 'Claude', vendor: 'Anthropic', category: 'chat-assistant', events: 3, sources: 1, first_seen: `${D}12:04:59.999Z`, last_seen: `${N}00:00:00.000Z` },
];

/** GET /api/v1/summary/sources (no filter). */
export const SOURCES = [
  { source_ip: '10.0.0.5', users: [], events: 7, services: 1, first_seen: `${D}14:00:00.000Z`, last_seen: `${D}14:00:00.000Z` },
  { source_ip: '10.0.0.1', users: ['alice', 'carol'], events: 4, services: 2, first_seen: `${D}11:59:59.999Z`, last_seen: `${D}23:59:59.999Z` },
  { source_ip: '10.0.0.2', users: ['bob'], events: 3, services: 1, first_seen: `${D}12:04:59.999Z`, last_seen: `${N}00:00:00.000Z` },
  { source_ip: '10.0.0.3', users: [], events: 2, services: 1, first_seen: `${D}11:00:00.000Z`, last_seen: `${D}12:05:00.000Z` },
  { source_ip: '10.0.0.4', users: [], events: 1, services: 0, first_seen: `${D}13:00:00.000Z`, last_seen: `${D}13:00:00.000Z` },
  { source_ip: '2001:db8::1', users: ['dave'], events: 1, services: 1, first_seen: `${N}00:00:00.000Z`, last_seen: `${N}00:00:00.000Z` },
];

/** GET /api/v1/summary/categories (no filter). */
export const CATEGORIES = [
  { category: 'coding-assistant', events: 9, services: 1, sources: 3, first_seen: `${D}12:05:00.000Z`, last_seen: `${D}14:00:00.000Z` },
  { category: 'chat-assistant', events: 7, services: 2, sources: 3, first_seen: `${D}11:59:59.999Z`, last_seen: `${N}00:00:00.000Z` },
];

/** GET /api/v1/summary/timeline?interval=1h&since=2026-11-25T11:00:00Z&until=2026-11-25T15:00:00Z&split=service */
export const TIMELINE_1H_QS = 'interval=1h&since=2026-11-25T11:00:00Z&until=2026-11-25T15:00:00Z&split=service';
export const TIMELINE_1H = {
  interval: '1h', interval_ms: 3_600_000, split: 'service', since: `${D}11:00:00.000Z`, until: `${D}15:00:00.000Z`, total: 15,
  buckets: [
    { start: `${D}11:00:00.000Z`, events: 2, by: { '(none)': 1, 'openai-chatgpt': 1 } }, // 11 (11:00:00.000), 1 (11:59:59.999)
    { start: `${D}12:00:00.000Z`, events: 5, by: { 'openai-chatgpt': 1, 'anthropic-claude': 2, 'github-copilot': 2 } }, // 2, 3, 4, 5, 6 (12:59:59.999)
    { start: `${D}13:00:00.000Z`, events: 1, by: { '(none)': 1 } }, // 7
    { start: `${D}14:00:00.000Z`, events: 7, by: { 'github-copilot': 7 } }, // 12-18
  ],
};

/** Event filters and the events they match, newest first (worked out from the table). */
export const FILTER_CASES: [string, string[]][] = [
  ['service=anthropic-claude', ['1:10', '1:4', '1:3']],
  ['category=coding-assistant', ['1:18', '1:17', '1:16', '1:15', '1:14', '1:13', '1:12', '2:6', '1:5']],
  ['source_ip=10.0.0.1', ['2:8', '2:6', '1:2', '1:1']],
  ['source_ip=2001:db8::1', ['2:9']],
  ['user=alice', ['2:6', '1:2', '1:1']],
  ['user=bob', ['1:10', '1:3']],
  ['user=nobody', []],
  ['action=quic-initial', ['2:9', '1:4']],
  ['action=dns-query', ['2:7', '1:2']],
  ['domain=chatgpt.com', ['2:9', '1:2', '1:1']],
  // The name itself and names under it; notchatgpt.com is neither.
  ['domain_suffix=chatgpt.com', ['2:9', '2:8', '1:2', '1:1']],
  ['domain_suffix=githubusercontent.com', ['2:6']],
  ['domain_suffix=com&limit=1000', ALL.filter((i) => !['1:3', '1:4', '2:7'].includes(i))],
  [`agent=${OTHER_AGENT}`, ['2:9', '2:8', '2:7', '2:6']],
  // since inclusive, until exclusive; ISO with a zone or milliseconds.
  ['since=2026-11-25T12:00:00Z&until=2026-11-25T12:05:00Z', ['1:3', '1:2']],
  ['since=2026-11-25T13:05:00%2B01:00&until=2026-11-25T12:05:00.001Z', ['1:5', '1:4']],
  [`since=${Date.UTC(2026, 10, 26)}`, ['2:9', '1:10']],
  ['since=2026-11-26', ['2:9', '1:10']],
  [`user=alice&agent=${AGENT}`, ['1:2', '1:1']],
  ['category=chat-assistant&source_ip=10.0.0.1&until=2026-11-25T23:59:59.999Z', ['1:2', '1:1']],
  ['limit=2', ['2:9', '1:10']],
];
