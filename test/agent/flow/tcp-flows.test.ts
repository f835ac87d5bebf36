import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { Counters } from '../../../agent/stats.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type L4Packet } from '../../../agent/packet.js';
import type { Endpoints, Observation } from '../../../agent/observation.js';
import { FLOW_IDLE_TIMEOUT_SEC, MAX_FLOWS, TcpFlowTable } from '../../../agent/flow/tcp-flows.js';
import { decodeClientHello, clientHelloInfo } from '../../../agent/decode/tls.js';
import { fixture } from '../../helpers/root.js';
import { readPcapL4 } from '../../helpers/pcap-l4.js';
import { alpnExt, buildClientHello, bytes, opaqueExt, sigAlgsExt, sniExt, supportedVersionsExt, toRecords } from '../../helpers/tls-builder.js';

interface Run {
  obs: Observation[];
  dns: { at: Endpoints; msg: Uint8Array; fromServer: boolean }[];
  counters: Counters;
  table: TcpFlowTable;
}

function run(pkts: L4Packet[], flush = true): Run {
  const counters = new Counters();
  const obs: Observation[] = [];
  const dns: Run['dns'] = [];
  const table = new TcpFlowTable(counters, (o) => obs.push(o), (at, msg, fromServer) => dns.push({ at, msg, fromServer }));
  for (const p of pkts) table.onPacket(p);
  if (flush) table.flush();
  return { obs, dns, counters, table };
}

const CLI = new Uint8Array([10, 0, 0, 1]);
const SRV = new Uint8Array([104, 18, 32, 7]);
let clock = 1_700_000_000;
function seg(fromClient: boolean, seq: number, flags: number, payload: Uint8Array = new Uint8Array(0), opts: { sport?: number; dport?: number; ack?: number; ts?: number } = {}): L4Packet {
  const sport = opts.sport ?? 51000;
  const dport = opts.dport ?? 443;
  return {
    tsSec: opts.ts ?? clock,
    tsNsec: 0,
    ipVersion: 4,
    src: fromClient ? CLI : SRV,
    dst: fromClient ? SRV : CLI,
    transport: 'tcp',
    srcPort: fromClient ? sport : dport,
    dstPort: fromClient ? dport : sport,
    seq: seq >>> 0,
    ack: opts.ack ?? 0,
    flags,
    payload,
  };
}

const HELLO = buildClientHello({
  ciphers: [0x0a0a, 0x1301, 0x1302, 0xc02b],
  extensions: [opaqueExt(0x1a1a), sniExt('chatgpt.com'), alpnExt(['h2', 'http/1.1']), supportedVersionsExt([0x0304, 0x0303]), sigAlgsExt([0x0403, 0x0804]), opaqueExt(0x0033, 300)],
});
const HELLO_STREAM = toRecords(HELLO, [200]); // two TLS records
const HELLO_JA4 = clientHelloInfo(decodeClientHello(HELLO, 0).value, 'tcp').ja4;

/** SYN, SYN-ACK, then the client stream cut at `cuts`, segments in `order`, optional extra packets. */
function handshakePackets(stream: Uint8Array, cuts: number[], order: number[], isn = 1000, extra: L4Packet[] = []): L4Packet[] {
  const bounds = [0, ...cuts, stream.length];
  const segs = order.map((i) => seg(true, isn + 1 + bounds[i], TCP_ACK | TCP_PSH, stream.subarray(bounds[i], bounds[i + 1])));
  return [seg(true, isn, TCP_SYN), seg(false, 5000, TCP_SYN | TCP_ACK, undefined, { ack: isn + 1 }), seg(true, isn + 1, TCP_ACK), ...segs, ...extra];
}

const hellos = (r: Run) => r.obs.filter((o): o is Extract<Observation, { action: 'tls-client-hello' }> => o.action === 'tls-client-hello');

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

