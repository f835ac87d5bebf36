// Child process for the end-to-end crash test: a minimal agent — a spool, a shipper, and a
// deterministic event source that resumes from the spool. Event k (0-based) is
// mkEvent(k) and gets sequence k + 1 (nothing is dropped: the spool is large), so after a
// kill -9 the source continues at spool.nextSeq - 1 and the spool is the only memory.
// Prints "DONE" on stdout once all events are appended and acknowledged.
//   args: spoolDir collectorUrl caFile token agentId total eventsPerTick
import { readFileSync, writeSync } from 'node:fs';
import { Shipper } from '../../agent/ship/shipper.js';
import { Spool } from '../../agent/ship/spool.js';
import { mkEvent } from './ship.js';

const TICK_MS = 25;
const [dir, url, caFile, token, agentId, totalArg, perTickArg] = process.argv.slice(2) as string[];
const total = Number(totalArg);
const perTick = Number(perTickArg);
const spool = Spool.open({ dir: dir!, agentId: agentId!, fsync: 'never', maxBytes: 2 * 1024 * 1024 * 1024, segmentBytes: 4 * 1024 * 1024 });
const shipper = new Shipper({
  spool, url: url!, token: token!, ca: readFileSync(caFile!), lingerMs: 20, backoffBaseMs: 50, backoffCapMs: 1000,
  log: (level, m) => process.stderr.write(`agent ${process.pid}: ${level}: ${m}\n`),
});
shipper.start();
let k = spool.nextSeq - 1;
let done = false;
const timer = setInterval(() => {
  if (k < total) {
    const n = Math.min(perTick, total - k);
    const seqs = spool.appendMany(Array.from({ length: n }, (_, i) => mkEvent(k + i)));
    for (let i = 0; i < n; i++) {
      if (seqs[i] !== k + i + 1) {
        process.stderr.write(`event ${k + i} got sequence ${seqs[i]}, expected ${k + i + 1}\n`);
        process.exit(3);
      }
    }
    k += n;
  } else if (!done && spool.pending === 0) {
    done = true;
    writeSync(1, 'DONE\n');
    clearInterval(timer);
  }
}, TICK_MS);
