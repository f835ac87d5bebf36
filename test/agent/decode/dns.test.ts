import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  MAX_DNS_ANSWERS,
  MAX_DNS_QUESTIONS,
  decodeDns,
  decodeDnsTcp,
  dnsObservations,
  type DnsMessage,
} from '../../../agent/decode/dns.js';
import { DecodeError } from '../../../agent/decode/decode-error.js';
import { formatIPv6 as ipv6Text } from '../../../agent/decode/ip-address.js';
import type { Endpoints } from '../../../agent/observation.js';
import { fixture } from '../../helpers/root.js';
import { readPcap, tcpStream, type LitePacket } from '../../helpers/pcap-lite.js';
import { reasonOf } from '../../helpers/decode-reason.js';

const DNS_PORT = 53; // test/tools/make-dns-fixtures.sh
const dnsFixture = (name: string): string => fixture('captures', 'dns', `${name}.pcap`);

interface Exchange {
  query: DnsMessage;
  response: DnsMessage;
  packets: LitePacket[];
}

/** The query and the response of one fixture, over UDP or TCP. */
function exchange(name: string): Exchange {
  const packets = readPcap(dnsFixture(name));
  if (packets.some((p) => p.transport === 'udp')) {
    const q = packets.find((p) => p.transport === 'udp' && p.dstPort === DNS_PORT)!;
    const r = packets.find((p) => p.transport === 'udp' && p.srcPort === DNS_PORT)!;
    return { query: decodeDns(q.payload, 0).value, response: decodeDns(r.payload, 0).value, packets };
  }
  const c = packets.find((p) => p.dstPort === DNS_PORT)!;
  const up = tcpStream(packets, c.srcPort, DNS_PORT);
  const down = tcpStream(packets, DNS_PORT, c.srcPort);
  const q = decodeDnsTcp(up, 0);
  const r = decodeDnsTcp(down, 0);
  expect(q.bytes).to.equal(up.length);
  expect(r.bytes).to.equal(down.length);
  return { query: q.value, response: r.value, packets };
}

/** dig's printout beside the pcap: header id/status and the answer section. */
function digSays(name: string): { id: number; status: string; answers: { name: string; ttl: number; type: string; data: string }[] } {
  const text = readFileSync(fixture('captures', 'dns', `${name}.dig.txt`), 'utf8');
  const hdr = /opcode: QUERY, status: (\w+), id: (\d+)/.exec(text)!;
  const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(text);
  const answers = (section ? section[1]!.split('\n') : []).map((line) => {
    const [owner, ttl, , type, ...rest] = line.split(/\s+/);
    const data = rest.join(' ');
    return {
      name: owner!.replace(/\.$/, '').toLowerCase(),
      ttl: Number(ttl),
      type: type!,
      data: type === 'CNAME' ? data.replace(/\.$/, '').toLowerCase() : data,
    };
  });
  return { id: Number(hdr[2]), status: hdr[1]!, answers };
}

