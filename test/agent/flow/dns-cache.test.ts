import { expect } from 'chai';
import fc from 'fast-check';
import { decodeDns, decodeDnsTcp, type DnsMessage } from '../../../agent/decode/dns.js';
import {
  DNS_CACHE_EVICTED,
  DNS_CACHE_NAMES_DROPPED,
  DNS_CACHE_TTL_CAP_SEC,
  DNS_CACHE_TTL_FLOOR_SEC,
  DnsAnswerCache,
} from '../../../agent/flow/dns-cache.js';
import { Counters } from '../../../agent/stats.js';
import { fixture } from '../../helpers/root.js';
import { readPcap, tcpStream } from '../../helpers/pcap-lite.js';

const DNS_PORT = 53; // test/tools/make-dns-fixtures.sh

/** The response of one dig ↔ dnsmasq fixture, and its capture time. */
function response(name: string): { msg: DnsMessage; ts: number } {
  const pk = readPcap(fixture('captures', 'dns', `${name}.pcap`));
  const udp = pk.find((p) => p.transport === 'udp' && p.srcPort === DNS_PORT);
  if (udp) return { msg: decodeDns(udp.payload, 0).value, ts: udp.tsSec + udp.tsNsec / 1e9 };
  const c = pk.find((p) => p.dstPort === DNS_PORT)!;
  const last = pk.filter((p) => p.srcPort === DNS_PORT && p.payload.length > 0).at(-1)!;
  return { msg: decodeDnsTcp(tcpStream(pk, DNS_PORT, c.srcPort), 0).value, ts: last.tsSec + last.tsNsec / 1e9 };
}

