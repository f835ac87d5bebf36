// Disk spool speed (agent/ship/spool.ts): appends/s under each fsync policy, and batch
// reads/s (readBatch of the oldest unacknowledged events, then ack) on a spool in a temp
// directory. Events are TLS ClientHello events with a matched service (~700 bytes of JSON),
// like most of what an agent ships. Prints figures; not a pass/fail test.
//   usage: npx tsx bench/spool.ts [events]   (default 200000)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, type FsyncPolicy } from '../agent/ship/spool.js';
import type { UmbraEvent } from '../agent/event.js';

const N = Number(process.argv[2] ?? 200_000);
const BATCH_EVENTS = 2000;
const BATCH_BYTES = 4 * 1024 * 1024;

function event(i: number): UmbraEvent {
  return {
    '@timestamp': new Date(1_764_000_000_000 + i).toISOString().replace('Z', '123Z'),
    event: { kind: 'event', category: ['network'], type: ['protocol'], action: 'tls-client-hello', dataset: 'umbra.tls' },
    source: { ip: `10.1.${(i >> 8) & 255}.${i & 255}`, port: 40000 + (i % 20000) },
    destination: { ip: '160.79.104.10', port: 443, domain: 'api.anthropic.com' },
    network: { transport: 'tcp', protocol: 'tls', type: 'ipv4' },
    tls: { client: { server_name: 'api.anthropic.com', ja4: 't13d1516h2_8daaf6152771_02713d6af862', supported_versions: ['1.3', '1.2'] }, next_protocol: 'h2' },
    observer: { name: 'gateway-1' },
    umbra: {
      service: { id: 'anthropic-api', name: 'Anthropic API', vendor: 'Anthropic', category: 'llm-api', status: 'unreviewed' },
      match: { rule: 'api.anthropic.com', via: 'sni', kind: 'api' },
      tls: { alpn: ['h2', 'http/1.1'] },
    },
  };
}

function withSpool<T>(fsync: FsyncPolicy, fn: (s: Spool) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-spool-'));
  const s = Spool.open({ dir, agentId: 'bench-agent', fsync, fsyncIntervalMs: 1000, maxBytes: 4 * 1024 * 1024 * 1024, segmentBytes: 16 * 1024 * 1024 });
  try {
    return fn(s);
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const events = Array.from({ length: 1000 }, (_, i) => event(i));
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(10);

/** Appends n events one at a time (batch 1) or `batch` per appendMany call. */
function appendRate(fsync: FsyncPolicy, n: number, batch = 1): { rate: number; bytesPerEvent: number } {
  return withSpool(fsync, (s) => {
    const groups = Array.from({ length: Math.ceil(1000 / batch) }, (_, g) => events.slice(g * batch, g * batch + batch));
    const t0 = process.hrtime.bigint();
    if (batch === 1) for (let i = 0; i < n; i++) s.append(events[i % 1000]!);
    else for (let i = 0, g = 0; i < n; i += batch, g = (g + 1) % groups.length) s.appendMany(groups[g]!);
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    return { rate: n / sec, bytesPerEvent: s.bytes / n };
  });
}

console.log(`spool bench: ${N.toLocaleString('en-US')} events per case, node ${process.version}`);
for (const fsync of ['never', 'interval'] as const) {
  for (const batch of [1, 10, 100]) {
    const r = appendRate(fsync, N, batch);
    const how = batch === 1 ? 'append        ' : `appendMany(${String(batch).padStart(3)})`;
    console.log(`${how} fsync=${fsync.padEnd(8)} ${fmt(r.rate)} events/s  ${((r.rate * r.bytesPerEvent) / 1e6).toFixed(1).padStart(6)} MB/s  (${r.bytesPerEvent.toFixed(0)} bytes/frame)`);
  }
}
{
  const n = Math.min(N, 2000);
  const r = appendRate('always', n);
  console.log(`append         fsync=always   ${fmt(r.rate)} events/s  (${n} events; one fdatasync each)`);
}
for (const fsync of ['never', 'interval'] as const) {
  withSpool(fsync, (s) => {
    for (let i = 0; i < N; i += 100) s.appendMany(events.slice(i % 1000, (i % 1000) + 100));
    // Reads alone: the same oldest batch again and again (what a retry costs).
    let t0 = process.hrtime.bigint();
    let reads = 0;
    while (Number(process.hrtime.bigint() - t0) < 1e9) {
      s.readBatch(BATCH_EVENTS, BATCH_BYTES);
      reads++;
    }
    const rereadRate = reads / (Number(process.hrtime.bigint() - t0) / 1e9);
    // Read + ack through the whole spool (segments deleted on the way), as the shipper does.
    t0 = process.hrtime.bigint();
    let batches = 0;
    let got = 0;
    for (;;) {
      const b = s.readBatch(BATCH_EVENTS, BATCH_BYTES);
      if (b.length === 0) break;
      s.ack(b[b.length - 1]!.seq);
      batches++;
      got += b.length;
    }
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`read           fsync=${fsync.padEnd(8)} ${fmt(batches / sec)} batches/s of ${BATCH_EVENTS} (read+ack)  ${fmt(got / sec)} events/s;  re-read of one batch ${fmt(rereadRate)}/s`);
  });
}
