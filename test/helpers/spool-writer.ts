// Child process for the kill -9 test: appends events to a spool as fast as it can and
// reports each step in a log file, with write(2) (nothing buffered in the process):
//   R <nextSeq>            spool opened (also written to stdout: the parent's start signal)
//   A <seq> <tag>          append returned seq for the event tagged <tag>
//   K <seq>                ack(seq) returned
// It acknowledges from time to time (as a shipper would) so segments rotate and are
// deleted while it may be killed. Never exits on its own.
import { openSync, writeSync } from 'node:fs';
import { Spool } from '../../agent/ship/spool.js';
import { mkEvent } from './ship.js';

const [dir, run, agentId, logFile] = process.argv.slice(2) as [string, string, string, string];
const log = openSync(logFile, 'a');
const spool = Spool.open({ dir, agentId, fsync: 'never', segmentBytes: 16 * 1024, maxBytes: 64 * 1024 * 1024 });
writeSync(log, `R ${spool.nextSeq}\n`);
writeSync(1, 'R\n');
let i = 0;
for (;;) {
  const tag = `${run}-${i}`;
  const seq = spool.append(mkEvent(tag, (i * 7919) % 400));
  if (seq === null) throw new Error('unexpected drop');
  writeSync(log, `A ${seq} ${tag}\n`);
  i++;
  if (i % 97 === 0) {
    // Acknowledge all but the newest 50, like a shipper lagging behind.
    const upto = seq - 50;
    if (upto > spool.ackedSeq) {
      spool.ack(upto);
      writeSync(log, `K ${upto}\n`);
    }
  }
}