describe('flow/dns-cache', () => {
  describe('filled from real dnsmasq responses (TTL 300 s, see make-dns-fixtures.sh)', () => {
    it('an A answer names its address with the question', () => {
      const { msg, ts } = response('dig-udp-a');
      const c = new DnsAnswerCache();
      expect(c.addFromMessage(msg, ts)).to.equal(1);
      expect(c.lookup('10.0.0.5', ts)).to.equal('chatgpt.com');
      expect(c.lookup('10.0.0.6', ts)).to.equal(null);
    });
    it('a CNAME chain: the address answers to the name the client asked first, then the chain', () => {
      const { msg, ts } = response('dig-udp-cname-chain');
      const c = new DnsAnswerCache();
      expect(c.addFromMessage(msg, ts)).to.equal(3);
      expect(c.lookup('104.18.32.47', ts)).to.equal('chat.openai.com');
      expect(c.lookupAll('104.18.32.47', ts)).to.deep.equal(['chat.openai.com', 'chat.openai.com.cdn.cloudflare.net', 'edge.cloudflare.example']);
      expect(c.size).to.equal(1);
    });
    it('a CNAME chain over TCP ending in AAAA', () => {
      const { msg, ts } = response('dig-tcp-cname-chain-aaaa');
      const c = new DnsAnswerCache();
      c.addFromMessage(msg, ts);
      expect(c.lookup('2606:4700:4400::6812:202f', ts)).to.equal('chat.openai.com');
    });
    it('every address of a multi-address answer', () => {
      const { msg, ts } = response('dig-udp-multi-a');
      const c = new DnsAnswerCache();
      c.addFromMessage(msg, ts);
      expect([c.lookup('142.250.0.1', ts), c.lookup('142.250.0.2', ts)]).to.deep.equal(['gemini.google.com', 'gemini.google.com']);
    });
    it('HTTPS record ipv4hint / ipv6hint addresses, under the question name (also when the record has a target)', () => {
      const c = new DnsAnswerCache();
      const a = response('dig-udp-https');
      const b = response('dig-udp-https-target');
      c.addFromMessage(a.msg, a.ts);
      c.addFromMessage(b.msg, b.ts);
      expect(c.lookup('10.0.0.7', b.ts)).to.equal('claude.ai');
      expect(c.lookup('fd00::7', b.ts)).to.equal('claude.ai');
      expect(c.lookup('fd00::8', b.ts)).to.equal('api.openai.com');
      expect(c.size).to.equal(3);
    });
    it('queries and NXDOMAIN responses add nothing', () => {
      const c = new DnsAnswerCache();
      expect(c.addFromMessage(response('dig-udp-nxdomain').msg, 0)).to.equal(0);
      const pk = readPcap(fixture('captures', 'dns', 'dig-udp-a.pcap'));
      expect(c.addFromMessage(decodeDns(pk.find((p) => p.dstPort === DNS_PORT)!.payload, 0).value, 0)).to.equal(0);
      expect(c.size).to.equal(0);
    });
    it('the 300 s TTL counts from the capture time, not the wall clock', () => {
      const { msg, ts } = response('dig-udp-a');
      const c = new DnsAnswerCache();
      c.addFromMessage(msg, ts);
      expect(c.lookup('10.0.0.5', ts + 299.9)).to.equal('chatgpt.com');
      expect(c.lookup('10.0.0.5', ts + 300)).to.equal(null);
    });
  });

  describe('TTL floor and cap, recency, size', () => {
    it(`a TTL under ${DNS_CACHE_TTL_FLOOR_SEC} s is kept ${DNS_CACHE_TTL_FLOOR_SEC} s`, () => {
      const c = new DnsAnswerCache();
      c.add('192.0.2.1', 'a.example', 0, 1000);
      expect(c.lookup('192.0.2.1', 1000 + DNS_CACHE_TTL_FLOOR_SEC - 1)).to.equal('a.example');
      expect(c.lookup('192.0.2.1', 1000 + DNS_CACHE_TTL_FLOOR_SEC)).to.equal(null);
    });
    it(`a TTL over ${DNS_CACHE_TTL_CAP_SEC} s is kept ${DNS_CACHE_TTL_CAP_SEC} s`, () => {
      const c = new DnsAnswerCache();
      c.add('192.0.2.1', 'a.example', 2 ** 31, 1000);
      expect(c.lookup('192.0.2.1', 1000 + DNS_CACHE_TTL_CAP_SEC - 1)).to.equal('a.example');
      expect(c.lookup('192.0.2.1', 1000 + DNS_CACHE_TTL_CAP_SEC)).to.equal(null);
    });
    it('the most recent name of a shared address wins; names compare case-blind', () => {
      const c = new DnsAnswerCache();
      c.add('192.0.2.1', 'a.example', 600, 0);
      c.add('192.0.2.1', 'B.Example', 600, 10);
      expect(c.lookup('192.0.2.1', 20)).to.equal('b.example');
      c.add('192.0.2.1', 'A.EXAMPLE', 600, 30);
      expect(c.lookupAll('192.0.2.1', 40)).to.deep.equal(['a.example', 'b.example']);
    });
    it('a name that expired is skipped, an older one still valid is returned', () => {
      const c = new DnsAnswerCache();
      c.add('192.0.2.1', 'long.example', 3600, 0);
      c.add('192.0.2.1', 'short.example', 60, 100);
      expect(c.lookup('192.0.2.1', 150)).to.equal('short.example');
      expect(c.lookup('192.0.2.1', 200)).to.equal('long.example');
      expect(c.lookupAll('192.0.2.1', 200)).to.deep.equal(['long.example']);
    });
    it('least recently inserted or used address is evicted and counted', () => {
      const counters = new Counters();
      const c = new DnsAnswerCache(counters, { maxEntries: 3 });
      c.add('10.0.0.1', 'a', 600, 0);
      c.add('10.0.0.2', 'b', 600, 0);
      c.add('10.0.0.3', 'c', 600, 0);
      expect(c.lookup('10.0.0.1', 1)).to.equal('a'); // used: now the most recent
      c.add('10.0.0.4', 'd', 600, 2);
      expect(c.size).to.equal(3);
      expect(c.lookup('10.0.0.2', 3)).to.equal(null);
      expect([c.lookup('10.0.0.1', 3), c.lookup('10.0.0.3', 3), c.lookup('10.0.0.4', 3)]).to.deep.equal(['a', 'c', 'd']);
      expect(counters.get(DNS_CACHE_EVICTED)).to.equal(1);
    });
    it('names per address are capped, the oldest dropped and counted', () => {
      const counters = new Counters();
      const c = new DnsAnswerCache(counters, { maxNamesPerAddress: 2 });
      for (const n of ['a', 'b', 'c']) c.add('10.0.0.1', n, 600, 0);
      expect(c.lookupAll('10.0.0.1', 1)).to.deep.equal(['c', 'b']);
      expect(counters.get(DNS_CACHE_NAMES_DROPPED)).to.equal(1);
    });
  });

  describe('properties (fast-check)', () => {
    const addr = fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', 'fd00::1', 'fd00::2');
    const name = fc.constantFrom('a.example', 'b.example', 'C.example', 'd.example');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), addr, name, ttl: fc.oneof(fc.nat(100), fc.nat(50000), fc.constant(0)), dt: fc.nat(400) }),
      fc.record({ kind: fc.constant('lookup' as const), addr, dt: fc.nat(400) }),
    );
    const clamp = (ttl: number): number => Math.min(Math.max(ttl, DNS_CACHE_TTL_FLOOR_SEC), DNS_CACHE_TTL_CAP_SEC);

    it('never returns an expired name, and with room enough returns exactly the live names (model check)', () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
          const c = new DnsAnswerCache(undefined, { maxNamesPerAddress: 100 });
          const model = new Map<string, Map<string, number>>(); // addr → name → expiry
          let now = 1_000_000;
          for (const o of ops) {
            now += o.dt;
            if (o.kind === 'add') {
              const names = model.get(o.addr) ?? new Map<string, number>();
              const n = o.name.toLowerCase();
              names.set(n, Math.max(names.get(n) ?? -Infinity, now + clamp(o.ttl)));
              model.set(o.addr, names);
              c.add(o.addr, o.name, o.ttl, now);
            } else {
              const live = [...(model.get(o.addr) ?? new Map<string, number>()).entries()].filter(([, exp]) => exp > now).map(([n]) => n);
              const got = c.lookupAll(o.addr, now);
              expect([...got].sort()).to.deep.equal(live.sort());
              const one = c.lookup(o.addr, now);
              if (one === null) expect(live).to.deep.equal([]);
              else expect(model.get(o.addr)!.get(one)!).to.be.greaterThan(now);
            }
          }
        }),
        { numRuns: 2000 },
      );
    });

    it('size never exceeds the cap, and what it returns was added for that address and is unexpired', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 200 }), (cap, ops) => {
          const counters = new Counters();
          const c = new DnsAnswerCache(counters, { maxEntries: cap });
          const expiry = new Map<string, number>(); // addr|name → latest expiry
          let now = 0;
          for (const o of ops) {
            now += o.dt;
            if (o.kind === 'add') {
              const k = `${o.addr}|${o.name.toLowerCase()}`;
              expiry.set(k, Math.max(expiry.get(k) ?? -Infinity, now + clamp(o.ttl)));
              c.add(o.addr, o.name, o.ttl, now);
            } else {
              const one = c.lookup(o.addr, now);
              if (one !== null) expect(expiry.get(`${o.addr}|${one}`)).to.be.greaterThan(now);
            }
            expect(c.size).to.be.at.most(cap);
          }
          // with no lookup to drop expired entries, every address beyond the cap was evicted and counted
          const distinct = new Set(ops.filter((o) => o.kind === 'add').map((o) => o.addr)).size;
          if (distinct > cap && ops.every((o) => o.kind === 'add')) expect(counters.get(DNS_CACHE_EVICTED)).to.be.greaterThan(0);
        }),
        { numRuns: 2000 },
      );
    });
  });
});
