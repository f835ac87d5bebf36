import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { DecodeError } from '../../../agent/decode/decode-error.js';
import { HTTP_MAX_HEADER_BYTES, HTTP_METHODS, decodeHttpRequest, looksLikeHttpRequest, type HttpRequest } from '../../../agent/decode/http.js';
import { fixture } from '../../helpers/root.js';
import { readPcap, tcpStream } from '../../helpers/pcap-lite.js';
import { reasonOf } from '../../helpers/decode-reason.js';

// Ports of test/tools/make-http-fixtures.sh: web server (IPv4), proxy, web server (IPv6).
const WEB = 28080;
const PROXY = 28081;
const WEB6 = 28082;
const httpFixture = (name: string): string => fixture('captures', 'http', `${name}.pcap`);

/** What the client of a fixture sent to `serverPort` (the first connection to it). */
function clientStream(name: string, serverPort: number): Uint8Array {
  const pk = readPcap(httpFixture(name));
  const syn = pk.find((p) => p.transport === 'tcp' && p.dstPort === serverPort && (p.flags & 0x12) === 0x02)!;
  return tcpStream(pk, syn.srcPort, serverPort);
}

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));


function onlyDecodeError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`threw ${String(e)}, not a DecodeError`);
    expect(e.reason).to.match(/^http\.(malformed|incomplete|header_too_long)$/);
  }
}

// What curl was told in make-http-fixtures.sh, one row per request on the client's connection.
const CASES: { name: string; port: number; requests: HttpRequest[]; after?: 'tls' | 'body' }[] = [
  { name: 'curl-http11-get', port: WEB, requests: [{ method: 'GET', host: 'chatgpt.com', connect: false, target: '/' }] },
  { name: 'curl-http10-get', port: WEB, requests: [{ method: 'GET', host: 'claude.ai', connect: false, target: '/index.html' }] },
  { name: 'curl-http11-head-ipv6', port: WEB6, requests: [{ method: 'HEAD', host: '::1', connect: false, target: '/' }] },
  { name: 'curl-http11-post', port: WEB, requests: [{ method: 'POST', host: 'api.openai.com', connect: false, target: '/v1/chat/completions' }], after: 'body' },
  { name: 'curl-proxy-connect-https', port: PROXY, requests: [{ method: 'CONNECT', host: 'api.openai.com', connect: true, target: 'api.openai.com:443' }], after: 'tls' },
  {
    name: 'curl-proxy-connect-http',
    port: PROXY,
    requests: [
      { method: 'CONNECT', host: 'api.anthropic.com', connect: true, target: 'api.anthropic.com:80' },
      { method: 'GET', host: 'api.anthropic.com', connect: false, target: '/v1/models' },
    ],
  },
  {
    name: 'curl-proxy-connect-ipv6',
    port: PROXY,
    requests: [
      { method: 'CONNECT', host: '2001:db8::1', connect: true, target: '[2001:db8::1]:8080' },
      { method: 'GET', host: '2001:db8::1', connect: false, target: '/' },
    ],
  },
  { name: 'curl-proxy-absolute', port: PROXY, requests: [{ method: 'GET', host: 'gemini.google.com', connect: false, target: 'http://gemini.google.com/app' }] },
];

