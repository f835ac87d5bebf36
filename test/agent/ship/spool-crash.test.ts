// kill -9 while appending: a child process appends to a spool and is SIGKILLed at random
// moments, then started again on the same spool. Every append that returned (the child
// printed its seq) must still be there unless acknowledged, exactly once, in order.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spool } from '../../../agent/ship/spool.js';
import type { UmbraEvent } from '../../../agent/event.js';
import { tempDir } from '../../helpers/ship.js';

const ROUNDS = 14;
const AGENT = 'crash-agent';
const self = fileURLToPath(import.meta.url);
const ts = self.endsWith('.ts');
const writer = fileURLToPath(new URL(`../../helpers/spool-writer.${ts ? 'ts' : 'js'}`, import.meta.url));

/** Runs the writer until `killAfterMs` after it opened the spool, SIGKILLs it, returns the complete lines of its log. */
function runAndKill(dir: string, round: number, killAfterMs: number): Promise<string[]> {
  const logFile = join(dir, `..`, `${dir.split('/').pop()}-writer-${round}.log`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(ts ? ['--import', 'tsx'] : []), writer, dir, String(round), AGENT, logFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!armed && out.includes('\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer ended with ${code ?? signal}: ${err}`));
      // A line cut by the kill was never completed: only whole lines count.
      out = readFileSync(logFile, 'utf8');
      rmSync(logFile);
      resolve(out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter((l) => l));
    });
  });
}

describe('agent/ship/spool under kill -9', function () {
  this.timeout(120_000);

  it(`${ROUNDS} SIGKILLs at random moments: every returned append is kept exactly once (unless acknowledged), sequence strictly increasing`, async () => {
    const tmp = tempDir();
    try {
      const printed = new Map<number, string>(); // seq → tag, for appends that returned
      const lastIndexOfRound: number[] = [];
      let printedAck = 0;
      let maxPrinted = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const lines = await runAndKill(tmp.dir, round, 30 + Math.floor(Math.random() * 400));
        let last = -1;
        for (const l of lines) {
          const [k, a, b] = l.split(' ');
          if (k === 'R') {
            // The recovered sequence never goes back to one that was handed out.
            expect(Number(a)).to.be.greaterThan(maxPrinted);
          } else if (k === 'A') {
            const seq = Number(a);
            expect(printed.has(seq), `seq ${seq} handed out twice`).to.equal(false);
            printed.set(seq, b!);
            last = Number(b!.split('-')[1]);
            maxPrinted = Math.max(maxPrinted, seq);
          } else if (k === 'K') {
            printedAck = Math.max(printedAck, Number(a));
          }
        }
        lastIndexOfRound.push(last);
      }
      expect(printed.size).to.be.greaterThan(ROUNDS * 20);

      const spool = Spool.open({ dir: tmp.dir, agentId: AGENT, fsync: 'never' });
      try {
        expect(spool.ackedSeq).to.be.at.least(printedAck);
        const recs = spool.readBatch(1e9, 1e12);
        const seqs = recs.map((r) => r.seq);
        for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).to.be.greaterThan(seqs[i - 1]!);
        const tags = new Set<string>();
        let unprinted = 0;
        for (const r of recs) {
          const e = JSON.parse(r.json.toString('utf8')) as UmbraEvent;
          expect(e.event.id).to.equal(`${spool.idPrefix}${r.seq}`);
          expect(e.event.id).to.match(new RegExp(`^${AGENT}:[0-9a-f]{12}:${r.seq}$`));
          const tag = /^q(.+?)\.example/.exec(e.dns!.question.name)![1]!;
          expect(tags.has(tag), `tag ${tag} twice`).to.equal(false);
          tags.add(tag);
          if (printed.has(r.seq)) {
            expect(tag).to.equal(printed.get(r.seq));
          } else {
            // Appended but killed before it printed: only the append right after the round's last printed one.
            const [round, i] = tag.split('-').map(Number) as [number, number];
            expect(i).to.equal(lastIndexOfRound[round]! + 1);
            unprinted++;
          }
        }
        expect(unprinted).to.be.at.most(ROUNDS);
        // Every returned append beyond the ack pointer is there.
        for (const [seq, tag] of printed) if (seq > spool.ackedSeq) expect(tags.has(tag), `lost ${seq} ${tag}`).to.equal(true);
        expect(spool.counters.get('spool.corrupt_frames')).to.equal(0);
        const expected = [...printed.keys()].filter((s) => s > spool.ackedSeq).length;
        expect(recs.length - unprinted).to.equal(expected);
      } finally {
        spool.close();
      }
    } finally {
      tmp.remove();
    }
  });
});