// What make-dns-fixtures.sh told dnsmasq to answer (--local-ttl=300).
const CONFIGURED: Record<string, { q: string; qtype: string; rcode: string; answers: [string, string, string][] }> = {
  'dig-udp-a': { q: 'chatgpt.com', qtype: 'A', rcode: 'NOERROR', answers: [['chatgpt.com', 'A', '10.0.0.5']] },
  'dig-udp-aaaa': { q: 'chatgpt.com', qtype: 'AAAA', rcode: 'NOERROR', answers: [['chatgpt.com', 'AAAA', 'fd00::5']] },
  'dig-udp-cname-chain': {
    q: 'chat.openai.com', // dig was told CHAT.OpenAI.com: names are lowercased
    qtype: 'A',
    rcode: 'NOERROR',
    answers: [
      ['chat.openai.com', 'CNAME', 'chat.openai.com.cdn.cloudflare.net'],
      ['chat.openai.com.cdn.cloudflare.net', 'CNAME', 'edge.cloudflare.example'],
      ['edge.cloudflare.example', 'A', '104.18.32.47'],
    ],
  },
  'dig-udp-multi-a': {
    q: 'gemini.google.com',
    qtype: 'A',
    rcode: 'NOERROR',
    answers: [
      ['gemini.google.com', 'A', '142.250.0.1'],
      ['gemini.google.com', 'A', '142.250.0.2'],
    ],
  },
  'dig-udp-https': {
    q: 'claude.ai',
    qtype: 'HTTPS',
    rcode: 'NOERROR',
    answers: [['claude.ai', 'HTTPS', '1 . alpn="h3,h2" ipv4hint=10.0.0.7 ipv6hint=fd00::7']],
  },
  'dig-udp-https-target': {
    q: 'api.openai.com',
    qtype: 'HTTPS',
    rcode: 'NOERROR',
    answers: [['api.openai.com', 'HTTPS', '1 svc.openai.example. alpn="h2" port=8443 ipv6hint=fd00::8']],
  },
  'dig-udp-nxdomain': { q: 'nothere.example', qtype: 'A', rcode: 'NXDOMAIN', answers: [] },
  'dig-tcp-a': { q: 'chatgpt.com', qtype: 'A', rcode: 'NOERROR', answers: [['chatgpt.com', 'A', '10.0.0.5']] },
  'dig-tcp-cname-chain-aaaa': {
    q: 'chat.openai.com',
    qtype: 'AAAA',
    rcode: 'NOERROR',
    answers: [
      ['chat.openai.com', 'CNAME', 'chat.openai.com.cdn.cloudflare.net'],
      ['chat.openai.com.cdn.cloudflare.net', 'CNAME', 'edge.cloudflare.example'],
      ['edge.cloudflare.example', 'AAAA', '2606:4700:4400::6812:202f'],
    ],
  },
};

const AT: Endpoints = { tsSec: 1, tsNsec: 0, ipVersion: 4, transport: 'udp', srcIp: '127.0.0.1', srcPort: 40000, dstIp: '127.0.0.1', dstPort: 53 };

/** Asserts `fn` throws a DecodeError whose reason is dns.*, or nothing. */
function onlyDecodeError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`threw ${String(e)}, not a DecodeError`);
    expect(e.reason).to.match(/^dns\.[a-z_]+$/);
  }
}


/** Every UDP payload and TCP stream of every fixture: seeds for the mangling properties. */
function allMessages(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const name of Object.keys(CONFIGURED)) {
    const pk = readPcap(dnsFixture(name));
    for (const p of pk) if (p.transport === 'udp') out.push(p.payload);
    const c = pk.find((p) => p.transport === 'tcp' && p.dstPort === DNS_PORT);
    if (c) {
      out.push(tcpStream(pk, c.srcPort, DNS_PORT).subarray(2));
      out.push(tcpStream(pk, DNS_PORT, c.srcPort).subarray(2));
    }
  }
  return out;
}