describe('TcpFlowTable: real-client captures', () => {
  const dir = fixture('captures', 'tls');
  const told = readFileSync(`${dir}/EXPECTED.tsv`, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  const ja4 = readFileSync(`${dir}/JA4.tsv`, 'utf8').trim().split('\n').filter((l) => !l.startsWith('#')).slice(1).map((l) => l.split('\t'));
  for (const [name, , sni, alpn] of told) {
    it(`${name}: one tls-client-hello per connection, as the client was told, JA4 as tshark-derived`, () => {
      const r = run(readPcapL4(`${dir}/${name}.pcap`));
      const hs = hellos(r);
      const want = ja4.filter((row) => row[0] === `${name}.pcap`);
      expect(hs.length).to.equal(want.length);
      expect(r.obs.length).to.equal(hs.length); // no 'connection' for flows that gave a hello
      for (const h of hs) {
        const row = want.find((w) => Number(w[1]) === h.at.srcPort)!;
        expect(h.hello.serverName ?? '-').to.equal(sni);
        expect(h.hello.alpn.join(',') || '-').to.equal(alpn);
        expect(h.hello.ja4).to.equal(row[4]);
        expect(h.hello.complete).to.equal(true);
        expect(h.at).to.include({ srcIp: '127.0.0.1', dstIp: '127.0.0.1', dstPort: 8443, transport: 'tcp', ipVersion: 4 });
      }
      expect(r.counters.get('tls.truncated_hello')).to.equal(0);
    });
  }

  it('the same observations through the project capture reader and packet decoder (when present)', async function () {
    let readCapture: (path: string, on: (p: import('../../../agent/packet.js').CapturedPacket) => void, c: Counters) => Promise<unknown>;
    let PacketDecoder: new (c: Counters) => { decode(p: import('../../../agent/packet.js').CapturedPacket): L4Packet | null };
    try {
      ({ readCapture } = await import('../../../agent/capture/read-captures.js' as string));
      ({ PacketDecoder } = await import('../../../agent/decode/packet.js' as string));
    } catch {
      this.skip();
    }
    for (const [name] of told) {
      const counters = new Counters();
      const obs: Observation[] = [];
      const table = new TcpFlowTable(counters, (o) => obs.push(o), () => {});
      const dec = new PacketDecoder(counters);
      await readCapture(`${dir}/${name}.pcap`, (p) => {
        const l4 = dec.decode(p);
        if (l4 !== null) table.onPacket(l4);
      }, counters);
      table.flush();
      expect(obs, name).to.deep.equal(run(readPcapL4(`${dir}/${name}.pcap`)).obs);
    }
  });

  it('chromium-tls13 with its second hello segment lost: a partial hello with the SNI of the first segment', () => {
    const pkts = readPcapL4(`${dir}/chromium-tls13.pcap`);
    const hello2 = pkts.filter((p) => p.dstPort === 8443 && p.payload.length > 0)[1]; // second client data segment
    const r = run(pkts.filter((p) => p !== hello2));
    const hs = hellos(r);
    expect(hs.length).to.equal(2);
    const partial = hs.find((h) => !h.hello.complete)!;
    expect(partial.hello.serverName).to.equal('chat.deepseek.com');
    expect(partial.hello.ja4).to.equal(null);
    expect(r.counters.get('tls.truncated_hello')).to.equal(1);
  });

  const clients = fixture('captures', 'clients');
  const other = readdirSync(clients).filter((f) => f.endsWith('.pcap'));
  (other.includes('curl-http1-ipv4.pcap') ? it : it.skip)('clients/curl-http1-ipv4: Host header and SNI', () => {
    const r = run(readPcapL4(`${clients}/curl-http1-ipv4.pcap`));
    const http = r.obs.filter((o) => o.action === 'http-request');
    expect(http).to.have.length(1);
    expect(http[0]).to.deep.include({ method: 'GET', host: 'api.openai.com', connect: false });
    expect(hellos(r).map((h) => h.hello.serverName)).to.deep.equal(['chatgpt.com']);
  });
  (other.includes('curl-connect-proxy.pcap') ? it : it.skip)('clients/curl-connect-proxy: CONNECT to a forward proxy on port 3128', () => {
    const r = run(readPcapL4(`${clients}/curl-connect-proxy.pcap`));
    const http = r.obs.filter((o) => o.action === 'http-request');
    expect(http).to.have.length(1);
    expect(http[0]).to.deep.include({ method: 'CONNECT', host: 'api.anthropic.com', connect: true });
  });
  (other.includes('dig-tcp.pcap') ? it : it.skip)('clients/dig-tcp: each DNS message over TCP, both ways', () => {
    const r = run(readPcapL4(`${clients}/dig-tcp.pcap`));
    expect(r.dns.map((d) => d.fromServer)).to.deep.equal([false, true, false, true]);
    for (const d of r.dns) {
      expect(d.at.dstPort).to.equal(53);
      expect(d.msg.length).to.be.greaterThan(12);
    }
    expect(r.obs).to.deep.equal([]);
  });
  (other.includes('ip-literal.pcap') ? it : it.skip)('clients/ip-literal: a hello without SNI is still one tls-client-hello (named later from the DNS cache)', () => {
    const r = run(readPcapL4(`${clients}/ip-literal.pcap`));
    const hs = hellos(r);
    expect(hs).to.have.length(1);
    expect(hs[0].hello.serverName).to.equal(null);
    expect(hs[0].hello.ja4!.slice(3, 4)).to.equal('i');
  });
});

describe('TcpFlowTable: reassembly of the ClientHello', () => {
  it('split at every byte boundary into 2 segments, both orders: same SNI and JA4', () => {
    for (let cut = 1; cut < HELLO_STREAM.length; cut++) {
      for (const order of [[0, 1], [1, 0]]) {
        const r = run(handshakePackets(HELLO_STREAM, [cut], order));
        const hs = hellos(r);
        expect(hs, `cut ${cut} order ${order}`).to.have.length(1);
        expect(hs[0].hello.serverName).to.equal('chatgpt.com');
        expect(hs[0].hello.ja4).to.equal(HELLO_JA4);
        expect(r.obs).to.have.length(1);
      }
    }
  });

  it('a small hello split at every pair of byte boundaries into 3 segments, in all 6 orders: same SNI and JA4', () => {
    const small = toRecords(buildClientHello({ sessionId: new Uint8Array(0), ciphers: [0x1301], extensions: [sniExt('claude.ai'), alpnExt(['h2'])] }));
    const want = clientHelloInfo(decodeClientHello(small.subarray(5), 0).value, 'tcp').ja4;
    const perms = permutations(3);
    let runs = 0;
    for (let a = 1; a < small.length - 1; a++) {
      for (let b = a + 1; b < small.length; b++) {
        for (const order of perms) {
          const hs = hellos(run(handshakePackets(small, [a, b], order, 0xfffffff0)));
          if (hs.length !== 1 || hs[0].hello.serverName !== 'claude.ai' || hs[0].hello.ja4 !== want) expect.fail(`cuts ${a},${b} order ${order}: ${JSON.stringify(hs)}`);
          runs++;
        }
      }
    }
    expect(runs).to.equal(((small.length - 1) * (small.length - 2) / 2) * 6);
  });

  it('property: 3 segments in every order, with retransmissions and overlaps, across the sequence wrap', () => {
    const perms = permutations(3);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: HELLO_STREAM.length - 2 }),
        fc.integer({ min: 1, max: HELLO_STREAM.length - 2 }),
        fc.constantFrom(...perms),
        fc.constantFrom(1000, 0xfffffe00, 0xffffffff),
        fc.array(fc.tuple(fc.nat(HELLO_STREAM.length - 1), fc.integer({ min: 1, max: 400 }), fc.nat(5)), { maxLength: 3 }),
        (a, b, order, isn, dups) => {
          const cuts = a === b ? [a] : [Math.min(a, b), Math.max(a, b)];
          const ord = cuts.length === 1 ? order.filter((i) => i < 2) : order;
          const pkts = handshakePackets(HELLO_STREAM, cuts, ord, isn);
          for (const [at, n, pos] of dups) {
            const dup = seg(true, isn + 1 + at, TCP_ACK, HELLO_STREAM.subarray(at, Math.min(HELLO_STREAM.length, at + n)));
            pkts.splice(Math.min(3 + pos, pkts.length), 0, dup);
          }
          const r = run(pkts);
          const hs = hellos(r);
          expect(hs).to.have.length(1);
          expect(hs[0].hello.serverName).to.equal('chatgpt.com');
          expect(hs[0].hello.ja4).to.equal(HELLO_JA4);
          expect(r.counters.get('tcp.overlap_conflict')).to.equal(0);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('property: a hello whose later part is lost gives the right SNI or none, never a wrong one', () => {
    const ext = decodeClientHello(HELLO, 0).value.extensions.find((e) => e.type === 0)!;
    const sniEnd = 5 + ext.data.byteOffset + ext.data.length; // record header + end of the SNI extension (inside the first record)
    expect(sniEnd).to.be.lessThan(200);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: HELLO_STREAM.length - 1 }), fc.boolean(), (cut, fin) => {
        const pkts = handshakePackets(HELLO_STREAM, [cut], [0]);
        const tail = HELLO_STREAM.length;
        if (fin) pkts.push(seg(true, 1001 + tail, TCP_FIN | TCP_ACK));
        const r = run(pkts);
        const hs = hellos(r);
        if (cut < 6) {
          // not even the handshake type byte: nothing shows this was a ClientHello
          expect(r.obs.map((o) => o.action)).to.deep.equal(['connection']);
          return;
        }
        expect(hs).to.have.length(1);
        expect(r.obs).to.have.length(1);
        expect(hs[0].hello.complete).to.equal(false);
        expect(hs[0].hello.ja4).to.equal(null);
        if (cut >= sniEnd) expect(hs[0].hello.serverName).to.equal('chatgpt.com');
        else expect(hs[0].hello.serverName).to.equal(null);
        expect(r.counters.get('tls.truncated_hello')).to.equal(1);
      }),
      { numRuns: 400 },
    );
  });

  it('a hole in the hello is reported as soon as the server answers', () => {
    const pkts = handshakePackets(HELLO_STREAM, [150, 300], [0, 2]);
    const r = run([...pkts, seg(false, 5001, TCP_ACK | TCP_PSH, new Uint8Array([0x16, 3, 3, 0, 10]), { ack: 1151 })], false);
    expect(hellos(r)).to.have.length(1);
    expect(hellos(r)[0].hello.serverName).to.equal('chatgpt.com');
    expect(hellos(r)[0].hello.complete).to.equal(false);
  });

  it('a hello first seen mid-stream (no SYN) on any port', () => {
    const p1 = seg(true, 77, TCP_ACK | TCP_PSH, HELLO_STREAM.subarray(0, 100), { dport: 9999 });
    const p2 = seg(true, 177, TCP_ACK | TCP_PSH, HELLO_STREAM.subarray(100), { dport: 9999 });
    const r = run([p1, p2]);
    expect(hellos(r).map((h) => h.hello.serverName)).to.deep.equal(['chatgpt.com']);
    expect(r.obs).to.have.length(1);
  });
});

