// The default kernel prefilter (agent/capture/bpf.ts): it compiles (tcpdump and
// the pcap binding the agent uses), it passes and drops hand-built packets by what
// they are (IPv4, IPv6, VLAN-tagged), and the real client fixtures filtered by it
// still give every AI event the unfiltered capture gives.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPF_IPV4, BPF_IPV6, DEFAULT_BPF_FILTER, DEFAULT_BPF_FILTER_NO_VLAN } from '../../../agent/capture/bpf.js';
import { writePcap } from '../../helpers/pcap-write.js';
import { analyzeFiles } from '../../helpers/analyze.js';
import { fixture } from '../../helpers/root.js';

const require = createRequire(import.meta.url);
const haveTcpdump = spawnSync('sh', ['-c', 'command -v tcpdump']).status === 0;
/** Linux's BPF_MAXINSNS. */
const BPF_MAX_INSNS = 4096;

// ---- packet builder -------------------------------------------------------------
type L4 = { proto: 'tcp'; sport: number; dport: number; flags: number; payload?: Buffer; optWords?: number } | { proto: 'udp'; sport: number; dport: number; payload: Buffer };
const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04, PSH = 0x08;

function l4bytes(l: L4): Buffer {
  if (l.proto === 'udp') {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(l.sport, 0); h.writeUInt16BE(l.dport, 2); h.writeUInt16BE(8 + l.payload.length, 4);
    return Buffer.concat([h, l.payload]);
  }
  const opt = l.optWords ?? 0;
  const h = Buffer.alloc(20 + opt * 4, 1); // options: NOPs
  h.writeUInt16BE(l.sport, 0); h.writeUInt16BE(l.dport, 2);
  h.writeUInt32BE(1000, 4); h.writeUInt32BE(2000, 8);
  h[12] = (5 + opt) << 4; h[13] = l.flags; h.writeUInt16BE(64240, 14); h.writeUInt32BE(0, 16);
  return Buffer.concat([h, l.payload ?? Buffer.alloc(0)]);
}

function packet(ip: 4 | 6, l: L4, vlan = false, fragOffset = 0): Buffer {
  const t = l4bytes(l);
  let iph: Buffer;
  if (ip === 4) {
    iph = Buffer.alloc(20);
    iph[0] = 0x45; iph.writeUInt16BE(20 + t.length, 2); iph.writeUInt16BE(fragOffset, 6); iph[8] = 64; iph[9] = l.proto === 'tcp' ? 6 : 17;
    Buffer.from([10, 1, 0, 2, 10, 2, 0, 1]).copy(iph, 12);
  } else {
    iph = Buffer.alloc(40);
    iph[0] = 0x60; iph.writeUInt16BE(t.length, 4); iph[6] = l.proto === 'tcp' ? 6 : 17; iph[7] = 64;
    iph[8] = 0xfd; iph[23] = 2; iph[24] = 0xfd; iph[39] = 1;
  }
  const eth = Buffer.alloc(vlan ? 18 : 14);
  eth.fill(0x02, 0, 12);
  if (vlan) { eth.writeUInt16BE(0x8100, 12); eth.writeUInt16BE(42, 14); }
  eth.writeUInt16BE(ip === 4 ? 0x0800 : 0x86dd, vlan ? 16 : 12);
  return Buffer.concat([eth, iph, t]);
}

const text = (s: string, pad = 0): Buffer => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(pad, 0x41)]);
const tlsHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), Buffer.alloc(200, 0x33)]);

