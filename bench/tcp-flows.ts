// TcpFlowTable throughput on a gateway-like mix: ~20 % of packets are connection
// set-up (SYN, SYN-ACK, ACK, a ClientHello in one segment or — a third of the
// flows, Chromium-sized — two, the server's first data), ~80 % bulk TLS data and
// ACKs on flows already decided. Flows overlap (a window of concurrent flows), as
// on a real link. Prints packets/s for the mix, and for bulk packets alone on
// decided flows (the cost that must be "almost nothing").
// Run: npm run build && node dist/bench/tcp-flows.js [flows] [window]
//  or: npx tsx bench/tcp-flows.ts [flows] [window]
import { TcpFlowTable } from '../agent/flow/tcp-flows.js';
import { Counters } from '../agent/stats.js';
import { TCP_ACK, TCP_PSH, TCP_SYN, type L4Packet } from '../agent/packet.js';
import { alpnExt, buildClientHello, opaqueExt, sigAlgsExt, sniExt, supportedVersionsExt, toRecords } from '../test/helpers/tls-builder.js';

const FLOWS = Number(process.argv[2] ?? 40_000);
const WINDOW = Number(process.argv[3] ?? 2_000);
const BULK_PER_FLOW = 24; // 4 × the ~6 set-up packets: 80 % bulk
const PASSES = 5;

const smallHello = toRecords(buildClientHello({ ciphers: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f], extensions: [sniExt('chatgpt.com'), alpnExt(['h2', 'http/1.1']), supportedVersionsExt([0x0304, 0x0303]), sigAlgsExt([0x0403, 0x0804, 0x0401]), opaqueExt(0x0033, 40)] }));
const bigHello = toRecords(buildClientHello({ ciphers: [0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f], extensions: [opaqueExt(0x1a1a), sniExt('claude.ai'), alpnExt(['h2', 'http/1.1']), supportedVersionsExt([0x0304, 0x0303]), sigAlgsExt([0x0403, 0x0804]), opaqueExt(0x0033, 1250), opaqueExt(0xfe0d, 250)] }));
const serverFirst = new Uint8Array(1200).fill(0x16);
const bulk = new Uint8Array(1400).fill(0x17);
const empty = new Uint8Array(0);

function flowPackets(i: number): { setup: L4Packet[]; bulk: L4Packet[] } {
  const cli = new Uint8Array([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]);
  const srv = new Uint8Array([104, 18, (i >> 4) & 0xff, 7]);
  const sport = 1024 + (i % 60000);
  const mk = (fromClient: boolean, seq: number, flags: number, payload: Uint8Array): L4Packet => ({
    tsSec: 1_700_000_000 + Math.floor(i / 1000),
    tsNsec: 0,
    ipVersion: 4,
    src: fromClient ? cli : srv,
    dst: fromClient ? srv : cli,
    transport: 'tcp',
    srcPort: fromClient ? sport : 443,
    dstPort: fromClient ? 443 : sport,
    seq: seq >>> 0,
    ack: 0,
    flags,
    payload,
  });
  const isn = (i * 2654435761) >>> 0;
  const sisn = (i * 40503) >>> 0;
  const hello = i % 3 === 0 ? bigHello : smallHello;
  const setup = [mk(true, isn, TCP_SYN, empty), { ...mk(false, sisn, TCP_SYN | TCP_ACK, empty), ack: (isn + 1) >>> 0 }, mk(true, isn + 1, TCP_ACK, empty)];
  if (hello.length > 1400) setup.push(mk(true, isn + 1, TCP_ACK | TCP_PSH, hello.subarray(0, 1400)), mk(true, isn + 1401, TCP_ACK | TCP_PSH, hello.subarray(1400)));
  else setup.push(mk(true, isn + 1, TCP_ACK | TCP_PSH, hello));
  setup.push(mk(false, sisn + 1, TCP_ACK | TCP_PSH, serverFirst));
  const b: L4Packet[] = [];
  let sseq = sisn + 1 + serverFirst.length;
  for (let k = 0; k < BULK_PER_FLOW; k++) {
    if (k % 2 === 0) {
      b.push(mk(false, sseq, TCP_ACK, bulk));
      sseq += bulk.length;
    } else b.push(mk(true, isn + 1 + hello.length, TCP_ACK, empty));
  }
  return { setup, bulk: b };
}

// Interleave: WINDOW flows in progress at once, each giving one packet per round.
const all: L4Packet[] = [];
const bulkOnly: L4Packet[] = [];
{
  const queue: L4Packet[][] = [];
  let next = 0;
  const active: { pkts: L4Packet[]; at: number }[] = [];
  while (next < FLOWS || active.length > 0) {
    while (active.length < WINDOW && next < FLOWS) {
      const f = flowPackets(next++);
      active.push({ pkts: [...f.setup, ...f.bulk], at: 0 });
      queue.push(f.bulk);
    }
    for (let k = active.length - 1; k >= 0; k--) {
      const a = active[k]!;
      all.push(a.pkts[a.at++]!);
      if (a.at === a.pkts.length) active.splice(k, 1);
    }
  }
  // the bulk packets in the same interleaved order as in the mix
  const isBulk = new Set<L4Packet>();
  for (const q of queue) for (const p of q) isBulk.add(p);
  for (const p of all) if (isBulk.has(p)) bulkOnly.push(p);
}

function measure(label: string, pkts: L4Packet[], fresh: boolean, table?: TcpFlowTable): TcpFlowTable {
  let best = Infinity;
  let t = table;
  let observations = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    if (fresh || t === undefined) {
      observations = 0;
      t = new TcpFlowTable(new Counters(), () => observations++, () => {});
    }
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < pkts.length; i++) t.onPacket(pkts[i]!);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns < best) best = ns;
  }
  const pps = pkts.length / (best / 1e9);
  console.log(`${label.padEnd(44)} ${pkts.length.toLocaleString('en').padStart(10)} packets  ${(pps / 1e6).toFixed(2).padStart(6)} M packets/s  ${(best / pkts.length).toFixed(0).padStart(4)} ns/packet${fresh ? `  (${observations} observations)` : ''}`);
  return t!;
}

const setupShare = 1 - bulkOnly.length / all.length;
console.log(`TcpFlowTable bench: ${FLOWS.toLocaleString('en')} flows, ${WINDOW} concurrent, ${(setupShare * 100).toFixed(0)} % set-up packets, ${((1 - setupShare) * 100).toFixed(0)} % bulk/ACK; best of ${PASSES} passes, node ${process.version}`);
const table = measure('mix (new table each pass)', all, true);
measure('bulk/ACK only, flows already decided', bulkOnly, false, table);
const rss = process.memoryUsage();
console.log(`flows in table after the mix: ${table.size.toLocaleString('en')}, reassembly bytes held: ${table.bufferedBytes}, heap used ${(rss.heapUsed / 2 ** 20).toFixed(0)} MB, rss ${(rss.rss / 2 ** 20).toFixed(0)} MB`);
