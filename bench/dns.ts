// DNS decoding speed: decodes/s of agent/decode/dns.ts for real queries and
// responses (the dig/dnsmasq fixtures), next to dns-packet's own full decode of
// the same bytes — the figures behind the split described at the top of
// agent/decode/dns.ts. Prints figures; not a pass/fail test.
//   usage: npx tsx bench/dns.ts [seconds-per-case]   (default 1)
import dnsPacket from 'dns-packet';
import { decodeDns } from '../agent/decode/dns.js';
import { DnsAnswerCache } from '../agent/flow/dns-cache.js';
import { fixture } from '../test/helpers/root.js';
import { readPcap } from '../test/helpers/pcap-lite.js';

const SECONDS = Number(process.argv[2] ?? 1);
const DNS_PORT = 25353;

function udpMessages(name: string): { query: Uint8Array; response: Uint8Array } {
  const pk = readPcap(fixture('captures', 'dns', `${name}.pcap`));
  return {
    query: pk.find((p) => p.transport === 'udp' && p.dstPort === DNS_PORT)!.payload,
    response: pk.find((p) => p.transport === 'udp' && p.srcPort === DNS_PORT)!.payload,
  };
}

let sink = 0;
function rate(fn: () => number): number {
  for (let i = 0; i < 20000; i++) sink += fn(); // warm up
  let n = 0;
  const t0 = process.hrtime.bigint();
  const stop = t0 + BigInt(Math.round(SECONDS * 1e9));
  let t = t0;
  while (t < stop) {
    for (let i = 0; i < 1000; i++) sink += fn();
    n += 1000;
    t = process.hrtime.bigint();
  }
  return n / (Number(t - t0) / 1e9);
}

const fmt = (x: number): string => `${(x / 1e6).toFixed(2)}M/s`.padStart(10);
const cases: [string, Uint8Array][] = [];
for (const name of ['dig-udp-a', 'dig-udp-cname-chain', 'dig-udp-https']) {
  const { query, response } = udpMessages(name);
  cases.push([`${name} query (${query.length} B)`, query], [`${name} response (${response.length} B)`, response]);
}

console.log(`node ${process.version}, ${SECONDS}s per case`);
console.log(`${'message'.padEnd(40)} ${'umbra'.padStart(10)} ${'dns-packet'.padStart(10)}  ratio`);
for (const [label, msg] of cases) {
  const ours = rate(() => decodeDns(msg, 0).value.questions.length);
  const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  const theirs = rate(() => dnsPacket.decode(buf).questions!.length);
  console.log(`${label.padEnd(40)} ${fmt(ours)} ${fmt(theirs)}  ${(ours / theirs).toFixed(1)}×`);
}

// The answer cache as the pipeline uses it: one response in, lookups of its addresses.
const cache = new DnsAnswerCache();
const chain = decodeDns(udpMessages('dig-udp-cname-chain').response, 0).value;
let now = 1_700_000_000;
console.log(`${'cache addFromMessage (CNAME chain)'.padEnd(40)} ${fmt(rate(() => (cache.addFromMessage(chain, (now += 0.001)), 1)))}`);
console.log(`${'cache lookup (hit)'.padEnd(40)} ${fmt(rate(() => (cache.lookup('104.18.32.47', now) === null ? 0 : 1)))}`);
console.log(`${'cache lookup (miss)'.padEnd(40)} ${fmt(rate(() => (cache.lookup('192.0.2.1', now) === null ? 0 : 1)))}`);
if (sink === -1) console.log(sink);