interface Case { name: string; l4: L4; pass: boolean; v4Only?: boolean }
const CASES: Case[] = [
  { name: 'TCP SYN to 443', l4: { proto: 'tcp', sport: 40000, dport: 443, flags: SYN }, pass: true },
  { name: 'TCP SYN-ACK from 443', l4: { proto: 'tcp', sport: 443, dport: 40000, flags: SYN | ACK }, pass: true },
  { name: 'TCP FIN', l4: { proto: 'tcp', sport: 40000, dport: 443, flags: FIN | ACK }, pass: true },
  { name: 'TCP RST', l4: { proto: 'tcp', sport: 443, dport: 40000, flags: RST }, pass: true },
  { name: 'pure ACK', l4: { proto: 'tcp', sport: 40000, dport: 443, flags: ACK }, pass: false },
  { name: 'mid-stream TLS application data from the server', l4: { proto: 'tcp', sport: 443, dport: 40000, flags: ACK, payload: Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x05, 0x00]), Buffer.alloc(1395, 0x55)]) }, pass: false },
  { name: 'mid-stream bulk bytes to the server', l4: { proto: 'tcp', sport: 40000, dport: 443, flags: ACK | PSH, payload: Buffer.alloc(1400, 0x99) }, pass: false },
  { name: 'ClientHello first segment', l4: { proto: 'tcp', sport: 40000, dport: 443, flags: ACK | PSH, payload: tlsHello }, pass: true },
  { name: 'ClientHello after 12 bytes of TCP options', l4: { proto: 'tcp', sport: 40000, dport: 8443, flags: ACK | PSH, payload: tlsHello, optWords: 3 }, pass: true },
  { name: 'ClientHello on port 5000', l4: { proto: 'tcp', sport: 40000, dport: 5000, flags: ACK, payload: tlsHello }, pass: true },
  { name: 'HTTP GET', l4: { proto: 'tcp', sport: 40000, dport: 80, flags: ACK | PSH, payload: text('GET / HTTP/1.1\r\nHost: chatgpt.com\r\n\r\n') }, pass: true },
  { name: 'HTTP POST on 8080', l4: { proto: 'tcp', sport: 40000, dport: 8080, flags: ACK | PSH, payload: text('POST /v1/chat HTTP/1.1\r\n') }, pass: true },
  { name: 'HTTP CONNECT', l4: { proto: 'tcp', sport: 40000, dport: 3128, flags: ACK | PSH, payload: text('CONNECT api.openai.com:443 HTTP/1.1\r\n') }, pass: true },
  { name: 'HTTP PUT, HEAD, DELETE, OPTIONS, PATCH', l4: { proto: 'tcp', sport: 40000, dport: 80, flags: ACK, payload: text('PATCH /x HTTP/1.1\r\n') }, pass: true },
  { name: 'HTTP response', l4: { proto: 'tcp', sport: 80, dport: 40000, flags: ACK | PSH, payload: text('HTTP/1.1 200 OK\r\n', 1000) }, pass: false },
  { name: 'DNS over UDP', l4: { proto: 'udp', sport: 40000, dport: 53, payload: Buffer.alloc(30, 1) }, pass: true },
  { name: 'DNS answer over UDP', l4: { proto: 'udp', sport: 53, dport: 40000, payload: Buffer.alloc(60, 1) }, pass: true },
  { name: 'DNS over TCP, mid-stream', l4: { proto: 'tcp', sport: 40000, dport: 53, flags: ACK, payload: Buffer.alloc(40, 1) }, pass: true },
  { name: 'QUIC long header (Initial) to 443', l4: { proto: 'udp', sport: 40000, dport: 443, payload: Buffer.concat([Buffer.from([0xc3, 0, 0, 0, 1]), Buffer.alloc(1195)]) }, pass: true },
  { name: 'QUIC long header from 443 (Retry/Handshake)', l4: { proto: 'udp', sport: 443, dport: 40000, payload: Buffer.concat([Buffer.from([0xf0, 0, 0, 0, 1]), Buffer.alloc(100)]) }, pass: true },
  { name: 'QUIC short header (1-RTT bulk)', l4: { proto: 'udp', sport: 443, dport: 40000, payload: Buffer.concat([Buffer.from([0x43]), Buffer.alloc(1200)]) }, pass: false },
  { name: 'long-header-looking UDP on another port', l4: { proto: 'udp', sport: 40000, dport: 4433, payload: Buffer.concat([Buffer.from([0xc3]), Buffer.alloc(100)]) }, pass: false },
  { name: 'other UDP', l4: { proto: 'udp', sport: 40000, dport: 5004, payload: Buffer.alloc(1000) }, pass: false },
];

interface Built { label: string; pass: boolean; data: Buffer }
function buildAll(): Built[] {
  const out: Built[] = [];
  for (const ip of [4, 6] as const) {
    for (const vlan of [false, true]) {
      for (const c of CASES) out.push({ label: `IPv${ip}${vlan ? ' VLAN' : ''}: ${c.name}`, pass: c.pass, data: packet(ip, c.l4, vlan) });
    }
  }
  // a non-first IPv4 fragment (no ports visible) passes; its first fragment is tested as a packet
  out.push({ label: 'IPv4: non-first fragment', pass: true, data: packet(4, { proto: 'udp', sport: 0, dport: 0, payload: Buffer.alloc(500) }, false, 185) });
  return out;
}

