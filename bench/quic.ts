// QUIC Initial speed: client Initials/s opened by agent/decode/quic-initial.ts
// (header protection removal + AES-128-GCM) with the per-DCID key cache hit
// (Chromium's second Initial, retransmissions) and missed (every packet a new
// connection: 4 HMAC-SHA256 for the keys first), then whole ClientHellos/s
// through QuicInitialTable for Chromium's two-Initial split ClientHello (the
// fixture replayed with rewritten client ports). Prints figures; not a test.
//   usage: npx tsx bench/quic.ts [seconds-per-case]   (default 1)
import { clearInitialKeyCache, decodeQuicInitial, KEY_CACHE_MAX } from '../agent/decode/quic-initial.js';
import { cryptoFrames } from '../agent/decode/quic-frames.js';
import { QuicInitialTable } from '../agent/flow/quic-initials.js';
import { Counters } from '../agent/stats.js';
import type { L4Packet } from '../agent/packet.js';
import { fixture } from '../test/helpers/root.js';
import { readPcapL4 } from '../test/helpers/pcap-l4.js';
import { protectInitial, cryptoFrame } from '../test/agent/flow/quic-build.js';

const SECONDS = Number(process.argv[2] ?? 1);
let sink = 0;

function rate(fn: () => number, warm = 2000): number {
  for (let i = 0; i < warm; i++) sink += fn();
  let n = 0;
  const t0 = process.hrtime.bigint();
  const stop = t0 + BigInt(Math.round(SECONDS * 1e9));
  let t = t0;
  while (t < stop) {
    for (let i = 0; i < 200; i++) sink += fn();
    n += 200;
    t = process.hrtime.bigint();
  }
  return n / (Number(t - t0) / 1e9);
}

const fmt = (r: number): string => Math.round(r).toLocaleString('en-US').padStart(12);

// Real Chromium Initials (1252-byte packets, split ClientHello).
const packets = readPcapL4(fixture('captures', 'quic', 'chromium-v1-split.pcap'));
const chromium = packets.filter((p) => p.dstPort === 443 && p.payload.length >= 1200 && (p.payload[0]! & 0xf0) === 0xc0).slice(0, 2);
const one = chromium[0]!.payload;

// Hit: the same DCID every time.
const hit = rate(() => decodeQuicInitial(one, 0).value.payload.length);

// Miss: more distinct DCIDs than the cache holds, cycled (LRU → every lookup misses).
const N = KEY_CACHE_MAX * 2;
const ch = new Uint8Array(1800).fill(0x41);
const distinct: Uint8Array[] = [];
for (let i = 0; i < N; i++) {
  const dcid = Buffer.alloc(8);
  dcid.writeUInt32BE(i, 4);
  distinct.push(protectInitial(cryptoFrame(0, ch.subarray(0, 1100)), { dcid, pn: 0 }));
}
clearInitialKeyCache();
let k = 0;
const miss = rate(() => decodeQuicInitial(distinct[k++ % N]!, 0).value.payload.length);

// Decrypt + frame walk.
const frames = rate(() => cryptoFrames(decodeQuicInitial(one, 0).value.payload, 0).length);

// The table: Chromium's two Initials per connection, each connection on a new client port and DCID-keyed state.
const counters = new Counters();
let hellos = 0;
const table = new QuicInitialTable(counters, () => hellos++);
let port = 1024;
const conns = rate(() => {
  port = port >= 65535 ? 1024 : port + 1;
  for (const p of chromium) table.onDatagram({ ...p, srcPort: port } as L4Packet);
  if (port === 1024) table.flush();
  return hellos;
}, 200);

console.log(`QUIC Initial decode (${SECONDS}s per case, node ${process.version})`);
console.log(`${fmt(hit)} Initials/s  decrypted, key cache hit (Chromium 1252-byte Initial)`);
console.log(`${fmt(miss)} Initials/s  decrypted, key cache miss (new DCID each time: HKDF + AES key setup)`);
console.log(`${fmt(frames)} Initials/s  decrypted + CRYPTO frames walked (cache hit)`);
console.log(`${fmt(conns)} ClientHellos/s  QuicInitialTable, 2 Initials each, reassembled + parsed + JA4 (keys cached per DCID)`);
console.log(`(hellos reported: ${hellos}, quic.initial_after_hello ${counters.get('quic.initial_after_hello')}; sink ${sink % 7})`);
