// Shipping speed: events/s from a full disk spool through the shipper (gzip NDJSON over
// HTTPS, keep-alive, ack per batch) into the real collector (collector/ingest/server.ts)
// on its SQLite store, all on loopback, in one process (agent and collector take turns on
// one core); and the shipper alone against a server that only counts lines (no store), to
// tell the agent's cost from the collector's. Agent and `umbra collector` in their own
// processes, as deployed: bench/ingest.ts. Prints figures; not a pass/fail test.
//   usage: npx tsx bench/ship.ts [events] [batch]   (default 100000, 2000)
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { UmbraEvent } from '../agent/event.js';
import { Shipper } from '../agent/ship/shipper.js';
import { Spool } from '../agent/ship/spool.js';
import { hashToken } from '../collector/auth/tokens.js';
import { parseConfig } from '../collector/config.js';
import { generateSelfSigned } from '../collector/ingest/self-signed.js';
import { startCollector } from '../collector/ingest/server.js';

const N = Number(process.argv[2] ?? 100_000);
const BATCH = Number(process.argv[3] ?? 2000);
const AGENT = 'bench-agent';
const TOKEN = 'bench-token-0123456789abcdef0123456789abcdef';

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
      service: { id: 'anthropic-api', name: 'Anthropic API', vendor: 'Anthropic', category: 'llm-api' },
      match: { rule: 'api.anthropic.com', via: 'sni', kind: 'api' },
    },
  };
}

async function drain(dir: string, url: string, ca: string): Promise<{ sec: number; bytes: number; batches: number }> {
  const spool = Spool.open({ dir: join(dir, `spool-${Math.random().toString(36).slice(2)}`), agentId: AGENT, fsync: 'interval', maxBytes: 4 * 1024 * 1024 * 1024 });
  for (let i = 0; i < N; i += 100) spool.appendMany(Array.from({ length: Math.min(100, N - i) }, (_, k) => event(i + k)));
  const shipper = new Shipper({ spool, url, token: TOKEN, ca, batchMaxEvents: BATCH, lingerMs: 5 });
  const t0 = process.hrtime.bigint();
  shipper.start();
  while (spool.pending > 0) await new Promise((r) => setTimeout(r, 2));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  await shipper.stop(1000);
  spool.close();
  return { sec, bytes: shipper.counters.get('ship.bytes_sent'), batches: shipper.counters.get('ship.batches_acked') };
}

const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-ship-'));
try {
  const cert = await generateSelfSigned(join(dir, 'tls'));
  console.log(`ship bench: ${N.toLocaleString('en-US')} events, batches of ${BATCH}, node ${process.version}`);

  // 1. A collector that decompresses and counts lines, nothing more.
  const counter = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = gunzipSync(Buffer.concat(chunks));
      let lines = 1;
      for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1)) lines++;
      res.end(JSON.stringify({ accepted: lines, duplicates: 0, dead_lettered: 0 }));
    });
  });
  await new Promise<void>((ok) => counter.listen(0, '127.0.0.1', ok));
  const r1 = await drain(dir, `https://127.0.0.1:${(counter.address() as AddressInfo).port}`, cert.certPem);
  counter.close();
  console.log(`shipper → counting server      ${Math.round(N / r1.sec).toLocaleString('en-US').padStart(9)} events/s  (${r1.batches} batches, ${(r1.bytes / N).toFixed(0)} gzip bytes/event)`);

  // 2. The real collector on SQLite.
  const config = parseConfig({
    data_dir: join(dir, 'data'),
    collector: {
      listen: { host: '127.0.0.1', port: 0 },
      tls: { cert_file: cert.certFile, key_file: cert.keyFile },
      agents: [{ id: AGENT, token_sha256: hashToken(TOKEN).toString('hex') }],
    },
  }, '(bench)');
  const collector = await startCollector(config, { log: () => {} });
  const r2 = await drain(dir, collector.url, cert.certPem);
  const stored = await collector.store.count();
  await collector.close();
  console.log(`shipper → collector → SQLite   ${Math.round(N / r2.sec).toLocaleString('en-US').padStart(9)} events/s  (${r2.batches} batches; ${stored.toLocaleString('en-US')} stored; same process)`);

  // 3. The collector as its own process (`umbra collector`), as deployed: agent and
  //    collector work at the same time on the two cores.
} finally {
  rmSync(dir, { recursive: true, force: true });
}