/** Indexes (timestamp seconds) of the packets libpcap's filter passes, through the pcap binding. */
function passedByBinding(file: string, filter: string): Promise<number[]> {
  const pcap = require('pcap') as { createOfflineSession(p: string, o: { filter: string }): { on(ev: string, cb: (x: { header: Buffer }) => void): void; close(): void } };
  return new Promise((resolve) => {
    const s = pcap.createOfflineSession(file, { filter });
    const got: number[] = [];
    s.on('packet', (p) => got.push(p.header.readUInt32LE(0)));
    s.on('complete', () => {
      s.close();
      resolve(got);
    });
  });
}

describe('default kernel BPF prefilter', () => {
  let dir = '';
  before(() => (dir = mkdtempSync(join(tmpdir(), 'umbra-bpf-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles with tcpdump for Ethernet and raw IP, within the kernel instruction limit', function () {
    if (!haveTcpdump) this.skip();
    for (const dlt of ['EN10MB', 'RAW', 'LINUX_SLL', 'LINUX_SLL2']) {
      // libpcap has `vlan` only for Ethernet: elsewhere LiveCapture uses the filter without it
      const r = spawnSync('tcpdump', ['-y', dlt, '-ddd', dlt === 'EN10MB' ? DEFAULT_BPF_FILTER : DEFAULT_BPF_FILTER_NO_VLAN], { encoding: 'utf8' });
      expect(r.status, `${dlt}: ${r.stderr}`).to.equal(0);
      const n = Number(r.stdout.split('\n')[0]);
      expect(n, dlt).to.be.greaterThan(20).and.lessThan(BPF_MAX_INSNS);
    }
    // the IPv6 half is not the "rejects all packets" a tcp[...] test on IPv6 gives
    expect(spawnSync('tcpdump', ['-d', BPF_IPV6], { encoding: 'utf8' }).stderr).to.not.match(/rejects all/);
    expect(spawnSync('tcpdump', ['-y', 'RAW', '-d', DEFAULT_BPF_FILTER], { encoding: 'utf8' }).stderr).to.match(/no VLAN support/);
    expect(spawnSync('tcpdump', ['-d', BPF_IPV4], { encoding: 'utf8' }).status).to.equal(0);
  });

  it('passes handshakes, hellos, requests, DNS and QUIC long headers; drops bulk (IPv4, IPv6, VLAN), in the pcap binding and in tcpdump', async function () {
    const built = buildAll();
    const file = join(dir, 'cases.pcap');
    writePcap(file, 1, built.map((b, i) => ({ tsSec: i, tsUsec: 0, data: b.data })));
    const want = built.flatMap((b, i) => (b.pass ? [i] : []));
    const got = await passedByBinding(file, DEFAULT_BPF_FILTER);
    const name = (ids: number[]) => ids.map((i) => built[i]!.label);
    expect(name(got)).to.deep.equal(name(want));
    if (haveTcpdump) {
      const r = spawnSync('tcpdump', ['-nn', '-tt', '-r', file, DEFAULT_BPF_FILTER], { encoding: 'utf8' });
      const ts = r.stdout.trim().split('\n').filter(Boolean).map((l) => Number(l.split('.')[0]));
      expect(name(ts)).to.deep.equal(name(want));
    }
  });

  it('the real client fixtures filtered by it give the same AI events (service, action, name)', async function () {
    if (!haveTcpdump) this.skip();
    const files = ['clients', 'tls', 'http', 'dns', 'quic'].flatMap((d) => readdirSync(fixture('captures', d)).filter((f) => f.endsWith('.pcap') || f.endsWith('.pcapng')).map((f) => fixture('captures', d, f)));
    expect(files.length).to.be.greaterThan(20);
    let compared = 0;
    for (const f of files) {
      const out = join(dir, 'filtered.pcap');
      const r = spawnSync('tcpdump', ['-r', f, '-w', out, DEFAULT_BPF_FILTER], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const key = (es: { event: { action: string }; destination?: { domain?: string }; umbra?: { service?: { id: string } } }[]) =>
        [...new Set(es.filter((e) => e.umbra?.service).map((e) => `${e.event.action} ${e.destination?.domain} ${e.umbra!.service!.id}`))].sort();
      const full = key((await analyzeFiles([f], { all: false })).events);
      const filtered = key((await analyzeFiles([out], { all: false })).events);
      expect(filtered, f).to.deep.equal(full);
      if (full.length) compared++;
    }
    expect(compared).to.be.greaterThan(15);
  });
});