describe('decode/http', () => {
  describe('real curl requests (test/tools/make-http-fixtures.sh)', () => {
    for (const c of CASES) {
      it(`${c.name}: ${c.requests.map((r) => `${r.method} ${r.host}`).join(', then ')}`, () => {
        const s = clientStream(c.name, c.port);
        let off = 0;
        for (const want of c.requests) {
          expect(looksLikeHttpRequest(s, off)).to.equal(true);
          const r = decodeHttpRequest(s, off);
          expect(r.value).to.deep.equal(want);
          off += r.bytes;
          expect(Buffer.from(s.subarray(off - 4, off)).toString('latin1')).to.equal('\r\n\r\n');
        }
        if (c.after === 'tls') {
          expect(s[off]).to.equal(0x16); // the TLS ClientHello curl sent into the tunnel
          expect(looksLikeHttpRequest(s, off)).to.equal(false);
        } else if (c.after === 'body') {
          expect(Buffer.from(s.subarray(off)).toString()).to.equal('{"model":"x"}');
        } else {
          expect(off).to.equal(s.length);
        }
      });
    }

    it('every prefix of a header section is http.incomplete', () => {
      for (const c of CASES) {
        const s = clientStream(c.name, c.port);
        const n = decodeHttpRequest(s, 0).bytes;
        for (let k = 1; k < n; k++) expect(reasonOf(() => decodeHttpRequest(s.subarray(0, k), 0)), `${c.name} prefix ${k}`).to.equal('http.incomplete');
      }
    });

    it('tshark reads the same methods, targets and hosts', function () {
      if (spawnSync('tshark', ['--version']).status !== 0) this.skip();
      for (const c of CASES) {
        const r = spawnSync(
          'tshark',
          ['-r', httpFixture(c.name), '-d', `tcp.port==${WEB},http`, '-d', `tcp.port==${PROXY},http`, '-d', `tcp.port==${WEB6},http`,
            '-Y', `http.request && tcp.dstport==${c.port}`, '-T', 'fields', '-E', 'separator=|', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.host'],
          { encoding: 'utf8' },
        );
        expect(r.status, r.stderr).to.equal(0);
        const theirs = r.stdout.trim().split('\n').map((l) => l.split('|'));
        // tshark prints the Host header as sent; ours is the bare lowercased host
        const bare = (h: string): string => h.toLowerCase().replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([^:]*):\d+$/, '$1');
        // tshark 4.0 does not always dissect the request inside a CONNECT tunnel: its rows must be a non-empty prefix of ours
        expect(theirs.length, c.name).to.be.within(1, c.requests.length);
        expect(theirs.map(([m, uri, h]) => [m, uri, bare(h!)]), c.name).to.deep.equal(c.requests.slice(0, theirs.length).map((q) => [q.method, q.target, q.host]));
      }
    });
  });

  describe('request lines and Host headers', () => {
    const d = (s: string): HttpRequest => decodeHttpRequest(enc(s), 0).value;
    it('Host: case-insensitive name, optional whitespace, port and trailing dot removed, value lowercased', () => {
      expect(d('GET / HTTP/1.1\r\nhOsT:   ChatGPT.com.:8443  \r\n\r\n').host).to.equal('chatgpt.com');
      expect(d('GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST:claude.ai\r\nAccept: */*\r\n\r\n').host).to.equal('claude.ai');
    });
    it('IPv6 literals lose their brackets', () => {
      expect(d('GET / HTTP/1.1\r\nHost: [2001:DB8::1]:80\r\n\r\n').host).to.equal('2001:db8::1');
      expect(d('GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n').host).to.equal('::1');
      expect(reasonOf(() => d('GET / HTTP/1.1\r\nHost: [::1\r\n\r\n'))).to.equal('http.malformed');
    });
    it('the absolute-form authority wins over Host; userinfo is dropped', () => {
      expect(d('GET http://user:pw@Gemini.Google.com:8080/x?y HTTP/1.1\r\nHost: other.example\r\n\r\n').host).to.equal('gemini.google.com');
      expect(d('GET https://api.openai.com HTTP/1.1\r\n\r\n').host).to.equal('api.openai.com');
    });
    it('HTTP/1.0 without Host has no host; bare LF line ends are accepted', () => {
      expect(d('GET /x HTTP/1.0\r\n\r\n')).to.deep.equal({ method: 'GET', host: null, connect: false, target: '/x' });
      expect(decodeHttpRequest(enc('GET / HTTP/1.1\nHost: a.example\n\nBODY'), 0)).to.deep.equal({ value: { method: 'GET', host: 'a.example', connect: false, target: '/' }, bytes: 32 });
    });
    it('decodes at an offset', () => {
      const r = decodeHttpRequest(enc('xxxxOPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n'), 4);
      expect(r.value).to.deep.equal({ method: 'OPTIONS', host: 'a.example', connect: false, target: '*' });
      expect(r.bytes).to.equal(39);
    });
    it('malformed requests are http.malformed', () => {
      for (const bad of [
        'FOO / HTTP/1.1\r\n\r\n', // unknown method
        'get / HTTP/1.1\r\n\r\n', // methods are case-sensitive
        'GET  / HTTP/1.1\r\n\r\n', // empty target
        'GET / HTTP/2.0\r\n\r\n',
        'GET / HTTP/1.1 \r\n\r\n',
        'GET / HTTP/1.1\r\nno colon here\r\n\r\n',
        'GET / HTTP/1.1\r\n: empty name\r\n\r\n',
        'GET /\x01 HTTP/1.1\r\n\r\n',
        'GET / HTTP/1.1\r\nHost: a b\r\n\r\n',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', // HTTP/2 prior-knowledge preface
      ]) {
        expect(reasonOf(() => d(bad)), JSON.stringify(bad)).to.equal('http.malformed');
      }
    });
    it(`a header section without an end within HTTP_MAX_HEADER_BYTES (${HTTP_MAX_HEADER_BYTES}) is http.header_too_long; shorter is incomplete`, () => {
      const start = 'GET / HTTP/1.1\r\nX-Pad: ';
      expect(reasonOf(() => decodeHttpRequest(enc(start + 'a'.repeat(HTTP_MAX_HEADER_BYTES - start.length - 1)), 0))).to.equal('http.incomplete');
      expect(reasonOf(() => decodeHttpRequest(enc(start + 'a'.repeat(HTTP_MAX_HEADER_BYTES)), 0))).to.equal('http.header_too_long');
    });
    it('looksLikeHttpRequest: every known method with a space, nothing else', () => {
      for (const m of HTTP_METHODS) {
        expect(looksLikeHttpRequest(enc(`${m} `), 0), m).to.equal(true);
        expect(looksLikeHttpRequest(enc(m), 0), `${m} without space`).to.equal(false);
      }
      for (const s of ['', 'GETX ', 'get ', '\x16\x03\x01', 'SSH-2.0-OpenSSH', 'PRI * HTTP/2.0']) expect(looksLikeHttpRequest(enc(s), 0), JSON.stringify(s)).to.equal(false);
    });
  });

  describe('properties (fast-check)', () => {
    const streams = CASES.map((c) => clientStream(c.name, c.port));
    it('random bytes, and random bytes after a method token: only DecodeError(http.*)', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyDecodeError(() => decodeHttpRequest(b, 0))), { numRuns: 5000 });
      fc.assert(
        fc.property(fc.constantFrom(...HTTP_METHODS), fc.uint8Array({ maxLength: 300 }), (m, b) => onlyDecodeError(() => decodeHttpRequest(new Uint8Array([...enc(`${m} `), ...b]), 0))),
        { numRuns: 5000 },
      );
    });
    it('fixture requests with flipped bits and overwritten bytes: only DecodeError(http.*)', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...streams),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
          (seed, edits) => {
            const m = Uint8Array.from(seed);
            for (const [pos, v, flip] of edits) {
              const i = pos % Math.min(m.length, 300);
              m[i] = flip ? m[i]! ^ (1 << (v & 7)) : v;
            }
            onlyDecodeError(() => decodeHttpRequest(m, 0));
          },
        ),
        { numRuns: 10000 },
      );
    });
    it('whatever follows the header section does not change the result', () => {
      fc.assert(
        fc.property(fc.constantFrom(...streams), fc.uint8Array({ maxLength: 200 }), (s, tail) => {
          const head = s.subarray(0, decodeHttpRequest(s, 0).bytes);
          expect(decodeHttpRequest(new Uint8Array([...head, ...tail]), 0)).to.deep.equal(decodeHttpRequest(head, 0));
        }),
        { numRuns: 1000 },
      );
    });
  });
});