describe('TcpFlowTable: connections, limits, costs', () => {
  it("a SYN alone: 'connection' at the end of the capture, with the SYN's time; never twice", () => {
    const r = run([seg(true, 1, TCP_SYN, undefined, { ts: 111 }), seg(true, 1, TCP_SYN, undefined, { ts: 112 })]);
    expect(r.obs).to.have.length(1);
    expect(r.obs[0]).to.deep.include({ action: 'connection' });
    expect(r.obs[0].at).to.deep.equal({ tsSec: 111, tsNsec: 0, ipVersion: 4, transport: 'tcp', srcIp: '10.0.0.1', srcPort: 51000, dstIp: '104.18.32.7', dstPort: 443 });
  });

  it("a server that speaks first, or client bytes that are neither TLS nor HTTP: 'connection' at once", () => {
    const ssh = run([seg(true, 1, TCP_SYN, undefined, { dport: 22 }), seg(false, 9, TCP_SYN | TCP_ACK, undefined, { dport: 22, ack: 2 }), seg(false, 10, TCP_ACK | TCP_PSH, Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), { dport: 22 })], false);
    expect(ssh.obs.map((o) => o.action)).to.deep.equal(['connection']);
    const other = run([seg(true, 1, TCP_SYN), seg(true, 2, TCP_ACK | TCP_PSH, Buffer.from('\x00\x01binary'))], false);
    expect(other.obs.map((o) => o.action)).to.deep.equal(['connection']);
    const rst = run([seg(true, 1, TCP_SYN), seg(false, 0, TCP_RST | TCP_ACK, undefined, { ack: 2 })], false);
    expect(rst.obs.map((o) => o.action)).to.deep.equal(['connection']);
  });

  it('HTTP request over several segments; a request without Host is a connection', () => {
    const req = Buffer.from('GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nUser-Agent: x\r\n\r\n');
    const r = run([seg(true, 1, TCP_SYN, undefined, { dport: 80 }), seg(true, 2, TCP_ACK, req.subarray(0, 2), { dport: 80 }), seg(true, 4, TCP_ACK, req.subarray(2, 30), { dport: 80 }), seg(true, 32, TCP_ACK, req.subarray(30), { dport: 80 })], false);
    expect(r.obs).to.have.length(1);
    expect(r.obs[0]).to.deep.include({ action: 'http-request', method: 'GET', host: 'api.openai.com', connect: false });
    const noHost = run([seg(true, 1, TCP_SYN, undefined, { dport: 80 }), seg(true, 2, TCP_ACK, Buffer.from('GET / HTTP/1.0\r\n\r\n'), { dport: 80 })], false);
    expect(noHost.obs.map((o) => o.action)).to.deep.equal(['connection']);
  });

  it('DNS over TCP: several messages in one segment, one message over several segments, both directions', () => {
    const m = (id: number, n: number): Uint8Array => bytes([(n >> 8) & 0xff, n & 0xff], new Uint8Array(n).fill(id));
    const q = bytes(m(1, 30), m(2, 40));
    const resp = m(3, 500);
    const r = run([
      seg(true, 100, TCP_SYN, undefined, { dport: 53 }),
      seg(false, 900, TCP_SYN | TCP_ACK, undefined, { dport: 53, ack: 101 }),
      seg(true, 101, TCP_ACK | TCP_PSH, q, { dport: 53 }),
      seg(false, 901 + 300, TCP_ACK, resp.subarray(300), { dport: 53 }),
      seg(false, 901, TCP_ACK, resp.subarray(0, 1), { dport: 53 }),
      seg(false, 902, TCP_ACK, resp.subarray(1, 300), { dport: 53 }),
    ]);
    expect(r.dns.map((d) => [d.msg.length, d.msg[0], d.fromServer])).to.deep.equal([[30, 1, false], [40, 2, false], [500, 3, true]]);
    expect(r.dns[2].at).to.include({ srcIp: '10.0.0.1', dstPort: 53 });
    expect(r.obs).to.deep.equal([]);
  });

  it('idle flows expire by capture time; the table never holds more than MAX_FLOWS', () => {
    const counters = new Counters();
    const obs: Observation[] = [];
    const t = new TcpFlowTable(counters, (o) => obs.push(o), () => {});
    t.onPacket(seg(true, 1, TCP_SYN, undefined, { ts: 1000 }));
    t.onPacket(seg(true, 1, TCP_SYN, undefined, { ts: 1000, sport: 51001 }));
    t.onPacket(seg(true, 2, TCP_ACK, undefined, { ts: 1000 + FLOW_IDLE_TIMEOUT_SEC - 1, sport: 51001 }));
    t.expire(1000 + FLOW_IDLE_TIMEOUT_SEC);
    expect(obs.map((o) => o.at.srcPort)).to.deep.equal([51000]);
    expect(t.size).to.equal(1);
    expect(counters.get('tcp.flow_expired')).to.equal(1);
    for (let i = 0; i < MAX_FLOWS + 10; i++) t.onPacket(seg(true, 1, TCP_SYN, undefined, { ts: 2000, sport: 1024 + (i % 60000), dport: 1000 + Math.floor(i / 60000) }));
    expect(t.size).to.equal(MAX_FLOWS);
    expect(counters.get('tcp.flow_evicted')).to.equal(11);
  });

  it('mid-stream bulk data and ACKs of unknown flows cost no observation and little state', () => {
    const pkts: L4Packet[] = [];
    for (let i = 0; i < 1000; i++) pkts.push(seg(i % 2 === 0, 5000 + i * 1400, TCP_ACK, i % 2 === 0 ? new Uint8Array(1400).fill(0x17) : new Uint8Array(0), { sport: 40000 + (i % 10) }));
    const r = run(pkts);
    expect(r.obs).to.deep.equal([]);
    expect(r.table.bufferedBytes).to.equal(0);
  });

  it('random packets never throw and never emit a hello that is not in the bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ c: fc.boolean(), seq: fc.nat(3000), flags: fc.nat(0x1f), p: fc.uint8Array({ maxLength: 300 }), port: fc.constantFrom(53, 443, 8080) }), { maxLength: 40 }),
        (list) => {
          const r = run(list.map((x) => seg(x.c, x.seq, x.flags, x.p, { dport: x.port })));
          for (const h of hellos(r)) if (h.hello.serverName !== null) expect(h.hello.serverName.length).to.be.greaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
