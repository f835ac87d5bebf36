// The crash test for shipping: while 200,000 events flow from an agent (spool +
// shipper, a child process) to the collector (`umbra collector`, a child process, SQLite),
// each is SIGKILLed at random moments ≥ 10 times and restarted. At the end the store holds
// exactly the 200,000 events, each once, and nothing was dead-lettered.
//   UMBRA_CRASH_EVENTS=N changes the number of events.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { hashToken } from '../../../collector/auth/tokens.js';
import { selfSigned, tempDir } from '../../helpers/ship.js';
import { EPOCH_BYTES } from '../../../agent/ship/spool.js';

const EVENTS = Number(process.env.UMBRA_CRASH_EVENTS ?? 200_000);
const KILLS_EACH = 10;
/** The agent generates events at EVENTS / FLOW_SECONDS per second, so the flow outlasts the kills (≤ 38 s). */
const FLOW_SECONDS = 40;
const TICK_MS = 25; // the agent's generation tick (test/helpers/ship-agent.ts)
const AGENT = 'crash-gw';
const TOKEN = 'crash-token-0123456789abcdef0123456789abcdef';
const ts = fileURLToPath(import.meta.url).endsWith('.ts');
const ext = ts ? 'ts' : 'js';
const script = (rel: string): string => fileURLToPath(new URL(`${rel}.${ext}`, import.meta.url));
const nodeArgs = ts ? ['--import', 'tsx'] : [];

/** `<agent>:<epoch>:` before the sequence in every event id. */
const PREFIX_LEN = AGENT.length + 1 + 2 * EPOCH_BYTES + 1;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const port = (srv.address() as { port: number }).port;
  await new Promise((ok) => srv.close(ok));
  return port;
}

function healthy(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/health', ca, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

class Child {
  proc: ChildProcess | undefined;
  stderr = '';
  stdout = '';
  starts = 0;
  constructor(private readonly args: string[]) {}
  start(): void {
    this.starts++;
    this.stdout = '';
    const p = spawn(process.execPath, [...nodeArgs, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-20_000)));
    this.proc = p;
  }
  async stop(signal: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((ok) => p.once('exit', () => ok()));
    p.kill(signal);
    await gone;
  }
  get exitedBadly(): string | undefined {
    const p = this.proc;
    if (p && p.exitCode !== null && p.exitCode !== 0) return `exit ${p.exitCode}: ${this.stderr.slice(-2000)}`;
    return undefined;
  }
}

describe(`agent ↔ collector under kill -9 (${EVENTS.toLocaleString('en-US')} events)`, function () {
  this.timeout(600_000);

  it(`agent and collector each SIGKILLed ${KILLS_EACH}× at random moments: the store holds every event exactly once`, async () => {
    const tmp = tempDir('umbra-crash-');
    const tls = await selfSigned(tmp.dir);
    const port = await freePort();
    const config = join(tmp.dir, 'umbra.yaml');
    writeFileSync(config, [
      `data_dir: ${join(tmp.dir, 'data')}`,
      'collector:',
      `  listen: { host: 127.0.0.1, port: ${port} }`,
      `  tls: { cert_file: ${tls.certFile}, key_file: ${tls.keyFile} }`,
      '  agents:',
      `    - id: ${AGENT}`,
      `      token_sha256: ${hashToken(TOKEN).toString('hex')}`,
      '',
    ].join('\n'));
    const collector = new Child([script('../../collector/run-umbra'), 'collector', '--config', config]);
    const agent = new Child([script('../../helpers/ship-agent'), join(tmp.dir, 'spool'), `https://127.0.0.1:${port}`, tls.certFile, TOKEN, AGENT, String(EVENTS), String(Math.ceil(EVENTS / ((FLOW_SECONDS * 1000) / TICK_MS)))]);
    try {
      collector.start();
      for (let i = 0; !(await healthy(port, tls.cert)); i++) {
        if (i > 200) throw new Error(`collector did not start: ${collector.stderr}`);
        await sleep(100);
      }
      agent.start();
      // Interleaved kills, random moments; the agent restarts at once, the collector after a pause.
      const order = [...Array(KILLS_EACH).fill('agent'), ...Array(KILLS_EACH).fill('collector')].sort(() => Math.random() - 0.5) as ('agent' | 'collector')[];
      for (const who of order) {
        await sleep(300 + Math.random() * 1200);
        for (const c of [agent, collector]) if (c.exitedBadly) throw new Error(`${c === agent ? 'agent' : 'collector'} died: ${c.exitedBadly}`);
        expect(agent.stdout, 'the flow ended before all the kills').to.not.include('DONE');
        const c = who === 'agent' ? agent : collector;
        await c.stop('SIGKILL');
        if (who === 'collector') await sleep(Math.random() * 800);
        c.start();
      }
      for (let i = 0; !agent.stdout.includes('DONE'); i++) {
        if (agent.exitedBadly || collector.exitedBadly) throw new Error(`died: ${agent.exitedBadly ?? collector.exitedBadly}`);
        if (i > 3000) throw new Error(`not done after 300 s; agent: ${agent.stderr.slice(-2000)}`);
        await sleep(100);
      }
      await agent.stop('SIGKILL');
      await collector.stop('SIGTERM');
      expect(collector.proc!.exitCode).to.equal(0);

      const db = new Database(join(tmp.dir, 'data', 'umbra.sqlite'), { readonly: true });
      try {
        const row = db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM events').get() as { n: number; ids: number };
        expect(row.n).to.equal(EVENTS);
        expect(row.ids).to.equal(EVENTS);
        // One spool epoch across every agent restart (same spool directory)...
        const epochs = db.prepare(`SELECT COUNT(DISTINCT substr(id, 1, ${PREFIX_LEN})) AS n FROM events`).get() as { n: number };
        expect(epochs.n).to.equal(1);
        // ...every id is there, and holds its own event (event k has sequence k + 1).
        const bad = db.prepare(`SELECT COUNT(*) AS n FROM events WHERE json_extract(doc, '$.dns.question.name') != 'q' || (CAST(substr(id, ${PREFIX_LEN + 1}) AS INTEGER) - 1) || '.example'`).get() as { n: number };
        expect(bad.n).to.equal(0);
        const range = db.prepare(`SELECT MIN(CAST(substr(id, ${PREFIX_LEN + 1}) AS INTEGER)) AS lo, MAX(CAST(substr(id, ${PREFIX_LEN + 1}) AS INTEGER)) AS hi FROM events`).get() as { lo: number; hi: number };
        expect(range).to.deep.equal({ lo: 1, hi: EVENTS });
        expect((db.prepare('SELECT COUNT(*) AS n FROM dead_letters').get() as { n: number }).n).to.equal(0);
      } finally {
        db.close();
      }
      expect(agent.starts).to.equal(KILLS_EACH + 1);
      expect(collector.starts).to.equal(KILLS_EACH + 1);
    } finally {
      await agent.stop('SIGKILL');
      await collector.stop('SIGKILL');
      tmp.remove();
    }
  });
});