describe('decode/dns', () => {
  describe('real dig ↔ dnsmasq exchanges (test/tools/make-dns-fixtures.sh)', () => {
    for (const [name, want] of Object.entries(CONFIGURED)) {
      it(`${name}: question, rcode and answers are what dnsmasq was told to answer`, () => {
        const { query, response } = exchange(name);
        expect(query.isResponse).to.equal(false);
        expect(query.questions).to.deep.equal([{ name: want.q, type: want.qtype }]);
        expect(query.answers).to.deep.equal([]);
        expect(response.isResponse).to.equal(true);
        expect(response.id).to.equal(query.id);
        expect(response.opcode).to.equal('QUERY');
        expect(response.rcode).to.equal(want.rcode);
        expect(response.questions).to.deep.equal([{ name: want.q, type: want.qtype }]);
        expect(response.answers.map((a) => [a.name, a.type, a.data])).to.deep.equal(want.answers);
        for (const a of response.answers) expect(a.ttl).to.equal(300);
        expect(response.answersSkipped).to.equal(0);
      });
      it(`${name}: id, status and the answer section agree with dig's printout`, () => {
        const { response } = exchange(name);
        const dig = digSays(name);
        expect(response.id).to.equal(dig.id);
        expect(response.rcode).to.equal(dig.status);
        expect(response.answers.map(({ name, ttl, type, data }) => ({ name, ttl, type, data }))).to.deep.equal(dig.answers);
      });
    }

    it('HTTPS records: target, alpn, port and address hints are parsed (RFC 9460)', () => {
      const a = exchange('dig-udp-https').response.answers[0]!;
      expect(a.svcb).to.deep.equal({ priority: 1, target: '.', alpn: ['h3', 'h2'], port: null, ipv4hint: ['10.0.0.7'], ipv6hint: ['fd00::7'], ech: false });
      const b = exchange('dig-udp-https-target').response.answers[0]!;
      expect(b.svcb).to.deep.equal({ priority: 1, target: 'svc.openai.example', alpn: ['h2'], port: 8443, ipv4hint: [], ipv6hint: ['fd00::8'], ech: false });
    });

    it('tshark reads the same names, types and addresses', function () {
      if (spawnSync('tshark', ['--version']).status !== 0) this.skip();
      for (const name of Object.keys(CONFIGURED)) {
        const r = spawnSync(
          'tshark',
          ['-r', dnsFixture(name), '-d', `tcp.port==${DNS_PORT},dns`, '-d', `udp.port==${DNS_PORT},dns`, '-Y', 'dns', '-T', 'fields', '-E', 'separator=|',
            '-e', 'dns.flags.response', '-e', 'dns.qry.name', '-e', 'dns.a', '-e', 'dns.aaaa', '-e', 'dns.cname'],
          { encoding: 'utf8' },
        );
        expect(r.status, r.stderr).to.equal(0);
        const rows = r.stdout.trim().split('\n').map((l) => l.split('|'));
        const { query, response } = exchange(name);
        const ours = [query, response].map((m) => {
          const of = (t: string): string => m.answers.filter((a) => a.type === t).map((a) => a.data).join(',');
          return [m.isResponse ? '1' : '0', m.questions[0]!.name, of('A'), of('AAAA'), of('CNAME')];
        });
        const theirs = rows.map((row) => [row[0]!, row[1]!.toLowerCase(), row[2]!, row[3]!, row[4]!]);
        expect(ours, name).to.deep.equal(theirs);
      }
    });
  });

  describe('observations', () => {
    it('a query gives one dns-query, a response one dns-answer with its answers', () => {
      const { query, response } = exchange('dig-udp-cname-chain');
      expect(dnsObservations(query, AT)).to.deep.equal([{ action: 'dns-query', at: AT, name: 'chat.openai.com', qtype: 'A' }]);
      const obs = dnsObservations(response, AT);
      expect(obs).to.have.length(1);
      expect(obs[0]).to.deep.equal({
        action: 'dns-answer',
        at: AT,
        name: 'chat.openai.com',
        qtype: 'A',
        rcode: 'NOERROR',
        answers: [
          { name: 'chat.openai.com', type: 'CNAME', ttl: 300, data: 'chat.openai.com.cdn.cloudflare.net' },
          { name: 'chat.openai.com.cdn.cloudflare.net', type: 'CNAME', ttl: 300, data: 'edge.cloudflare.example' },
          { name: 'edge.cloudflare.example', type: 'A', ttl: 300, data: '104.18.32.47' },
        ],
      });
    });
    it('an NXDOMAIN response is a dns-answer with rcode NXDOMAIN and no answers', () => {
      const obs = dnsObservations(exchange('dig-udp-nxdomain').response, AT);
      expect(obs).to.deep.equal([{ action: 'dns-answer', at: AT, name: 'nothere.example', qtype: 'A', rcode: 'NXDOMAIN', answers: [] }]);
    });
    it('a message without a question gives nothing', () => {
      const msg = dnsPacket.encode({ type: 'query', id: 1, questions: [] });
      expect(dnsObservations(decodeDns(msg, 0).value, AT)).to.deep.equal([]);
    });
  });

  describe('DNS over TCP', () => {
    it('every prefix shorter than the message is dns.incomplete; the whole one decodes', () => {
      const packets = readPcap(dnsFixture('dig-tcp-a'));
      const c = packets.find((p) => p.dstPort === DNS_PORT)!;
      const down = tcpStream(packets, DNS_PORT, c.srcPort);
      for (let n = 0; n < down.length; n++) expect(reasonOf(() => decodeDnsTcp(down.subarray(0, n), 0)), `prefix ${n}`).to.equal('dns.incomplete');
      expect(decodeDnsTcp(down, 0).value.answers[0]!.data).to.equal('10.0.0.5');
    });
    it('two messages back to back in one stream: bytes says where the second starts', () => {
      const one = Buffer.from(dnsPacket.streamEncode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'a.example' }] }));
      const two = Buffer.from(dnsPacket.streamEncode({ type: 'query', id: 8, questions: [{ type: 'AAAA', name: 'b.example' }] }));
      const both = Buffer.concat([one, two]);
      const first = decodeDnsTcp(both, 0);
      expect(first.bytes).to.equal(one.length);
      const second = decodeDnsTcp(both, first.bytes).value;
      expect(second.id).to.equal(8);
      expect(second.questions).to.deep.equal([{ name: 'b.example', type: 'AAAA' }]);
    });
    it('a length shorter than a header is dns.malformed', () => {
      expect(reasonOf(() => decodeDnsTcp(new Uint8Array([0, 5, 1, 2, 3, 4, 5]), 0))).to.equal('dns.malformed');
    });
  });

  describe('limits and malformed input', () => {
    it('decodes at an offset: compression pointers are relative to the message start', () => {
      const msg = dnsPacket.encode({
        type: 'response',
        id: 3,
        questions: [{ type: 'A', name: 'chatgpt.com' }],
        answers: [{ type: 'A', name: 'chatgpt.com', ttl: 60, data: '10.1.2.3' }],
      });
      const padded = Buffer.concat([Buffer.from([9, 9, 9, 9, 9]), msg]);
      const m = decodeDns(padded, 5).value;
      expect(m.answers).to.deep.equal([{ name: 'chatgpt.com', type: 'A', ttl: 60, data: '10.1.2.3', svcb: null }]);
    });
    it(`more than MAX_DNS_QUESTIONS (${MAX_DNS_QUESTIONS}) questions is dns.too_many_questions`, () => {
      const questions = Array.from({ length: MAX_DNS_QUESTIONS + 1 }, (_, i) => ({ type: 'A' as const, name: `n${i}.example` }));
      expect(reasonOf(() => decodeDns(dnsPacket.encode({ type: 'query', questions }), 0))).to.equal('dns.too_many_questions');
    });
    it('a qdcount the bytes cannot hold is refused before any name is read', () => {
      const hdr = new Uint8Array(20);
      hdr[5] = 3;
      expect(reasonOf(() => decodeDns(hdr, 0))).to.equal('dns.truncated');
    });
    it(`answers beyond MAX_DNS_ANSWERS (${MAX_DNS_ANSWERS}) are counted, not decoded`, () => {
      const answers = Array.from({ length: MAX_DNS_ANSWERS + 6 }, (_, i) => ({ type: 'A' as const, name: 'many.example', ttl: 5, data: `10.0.${i >> 8}.${i & 255}` }));
      const m = decodeDns(dnsPacket.encode({ type: 'response', questions: [{ type: 'A', name: 'many.example' }], answers }), 0).value;
      expect(m.answers).to.have.length(MAX_DNS_ANSWERS);
      expect(m.answersSkipped).to.equal(6);
      expect(m.answers[MAX_DNS_ANSWERS - 1]!.data).to.equal(`10.0.0.${MAX_DNS_ANSWERS - 1}`);
    });
    it('an ancount the bytes cannot hold is dns.truncated', () => {
      const msg = Buffer.from(dnsPacket.encode({ type: 'response', questions: [{ type: 'A', name: 'x.example' }] }));
      msg[7] = 200;
      expect(reasonOf(() => decodeDns(msg, 0))).to.equal('dns.truncated');
    });
    it('a compression loop and a forward pointer are dns.bad_name', () => {
      // header, question name = pointer to itself (offset 12)
      const loop = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
      expect(reasonOf(() => decodeDns(loop, 0))).to.equal('dns.bad_name');
      const fwd = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 16, 0, 1, 0, 1, 0]);
      expect(reasonOf(() => decodeDns(fwd, 0))).to.equal('dns.bad_name');
    });
    it('an A record whose RDATA is not 4 bytes is dns.bad_rdata', () => {
      const msg = Buffer.from(
        dnsPacket.encode({ type: 'response', questions: [{ type: 'A', name: 'x.example' }], answers: [{ type: 'A', name: 'x.example', ttl: 1, data: '1.2.3.4' }] }),
      );
      msg[msg.length - 5] = 3; // RDLENGTH low byte
      expect(reasonOf(() => decodeDns(msg.subarray(0, msg.length - 1), 0))).to.equal('dns.bad_rdata');
    });
    it('NS, PTR, MX and TXT are rendered as dig prints them (minus the final dot); other types keep their type name', () => {
      const m = decodeDns(
        dnsPacket.encode({
          type: 'response',
          questions: [{ type: 'TXT', name: 'x.example' }],
          answers: [
            { type: 'TXT', name: 'x.example', ttl: 9, data: ['hello world', 'v=1'] },
            { type: 'MX', name: 'x.example', ttl: 9, data: { preference: 10, exchange: 'MX.example' } },
            { type: 'NS', name: 'x.example', ttl: 9, data: 'ns1.example' },
            { type: 'PTR', name: '5.0.0.10.in-addr.arpa', ttl: 9, data: 'chatgpt.com' },
            { type: 'SRV', name: '_x._tcp.x.example', ttl: 9, data: { priority: 1, weight: 2, port: 443, target: 't.example' } },
          ],
        }),
        0,
      ).value;
      expect(m.answers.map((a) => [a.type, a.ttl, a.data])).to.deep.equal([
        ['TXT', 9, '"hello world" "v=1"'],
        ['MX', 9, '10 mx.example'],
        ['NS', 9, 'ns1.example'],
        ['PTR', 9, 'chatgpt.com'],
        ['SRV', 9, ''],
      ]);
    });
    it('a TXT string running past its RDATA is dns.bad_rdata', () => {
      const msg = Buffer.from(dnsPacket.encode({ type: 'response', questions: [{ type: 'TXT', name: 'x.example' }], answers: [{ type: 'TXT', name: 'x.example', ttl: 1, data: 'abc' }] }));
      msg[msg.length - 4] = 9; // the string's length byte
      expect(reasonOf(() => decodeDns(msg, 0))).to.equal('dns.bad_rdata');
    });
  });

  describe('properties (fast-check)', () => {
    const seeds = allMessages();

    it('random bytes: only DecodeError(dns.*)', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => onlyDecodeError(() => decodeDns(b, 0))), { numRuns: 5000 });
      fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => onlyDecodeError(() => decodeDnsTcp(b, 0))), { numRuns: 2000 });
    });
    it('random bytes after a plausible header (1 question, many answers, QR set): only DecodeError(dns.*)', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 0xffff }), (body, an) => {
          const m = new Uint8Array(12 + body.length);
          m.set([0, 1, 0x81, 0x80, 0, 1, an >> 8, an & 255, 0, 0, 0, 0]);
          m.set(body, 12);
          onlyDecodeError(() => decodeDns(m, 0));
        }),
        { numRuns: 5000 },
      );
    });
    it('every fixture message truncated at every length: only DecodeError(dns.*)', () => {
      for (const m of seeds) for (let n = 0; n < m.length; n++) onlyDecodeError(() => decodeDns(m.subarray(0, n), 0));
    });
    it('fixture messages with flipped bits and overwritten bytes: only DecodeError(dns.*)', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...seeds),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 8 }),
          (seed, edits) => {
            const m = Uint8Array.from(seed);
            for (const [pos, v, flip] of edits) {
              const i = pos % m.length;
              m[i] = flip ? m[i]! ^ (1 << (v & 7)) : v;
            }
            onlyDecodeError(() => decodeDns(m, 0));
          },
        ),
        { numRuns: 10000 },
      );
    });

    // Labels of arbitrary bytes (upper case, '.', non-ASCII, invalid UTF-8) and lengths.
    const label = fc.uint8Array({ minLength: 1, maxLength: 63 });
    const wireName = fc.array(label, { maxLength: 5 }).map((labels) => {
      const parts: number[] = [];
      for (const l of labels) parts.push(l.length, ...l);
      parts.push(0);
      return Uint8Array.from(parts);
    });
    const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

    it('question names equal dns-packet’s own decoding, ASCII-lowercased', () => {
      fc.assert(
        fc.property(wireName, fc.integer({ min: 0, max: 0xffff }), (name, qtype) => {
          const m = Buffer.concat([Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([qtype >> 8, qtype & 255, 0, 1])]);
          let theirs: string | Error;
          try {
            theirs = dnsPacket.decode(m).questions![0]!.name;
          } catch (e) {
            theirs = e as Error;
          }
          if (theirs instanceof Error) {
            expect(reasonOf(() => decodeDns(m, 0))).to.match(/^dns\./);
          } else {
            const ours = decodeDns(m, 0).value.questions[0]!;
            expect(ours.name).to.equal(lowerAscii(theirs));
            expect(ours.type).to.equal(qtype === 65 ? 'HTTPS' : qtype === 64 ? 'SVCB' : dnsPacket.decode(m).questions![0]!.type);
          }
        }),
        { numRuns: 3000 },
      );
    });

    const hostname = fc.array(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
    const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipv6Text(b, 0));
    const record = fc.oneof(
      fc.record({ type: fc.constant('A' as const), name: hostname, ttl: fc.nat(), data: v4 }),
      fc.record({ type: fc.constant('AAAA' as const), name: hostname, ttl: fc.nat(), data: v6 }),
      fc.record({ type: fc.constant('CNAME' as const), name: hostname, ttl: fc.nat(), data: hostname }),
    );
    it('responses encoded by dns-packet decode to the same records (names lowercased)', () => {
      fc.assert(
        fc.property(hostname, fc.array(record, { maxLength: 10 }), (q, answers) => {
          const m = decodeDns(dnsPacket.encode({ type: 'response', id: 5, questions: [{ type: 'A', name: q }], answers }), 0).value;
          expect(m.questions).to.deep.equal([{ name: q.toLowerCase(), type: 'A' }]);
          expect(m.answers.map(({ name, type, ttl, data }) => ({ name, type, ttl, data }))).to.deep.equal(
            answers.map((a) => ({ name: a.name.toLowerCase(), type: a.type, ttl: a.ttl, data: a.type === 'CNAME' ? a.data.toLowerCase() : a.data })),
          );
        }),
        { numRuns: 1000 },
      );
    });

    it('IPv6 text is RFC 5952 (WHATWG URL serializer as the oracle; IPv4-mapped as ::ffff:a.b.c.d)', () => {
      const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
      fc.assert(
        fc.property(groups, (g) => {
          const b = new Uint8Array(16);
          g.forEach((x, i) => { b[2 * i] = x >> 8; b[2 * i + 1] = x & 255; });
          const ours = ipv6Text(b, 0);
          const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
          if (mapped) expect(ours).to.equal(`::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`);
          else expect(ours).to.equal(new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname.slice(1, -1));
        }),
        { numRuns: 3000 },
      );
    });
  });
});
