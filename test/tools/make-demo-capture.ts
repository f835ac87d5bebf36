// Makes deploy/demo/office-morning.pcap, the capture `umbra demo` replays: the
// client fixtures (real dig, curl, openssl, python, node, Chromium and ngtcp2
// traffic, see test/tools/make-client-fixtures.sh and captures/quic/) given to six
// people: each session's client address is rewritten to that person's address
// and its times moved into one morning; checksums are recomputed. Nothing else
// in the packets changes, so what the demo finds is what the fixtures' own tests
// prove.
//   npm run build && node dist/test/tools/make-demo-capture.js [OUT]
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcap, type PacketRecord } from '../helpers/pcap-write.js';
import { fixChecksums, readPcap, rewriteAddress } from './pcap-rewrite.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const CAPTURES = join(ROOT, 'test', 'fixtures', 'captures');
/** 2026-11-25 08:30:00 UTC. */
const MORNING = Date.UTC(2026, 10, 25, 8, 30, 0) / 1000;
const SESSION_GAP_SEC = 420;
const USER_OFFSET_SEC = 97;

const FIXTURE_CLIENT_V4 = [Uint8Array.of(10, 99, 0, 1), Uint8Array.of(10, 77, 0, 1)];
const FIXTURE_CLIENT_V6 = Uint8Array.from([0xfd, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/** Who does what: the sessions of each person, in order. */
export const PEOPLE: { host: number; sessions: string[] }[] = [
  { host: 11, sessions: ['clients/curl-http1-ipv4', 'clients/curl-h2-ipv6'] },
  { host: 12, sessions: ['clients/chromium-tls', 'quic/chromium-v1-split'] },
  { host: 13, sessions: ['clients/openssl-tls12', 'clients/python-ssl', 'clients/dig-tcp'] },
  { host: 14, sessions: ['clients/node-tls', 'quic/ngtcp2-v1-handshake', 'clients/ip-literal'] },
  { host: 15, sessions: ['clients/curl-connect-proxy', 'quic/chromium-v1-gap-icmp', 'clients/openssl-tls13'] },
  { host: 16, sessions: ['clients/dig-udp', 'quic/chromium-v2-split'] },
];

function main(): void {
  const out = process.argv[2] ?? join(ROOT, 'deploy', 'demo', 'office-morning.pcap');
  const records: PacketRecord[] = [];
  for (const [u, person] of PEOPLE.entries()) {
    const v4 = Uint8Array.of(10, 20, 1, person.host);
    const v6 = Uint8Array.from([0xfd, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, parseInt(String(person.host), 16)]); // fd20::11 for 10.20.1.11
    for (const [s, name] of person.sessions.entries()) {
      const pkts = readPcap(join(CAPTURES, `${name}.pcap`));
      if (pkts.length === 0) throw new Error(`${name}.pcap: no packets`);
      const start = MORNING + u * USER_OFFSET_SEC + s * SESSION_GAP_SEC;
      const t0 = pkts[0]!.ts;
      for (const p of pkts) {
        const d = p.data.slice();
        for (const c of FIXTURE_CLIENT_V4) rewriteAddress(d, c, v4);
        rewriteAddress(d, FIXTURE_CLIENT_V6, v6);
        fixChecksums(d);
        const ts = start + (p.ts - t0);
        const sec = Math.floor(ts);
        records.push({ tsSec: sec, tsUsec: Math.min(999_999, Math.round((ts - sec) * 1e6)), data: d });
      }
    }
  }
  records.sort((a, b) => a.tsSec - b.tsSec || a.tsUsec - b.tsUsec);
  writePcap(out, 1, records);
  process.stdout.write(`${out}: ${records.length} packets, ${PEOPLE.length} people\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
