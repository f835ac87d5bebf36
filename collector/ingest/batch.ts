// One decoded request body → events to store and dead letters. Limits that make
// the whole batch unacceptable (a line or the event count too large) are checked
// in a first pass over the bytes before anything is parsed, so the answer is a
// 413 with nothing stored; a line that is merely bad becomes a dead letter.
import { isUtf8 } from 'node:buffer';
import type { Limits } from '../config.js';
import type { DeadLetter, EventBytes, StoredEvent } from '../store/store.js';
import { MAX_DEAD_LETTER_LINE_CHARS, storedEvent } from '../store/store.js';
import { checkEvent, isRejected } from './check-event.js';

export interface DecodedBatch {
  events: StoredEvent[];
  deadLetters: DeadLetter[];
  /** Where each event's line is in the body, when the body is valid UTF-8 (null otherwise). */
  bytes: EventBytes | null;
}

export interface BatchTooLarge {
  tooLarge: string;
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * Lines decoded between two turns of the event loop. A 2,000-event batch takes
 * ~20-30 ms to decode; in one piece it held back the answers of the batches the
 * SQLite writer had meanwhile committed (median 11 ms, p90 45 ms in bench/ingest),
 * and with them the agents' next batches.
 */
export const DECODE_SLICE_LINES = 256;

/** Splits NDJSON (LF or CRLF, blank lines ignored), parses and checks each line, yielding to the event loop every DECODE_SLICE_LINES lines. */
export async function decodeBatch(body: Buffer, agentId: string, limits: Pick<Limits, 'maxLineBytes' | 'maxBatchEvents'>, receivedAt: string): Promise<DecodedBatch | BatchTooLarge> {
  // Pass 1, on the bytes: line boundaries and the batch-wide limits, before any parsing.
  const starts: number[] = [];
  const ends: number[] = [];
  let pos = 0;
  while (pos < body.length) {
    let nl = body.indexOf(NL, pos);
    if (nl < 0) nl = body.length;
    let end = nl;
    if (end > pos && body[end - 1] === CR) end--;
    if (end > pos) {
      if (end - pos > limits.maxLineBytes) return { tooLarge: `line ${starts.length + 1} is ${end - pos} bytes, at most ${limits.maxLineBytes}` };
      if (starts.length === limits.maxBatchEvents) return { tooLarge: `more than ${limits.maxBatchEvents} events in one batch` };
      starts.push(pos);
      ends.push(end);
    }
    pos = nl + 1;
  }
  // Pass 2: each line decoded on its own. One string per line is a young-generation
  // allocation; one string for the whole body (~1 MB) is a large-object allocation,
  // and decoding it measured 15× slower than the lines one by one.
  const events: StoredEvent[] = [];
  const deadLetters: DeadLetter[] = [];
  const eventStarts = new Uint32Array(starts.length);
  const eventEnds = new Uint32Array(starts.length);
  for (let i = 0; i < starts.length; i++) {
    if (i > 0 && i % DECODE_SLICE_LINES === 0) await new Promise((resolve) => setImmediate(resolve));
    const line = body.toString('utf8', starts[i], ends[i]);
    const bytes = ends[i]! - starts[i]!;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      deadLetters.push(dead(receivedAt, agentId, 'json_invalid', `line ${i + 1}: ${(e as Error).message.slice(0, 200)}`, line, bytes));
      continue;
    }
    const r = checkEvent(v, agentId);
    if (isRejected(r)) deadLetters.push(dead(receivedAt, agentId, r.reason, `line ${i + 1}: ${r.detail}`, line, bytes));
    else {
      eventStarts[events.length] = starts[i]!;
      eventEnds[events.length] = ends[i]!;
      events.push(storedEvent(r.event, agentId, r.timestampMs, line));
    }
  }
  // Valid UTF-8 as a whole means every line is (a line ends at an ASCII byte), and its bytes
  // are those of its decoded string: a store may keep the bytes as they came. Invalid bytes
  // were replaced by U+FFFD when the lines were decoded; then only the strings are right.
  const bytes = isUtf8(body) ? { body, starts: eventStarts.subarray(0, events.length), ends: eventEnds.subarray(0, events.length) } : null;
  return { events, deadLetters, bytes };
}

function dead(receivedAt: string, agentId: string, reason: string, detail: string, line: string, lineBytes: number): DeadLetter {
  return { receivedAt, agentId, reason, detail, line: line.length > MAX_DEAD_LETTER_LINE_CHARS ? line.slice(0, MAX_DEAD_LETTER_LINE_CHARS) : line, lineBytes };
}
