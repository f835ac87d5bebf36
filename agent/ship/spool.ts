// The agent's durable disk spool: every event is written here before it is shipped,
// and deleted only after the collector acknowledged that it is stored.
//
// Layout of the spool directory:
//   segment-<first seq, 20 digits>.spool   append-only segment files, oldest first
//   ack                                    the acknowledged sequence (written to ack.tmp, renamed)
//   lock                                   pid of the process that has the spool open
//   epoch                                  random id of this spool's life (written once, at creation)
//
// Each record is one frame, big-endian:
//   magic u16 | length u32 (payload bytes) | crc32 u32 (of seq + payload) | seq u64 | payload
// The payload is the event as UTF-8 JSON. The magic 0xF5A9 starts with 0xF5, a byte that
// never occurs in UTF-8, so it can never appear inside a payload: after a corrupt frame the
// reader finds the next frame by scanning for the magic and checking the CRC.
//
// Limits and choices:
// - Sequences start at 1, increase by one per appended event and survive restarts (recovered
//   from the last valid frame, the newest segment's name and the ack pointer at open). The
//   event id is `<agentId>:<epoch>:<seq>`, so a batch replayed after a crash is a duplicate the
//   collector recognises, never a second copy; the epoch (random, made when the spool
//   directory is created) keeps a deleted or re-created spool, whose sequences start at 1
//   again, from reusing ids the collector already holds (it would drop the new events as
//   duplicates).
// - Bounded size (`maxBytes`, all segment files together). When an append would exceed it, the
//   NEW event is dropped and counted (`spool.dropped`): the oldest evidence is kept (the start
//   of an incident matters more than its tail), and what is lost is exactly the events whose
//   append returned null. The other two ways an event is not stored are counted too: larger
//   than MAX_RECORD_BYTES (`spool.rejected_too_large`) and a failed write, e.g. disk full
//   (`spool.dropped_write_error`; the file is cut back, the spool goes on).
// - Acknowledged bytes of the oldest segment count against the bound until the whole segment
//   is acknowledged and deleted; a fully acknowledged spool starts a fresh segment at once.
// - A torn last frame (process killed mid-write) is truncated at open (`spool.torn_frames`,
//   `spool.torn_bytes`); a damaged region elsewhere (bad magic, length or CRC; one frame or
//   several adjacent ones) is skipped when read, by scanning to the next valid frame, and
//   counted once: `spool.corrupt_regions`, `spool.corrupt_bytes`, and `spool.corrupt_frames`,
//   the unacknowledged events lost in it — exact, because sequences are contiguous (a dropped
//   event never uses one up), so the gap between the good frames around the damage is the
//   number of events it held. Neither is fatal.
// - Durability: `append`/`appendMany` return after write(2) (appendMany: one write for the
//   whole batch — write(2) is the main cost), so the event survives a crash of the process;
//   surviving a power loss needs fsync, per the `fsync` policy (`always`: every append;
//   `interval`: every `fsyncIntervalMs` when something was written; `never`: left to the OS).
// - One process at a time: a `lock` file holds the owner's pid; a lock left by a dead process
//   is taken over.
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32 } from './crc32.js';
import type { UmbraEvent } from '../event.js';
import { Counters } from '../stats.js';

/** First two bytes of every frame. 0xF5 never occurs in UTF-8, so never inside a payload. */
export const FRAME_MAGIC = 0xf5a9;
/** magic u16 + length u32 + crc32 u32 + seq u64. */
export const FRAME_HEADER_BYTES = 18;
/** Largest event (JSON bytes) the spool stores; larger ones are refused and counted. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Default bound on all segment files together. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;
/** Default size at which the spool starts a new segment file. */
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Default period of the `interval` fsync policy. */
export const DEFAULT_FSYNC_INTERVAL_MS = 1000;
/** Bytes read from a segment at a time (grown on demand for a larger frame). */
export const READ_CHUNK_BYTES = 256 * 1024;
/** Longest agent id accepted (it is part of every event id). */
export const MAX_AGENT_ID_LENGTH = 128;

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface SpoolOptions {
  /** Directory of the spool (created if missing). */
  dir: string;
  /** Agent id: `observer.id` of every event and the prefix of `event.id`. */
  agentId: string;
  /** Bound on all segment files together (default DEFAULT_SPOOL_MAX_BYTES). */
  maxBytes?: number;
  /** A new segment starts when the current one would grow beyond this (default DEFAULT_SEGMENT_BYTES). */
  segmentBytes?: number;
  /** Default `interval`. */
  fsync?: FsyncPolicy;
  /** Period of the `interval` policy (default DEFAULT_FSYNC_INTERVAL_MS). */
  fsyncIntervalMs?: number;
  /** Where the spool counts drops and corruption (`spool.*`); a new instance if absent. */
  counters?: Counters;
}

/** One stored event: its sequence and its JSON bytes (one NDJSON line without the newline). */
export interface SpoolRecord {
  seq: number;
  json: Buffer;
}

/** An arena larger than this is given back when a read used less than a quarter of it. */
export const ARENA_KEEP_BYTES = 1024 * 1024;

/**
 * A reusable buffer for readBatch: the events' JSON is copied into it one after another,
 * each followed by '\n', instead of into a new Buffer per event; the records of one read are
 * views into it, valid until the next read with the same arena, and ndjsonBody() of records
 * read together is a view as well (no copy). The shipper holds a batch across a request:
 * per-event Buffers lived long enough to be promoted to old space, and each pinned its memory
 * until V8's next full collection, which external memory triggers only 64 MB later
 * (bench/live, 1.2M-packet gateway capture: the agent's ArrayBuffer bytes peaked at
 * 32-50 MB with a copy per event, 11-22 MB with the arena; VmHWM 151-174 → 125-134 MB).
 */
export class SpoolArena {
  buf: Buffer = Buffer.alloc(0);
  used = 0;

  /** Starts a read: what the previous one holds is given up. */
  reset(): void {
    if (this.buf.length > ARENA_KEEP_BYTES && this.used < this.buf.length / 4) this.buf = Buffer.allocUnsafeSlow(Math.max(ARENA_KEEP_BYTES, this.used * 2));
    this.used = 0;
  }

  /** Copies `src` and a newline in; returns the view of `src`'s copy. Growing moves the earlier records' views along. */
  take(src: Uint8Array, earlier: SpoolRecord[]): Buffer {
    const need = this.used + src.length + 1;
    if (need > this.buf.length) {
      const old = this.buf;
      const grown = Buffer.allocUnsafeSlow(Math.max(need, old.length * 2, 64 * 1024));
      old.copy(grown, 0, 0, this.used);
      for (const r of earlier) r.json = grown.subarray(r.json.byteOffset - old.byteOffset, r.json.byteOffset - old.byteOffset + r.json.length);
      this.buf = grown;
    }
    const at = this.used;
    this.buf.set(src, at);
    this.buf[at + src.length] = 0x0a;
    this.used = need;
    return this.buf.subarray(at, at + src.length);
  }
}

/**
 * The records' JSON as NDJSON (one event per line, no final newline): a view when they lie
 * one after another separated by newlines (read together into a SpoolArena), else a copy.
 */
export function ndjsonBody(records: readonly SpoolRecord[]): Buffer {
  if (records.length === 0) return Buffer.alloc(0);
  const first = records[0]!.json;
  const whole = new Uint8Array(first.buffer); // one view to read the separators through, not one per record
  let prev = first;
  for (let i = 1; i < records.length; i++) {
    const cur = records[i]!.json;
    const sep = prev.byteOffset + prev.length;
    if (cur.buffer !== first.buffer || cur.byteOffset !== sep + 1 || whole[sep] !== 0x0a) {
      return Buffer.concat(records.flatMap((r, j) => (j === 0 ? [r.json] : [NEWLINE, r.json])));
    }
    prev = cur;
  }
  return Buffer.from(first.buffer, first.byteOffset, prev.byteOffset + prev.length - first.byteOffset);
}
const NEWLINE = Buffer.from('\n');

/** A spool that cannot be opened (locked by another process, unreadable directory). */
export class SpoolError extends Error {
  constructor(readonly dir: string, message: string) {
    super(`${dir}: ${message}`);
    this.name = 'SpoolError';
  }
}

interface Segment {
  firstSeq: number;
  path: string;
  size: number;
}

const SEGMENT_RE = /^segment-(\d{20})\.spool$/;
const ACK_FILE = 'ack';
const ACK_TMP = 'ack.tmp';
const LOCK_FILE = 'lock';
const EPOCH_FILE = 'epoch';
/** Random bytes of a spool's epoch (12 hex digits in event ids). */
export const EPOCH_BYTES = 6;
const EPOCH_RE = /^[0-9a-f]{12}$/;
const ACK_PREFIX = 'umbra-spool-ack 1 ';
const MAGIC_BYTES = Buffer.from([FRAME_MAGIC >> 8, FRAME_MAGIC & 0xff]);

/** Spool directories open in this process (the lock file cannot tell our own pid's instances apart). */
const openDirs = new Set<string>();

const segmentName = (firstSeq: number): string => `segment-${String(firstSeq).padStart(20, '0')}.spool`;

type FrameResult =
  | { kind: 'ok'; seq: number; start: number; length: number; next: number }
  | { kind: 'end' }
  | { kind: 'corrupt'; next: number };

export class Spool {
  readonly dir: string;
  readonly agentId: string;
  /** Random id of this spool directory's life (see the header); set at open. */
  private epoch = '';
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly fsync: FsyncPolicy;
  readonly counters: Counters;

  private segments: Segment[] = [];
  private writeFd = -1;
  private _nextSeq = 1;
  private _ackedSeq = 0;
  private _bytes = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private locked = false;
  /** The message of the last failed write (disk full …), for status displays. */
  lastWriteError = '';

  // Read cursor: no unacknowledged frame lies before (cursorSeg, cursorOff).
  private cursorSeg: Segment | undefined;
  private cursorOff = 0;
  // Where each record handed out and not yet acknowledged ends (the last readBatch, or every
  // readAhead since the last rewind), to move the cursor on ack without rescanning.
  private lastBatchEnds: { seq: number; seg: Segment; next: number }[] = [];
  // Where the next readAhead starts: after the last record it handed out (null: at the cursor).
  private ahead: { seg: Segment; off: number; seq: number } | null = null;
  // Corrupt regions are counted once: only those beyond the furthest one counted.
  private countedSeg = -1;
  private countedOff = -1;
  // After a damaged region: the last good sequence before it (-1: none pending). The events
  // lost are counted exactly when the next good frame shows where the sequence resumes.
  private gapFrom = -1;

  // Read buffer over one segment.
  private rbuf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  private rSeg: Segment | undefined;
  private rFd = -1;
  private rStart = 0;
  private rLen = 0;

  private constructor(opts: SpoolOptions) {
    this.dir = resolve(opts.dir);
    this.agentId = opts.agentId;
    this.maxBytes = opts.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.fsync = opts.fsync ?? 'interval';
    this.counters = opts.counters ?? new Counters();
    if (!['always', 'interval', 'never'].includes(this.fsync)) throw new SpoolError(this.dir, `fsync policy '${String(this.fsync)}' is not one of always, interval, never`);
    if (!opts.agentId || opts.agentId.length > MAX_AGENT_ID_LENGTH) throw new SpoolError(this.dir, `agent id must be 1..${MAX_AGENT_ID_LENGTH} characters`);
    if (!(this.segmentBytes >= FRAME_HEADER_BYTES + 1)) throw new SpoolError(this.dir, `segment size ${this.segmentBytes} too small`);
    if (!(this.maxBytes >= this.segmentBytes)) throw new SpoolError(this.dir, `spool bound ${this.maxBytes} is below the segment size ${this.segmentBytes}`);
    if (this.fsync === 'interval') {
      const ms = opts.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS;
      if (!(ms > 0)) throw new SpoolError(this.dir, `fsync interval ${ms} must be > 0 ms`);
      this.timer = setInterval(() => this.sync(), ms);
      this.timer.unref();
    }
  }

  /** Opens (or creates) the spool in `opts.dir`, recovering after a crash. */
  static open(opts: SpoolOptions): Spool {
    const s = new Spool(opts);
    try {
      s.recover();
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** The sequence the next append gets. */
  get nextSeq(): number {
    return this._nextSeq;
  }
  /** Every sequence up to this one is acknowledged. */
  get ackedSeq(): number {
    return this._ackedSeq;
  }
  /** Bytes in segment files (including acknowledged frames of a segment not yet deleted). */
  get bytes(): number {
    return this._bytes;
  }
  /** Number of segment files. */
  get segmentCount(): number {
    return this.segments.length;
  }
  /** Unacknowledged sequences (an upper bound on waiting events: corrupt frames are included). */
  get pending(): number {
    return this._nextSeq - 1 - this._ackedSeq;
  }

  /**
   * Stores the event and returns its sequence, or null when it was dropped and counted
   * (spool full: `spool.dropped`; larger than MAX_RECORD_BYTES: `spool.rejected_too_large`;
   * the write failed, e.g. disk full: `spool.dropped_write_error`). Sets `event.id` to
   * `<agentId>:<epoch>:<seq>` (idPrefix + seq) and `observer.id` to the agent id. One write(2) per call: prefer
   * appendMany for the events of one packet batch.
   */
  append(event: UmbraEvent): number | null {
    return this.appendMany([event])[0]!;
  }

  /**
   * Stores the events in order with one write(2) (two when a segment fills up) and returns
   * each one's sequence or null (dropped and counted, as for append). When it returns, every
   * stored event survives a crash of the process.
   */
  appendMany(events: readonly UmbraEvent[]): (number | null)[] {
    if (this.closed) throw new SpoolError(this.dir, 'spool is closed');
    const out: (number | null)[] = new Array<number | null>(events.length).fill(null);
    const frames: Buffer[] = [];
    const owners: number[] = [];
    let pendingBytes = 0;
    let seq = this._nextSeq;
    let active = this.segments[this.segments.length - 1]!;
    const dropWriteError = (i: number): void => {
      out[i] = null;
      delete events[i]!.event.id;
      this.counters.inc('spool.dropped_write_error');
    };
    /** Writes the pending frames; on failure they are dropped and their sequences reused. */
    const flush = (): boolean => {
      if (frames.length === 0) return true;
      const ok = this.writeFrames(active, frames, pendingBytes);
      if (ok) this.counters.inc('spool.appended', owners.length);
      else {
        // Sequences stay contiguous (no gap), so a gap in what is read means corruption.
        seq = out[owners[0]!]!;
        for (const i of owners) dropWriteError(i);
      }
      frames.length = 0;
      owners.length = 0;
      pendingBytes = 0;
      return ok;
    };
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      let json = this.stamp(event, seq);
      let frameLen = FRAME_HEADER_BYTES + Buffer.byteLength(json);
      if (frameLen - FRAME_HEADER_BYTES > MAX_RECORD_BYTES) {
        this.counters.inc('spool.rejected_too_large');
        delete event.event.id;
        continue;
      }
      // Full: drop the new event (keeps the oldest evidence). A rotation does not change the
      // total; deleting acknowledged segments is ack's job.
      if (this._bytes + pendingBytes + frameLen > this.maxBytes) {
        this.counters.inc('spool.dropped');
        delete event.event.id;
        continue;
      }
      const activeSize = active.size + pendingBytes;
      if (activeSize > 0 && activeSize + frameLen > this.segmentBytes) {
        if (!flush()) {
          // This event's sequence moved back: stamp it again.
          json = this.stamp(event, seq);
          frameLen = FRAME_HEADER_BYTES + Buffer.byteLength(json);
        }
        if (active.size > 0) {
          const next = this.startSegment(seq);
          if (!next) {
            dropWriteError(i);
            continue;
          }
          active = next;
        }
      }
      const buf = Buffer.allocUnsafe(frameLen);
      buf.writeUInt16BE(FRAME_MAGIC, 0);
      buf.writeUInt32BE(frameLen - FRAME_HEADER_BYTES, 2);
      buf.writeBigUInt64BE(BigInt(seq), 10);
      buf.write(json, FRAME_HEADER_BYTES, 'utf8');
      buf.writeUInt32BE(crc32(buf.subarray(10)), 6);
      frames.push(buf);
      owners.push(i);
      pendingBytes += frameLen;
      out[i] = seq++;
    }
    flush();
    this._nextSeq = seq;
    return out;
  }

  /** `event.id` of the event with sequence `seq` is this prefix followed by `seq`. */
  get idPrefix(): string {
    return `${this.agentId}:${this.epoch}:`;
  }

  private readOrMakeEpoch(): string {
    const path = join(this.dir, EPOCH_FILE);
    try {
      const text = readFileSync(path, 'utf8').trim();
      if (EPOCH_RE.test(text)) return text;
      this.counters.inc('spool.bad_epoch_file');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SpoolError(this.dir, `cannot read ${EPOCH_FILE}: ${(e as Error).message}`);
    }
    const epoch = randomBytes(EPOCH_BYTES).toString('hex');
    const tmp = path + '.tmp';
    try {
      writeFileSync(tmp, epoch + '\n');
      renameSync(tmp, path);
    } catch (e) {
      throw new SpoolError(this.dir, `cannot write ${EPOCH_FILE}: ${(e as Error).message}`);
    }
    return epoch;
  }

  /** Sets the event's ids for `seq` and returns its JSON. */
  private stamp(event: UmbraEvent, seq: number): string {
    event.event.id = this.idPrefix + seq;
    if (event.observer) event.observer.id = this.agentId;
    else event.observer = { id: this.agentId };
    return JSON.stringify(event);
  }

  /** Writes frames at the end of the active segment; false (counted, file cut back) if the write failed. */
  private writeFrames(active: Segment, frames: Buffer[], bytes: number): boolean {
    const buf = frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes);
    try {
      let done = 0;
      while (done < bytes) done += writeSync(this.writeFd, buf, done, bytes - done, active.size + done);
      if (this.fsync === 'always') fdatasyncSync(this.writeFd);
    } catch (e) {
      this.counters.inc('spool.write_errors');
      this.lastWriteError = (e as Error).message;
      try {
        ftruncateSync(this.writeFd, active.size);
      } catch {
        /* a partial frame left behind is a corrupt region: skipped and counted when read */
      }
      return false;
    }
    active.size += bytes;
    this._bytes += bytes;
    if (this.fsync !== 'always') this.dirty = true;
    return true;
  }

  /**
   * The oldest unacknowledged events, in sequence order: at most `maxEvents`, and at most
   * `maxBytes` of JSON unless the first event alone is larger (so the spool always makes
   * progress). Does not consume: the same events come back until they are acknowledged.
   * With an arena, the records' JSON are views into it (see SpoolArena), else copies.
   */
  readBatch(maxEvents: number, maxBytes: number, arena?: SpoolArena): SpoolRecord[] {
    if (this.closed) throw new SpoolError(this.dir, 'spool is closed');
    this.rewind();
    return this.scan(null, maxEvents, maxBytes, arena);
  }

  /**
   * For several batches in flight: the events after those readAhead already handed out
   * (oldest unacknowledged first after a rewind, an ack of all of them, or a readBatch),
   * within the same limits as readBatch. Handed-out events come back only after rewind().
   */
  readAhead(maxEvents: number, maxBytes: number, arena?: SpoolArena): SpoolRecord[] {
    if (this.closed) throw new SpoolError(this.dir, 'spool is closed');
    const out = this.scan(this.ahead, maxEvents, maxBytes, arena);
    if (out.length > 0) {
      const end = this.lastBatchEnds[this.lastBatchEnds.length - 1]!;
      this.ahead = { seg: end.seg, off: end.next, seq: end.seq };
    }
    return out;
  }

  /** The next readAhead starts again from the oldest unacknowledged event (after a failed send). */
  rewind(): void {
    this.ahead = null;
    this.lastBatchEnds = [];
  }

  /** Events not yet handed out by readAhead (an upper bound: corrupt frames are included). */
  get unread(): number {
    return this._nextSeq - 1 - Math.max(this._ackedSeq, this.ahead?.seq ?? 0);
  }

  /**
   * Reads from `from` (a readAhead position) or, when null or stale, from the cursor. Only
   * a read from the cursor moves it (past acknowledged and damaged frames before the first
   * record); a read ahead never moves it past frames that are not acknowledged.
   */
  private scan(from: { seg: Segment; off: number; seq: number } | null, maxEvents: number, maxBytes: number, arena: SpoolArena | undefined): SpoolRecord[] {
    const out: SpoolRecord[] = [];
    arena?.reset();
    let segIdx = from && from.seq > this._ackedSeq ? this.segments.indexOf(from.seg) : -1;
    const fromCursor = segIdx < 0;
    let off: number;
    let after: number;
    if (fromCursor) {
      segIdx = this.cursorSeg ? this.segments.indexOf(this.cursorSeg) : -1;
      if (segIdx < 0) {
        segIdx = 0;
        this.cursorOff = 0;
      }
      off = this.cursorOff;
      after = this._ackedSeq;
    } else {
      off = from!.off;
      after = from!.seq;
    }
    const skipTo = (seg: Segment, to: number): void => {
      if (out.length === 0 && fromCursor) this.moveCursor(seg, to);
    };
    let bytes = 0;
    let prevSeq = after;
    while (out.length < maxEvents && segIdx < this.segments.length) {
      const seg = this.segments[segIdx]!;
      let f: FrameResult;
      try {
        f = this.frameAt(seg, off);
      } catch (e) {
        // An older segment file removed behind our back: its events are lost, counted; go on.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || segIdx === this.segments.length - 1) throw e;
        this.segments.splice(segIdx, 1);
        this._bytes -= seg.size;
        this.counters.inc('spool.missing_segments');
        if (this.gapFrom < 0) this.gapFrom = prevSeq;
        off = 0;
        if ((out.length === 0 && fromCursor) || this.cursorSeg === seg) this.moveCursor(this.segments[segIdx]!, 0);
        continue;
      }
      if (f.kind === 'end') {
        if (segIdx === this.segments.length - 1) break;
        segIdx++;
        off = 0;
        skipTo(this.segments[segIdx]!, 0);
        continue;
      }
      if (f.kind === 'corrupt') {
        if (this.countCorrupt(seg, off, f.next)) this.gapFrom = prevSeq;
        off = f.next;
        skipTo(seg, off);
        continue;
      }
      if (this.gapFrom >= 0 && f.seq > this.gapFrom) {
        // Sequences are contiguous: the ones missing since the last good frame were in the damage.
        this.counters.inc('spool.corrupt_frames', f.seq - this.gapFrom - 1);
        this.gapFrom = -1;
      }
      prevSeq = Math.max(prevSeq, f.seq);
      if (f.seq <= after || (out.length > 0 && f.seq <= out[out.length - 1]!.seq)) {
        if (f.seq > after) this.counters.inc('spool.out_of_order_frames');
        off = f.next;
        skipTo(seg, off);
        continue;
      }
      if (out.length > 0 && bytes + f.length > maxBytes) break;
      const src = this.rbuf.subarray(f.start - this.rStart, f.start - this.rStart + f.length);
      out.push({ seq: f.seq, json: arena ? arena.take(src, out) : Buffer.from(src) });
      bytes += f.length;
      this.lastBatchEnds.push({ seq: f.seq, seg, next: f.next });
      off = f.next;
    }
    return out;
  }

  /**
   * Everything up to `uptoSeq` is stored by the collector: persist the pointer (atomically,
   * by rename) and delete the segments that hold only acknowledged events.
   */
  ack(uptoSeq: number): void {
    if (this.closed) throw new SpoolError(this.dir, 'spool is closed');
    if (!Number.isSafeInteger(uptoSeq) || uptoSeq >= this._nextSeq) throw new RangeError(`ack ${uptoSeq}: only sequences below ${this._nextSeq} exist`);
    if (uptoSeq <= this._ackedSeq) return;
    this.counters.inc('spool.acked', uptoSeq - this._ackedSeq);
    this._ackedSeq = uptoSeq;
    const written = this.writeAck();
    const end = this.lastBatchEnds.find((e) => e.seq === uptoSeq);
    if (end) this.moveCursor(end.seg, end.next);
    // What was handed out beyond uptoSeq is still in flight: keep where it ends.
    this.lastBatchEnds = this.lastBatchEnds.length && this.lastBatchEnds[this.lastBatchEnds.length - 1]!.seq > uptoSeq ? this.lastBatchEnds.filter((e) => e.seq > uptoSeq) : [];
    if (this.ahead && this.ahead.seq <= uptoSeq) this.ahead = null;
    // Everything acknowledged: start a fresh segment so the old one can go.
    const active = this.segments[this.segments.length - 1]!;
    if (uptoSeq === this._nextSeq - 1 && active.size > 0) this.startSegment(this._nextSeq);
    this.deleteAcknowledged();
    // Disk full: deleting segments made room, try again. Should the pointer stay behind, a
    // restart replays what the collector already has (harmless: the ids are the same).
    if (!written && !this.writeAck()) this.counters.inc('spool.ack_write_errors');
  }

  /** fsync the segment being written, if anything was written since the last one. */
  sync(): void {
    if (this.closed || !this.dirty || this.writeFd < 0) return;
    this.dirty = false;
    try {
      fdatasyncSync(this.writeFd);
    } catch (e) {
      // Called from a timer: an I/O error here must not end the agent. Counted, retried next time.
      this.dirty = true;
      this.counters.inc('spool.fsync_errors');
      this.lastWriteError = (e as Error).message;
    }
  }

  /** Flushes (unless `never`), closes files and releases the lock. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.fsync !== 'never') this.sync();
    this.closed = true;
    if (this.rFd >= 0 && this.rFd !== this.writeFd) closeSync(this.rFd);
    if (this.writeFd >= 0) closeSync(this.writeFd);
    this.writeFd = this.rFd = -1;
    if (this.locked) {
      this.locked = false;
      openDirs.delete(this.dir);
      try {
        unlinkSync(join(this.dir, LOCK_FILE));
      } catch {
        /* already gone */
      }
    }
  }

  // ---- opening and recovery ----

  private recover(): void {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw new SpoolError(this.dir, `cannot create the spool directory: ${(e as Error).message}`);
    }
    this.lock();
    this.epoch = this.readOrMakeEpoch();
    this._ackedSeq = this.readAck();
    const names = readdirSync(this.dir);
    for (const name of names) {
      const m = SEGMENT_RE.exec(name);
      if (!m) continue;
      const firstSeq = Number(m[1]);
      if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) continue;
      const path = join(this.dir, name);
      const fd = openSync(path, 'r');
      const size = fstatSync(fd).size;
      closeSync(fd);
      this.segments.push({ firstSeq, path, size });
    }
    this.segments.sort((a, b) => a.firstSeq - b.firstSeq);
    let lastSeq = 0;
    const last = this.segments[this.segments.length - 1];
    if (last) {
      lastSeq = this.recoverTail(last);
      this.writeFd = openSync(last.path, 'r+');
    }
    for (const s of this.segments) this._bytes += s.size;
    this._nextSeq = Math.max(lastSeq + 1, last ? last.firstSeq : 1, this._ackedSeq + 1);
    if (!last && !this.startSegment(this._nextSeq)) throw new SpoolError(this.dir, `cannot create a segment file: ${this.lastWriteError}`);
    this.deleteAcknowledged();
  }

  /** Scans the newest segment: returns its last valid sequence, truncates a torn tail. */
  private recoverTail(seg: Segment): number {
    let off = 0;
    let lastSeq = 0;
    let validEnd = 0;
    for (;;) {
      const f = this.frameAt(seg, off);
      if (f.kind === 'end') break;
      if (f.kind === 'ok') {
        lastSeq = Math.max(lastSeq, f.seq);
        validEnd = f.next;
      }
      off = f.next;
    }
    if (validEnd < seg.size) {
      // Nothing valid after validEnd: the last write was torn (or its bytes damaged). A corrupt
      // region followed by valid frames is left in place and skipped when read.
      this.counters.inc('spool.torn_frames');
      this.counters.inc('spool.torn_bytes', seg.size - validEnd);
      const fd = openSync(seg.path, 'r+');
      try {
        ftruncateSync(fd, validEnd);
        if (this.fsync !== 'never') fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      seg.size = validEnd;
      this.dropReadBuffer();
    }
    return lastSeq;
  }

  private lock(): void {
    const path = join(this.dir, LOCK_FILE);
    if (openDirs.has(this.dir)) throw new SpoolError(this.dir, 'spool is already open in this process');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
        openDirs.add(this.dir);
        this.locked = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new SpoolError(this.dir, `cannot create the lock file: ${(e as Error).message}`);
      }
      let pid = NaN;
      try {
        pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        /* vanished or unreadable: treat as stale */
      }
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new SpoolError(this.dir, `spool is in use by process ${pid} (lock file ${path})`);
      }
      // Stale lock of a process that died (kill -9, power loss): take it over.
      this.counters.inc('spool.stale_lock');
      try {
        unlinkSync(path);
      } catch {
        /* raced with its removal */
      }
    }
    throw new SpoolError(this.dir, `cannot take the lock file ${path}`);
  }

  private readAck(): number {
    let text: string;
    try {
      text = readFileSync(join(this.dir, ACK_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new SpoolError(this.dir, `cannot read the ack file: ${(e as Error).message}`);
    }
    const n = text.startsWith(ACK_PREFIX) && text.endsWith('\n') ? Number(text.slice(ACK_PREFIX.length, -1)) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) {
      // Unreadable pointer: replaying from the oldest segment is safe (ids are deterministic).
      this.counters.inc('spool.ack_file_invalid');
      return 0;
    }
    return n;
  }

  /** Persists the ack pointer by rename; false if the disk refused (full, read-only). */
  private writeAck(): boolean {
    const tmp = join(this.dir, ACK_TMP);
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, `${ACK_PREFIX}${this._ackedSeq}\n`);
        if (this.fsync !== 'never') fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, join(this.dir, ACK_FILE));
      if (this.fsync === 'always') this.syncDir();
      return true;
    } catch (e) {
      this.lastWriteError = (e as Error).message;
      try {
        unlinkSync(tmp);
      } catch {
        /* never created */
      }
      return false;
    }
  }

  private syncDir(): void {
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Starts a new segment named by `firstSeq` and makes it the one written. Null (counted,
   * the current segment stays the one written) if the file cannot be created.
   */
  private startSegment(firstSeq: number): Segment | null {
    const seg: Segment = { firstSeq, path: join(this.dir, segmentName(firstSeq)), size: 0 };
    let fd: number;
    try {
      // 'w' also empties a leftover file of that name (only possible if it held no valid frame).
      fd = openSync(seg.path, 'w+');
    } catch (e) {
      this.counters.inc('spool.write_errors');
      this.lastWriteError = (e as Error).message;
      return null;
    }
    if (this.writeFd >= 0) {
      try {
        if (this.fsync !== 'never' && this.dirty) fdatasyncSync(this.writeFd);
      } catch (e) {
        this.counters.inc('spool.fsync_errors');
        this.lastWriteError = (e as Error).message;
      }
      this.dirty = false;
      if (this.rFd === this.writeFd) this.dropReadBuffer();
      closeSync(this.writeFd);
    }
    this.writeFd = fd;
    const prev = this.segments[this.segments.length - 1];
    if (prev && prev.firstSeq === firstSeq) {
      this._bytes -= prev.size;
      this.segments[this.segments.length - 1] = seg;
      if (this.rSeg === prev) this.dropReadBuffer();
      if (this.cursorSeg === prev) this.moveCursor(seg, 0);
    } else {
      this.segments.push(seg);
    }
    if (this.fsync !== 'never') {
      try {
        this.syncDir();
      } catch {
        this.counters.inc('spool.fsync_errors');
      }
    }
    this.counters.inc('spool.segments_created');
    return seg;
  }

  /** Deletes every segment but the newest whose events are all acknowledged. */
  private deleteAcknowledged(): void {
    while (this.segments.length > 1 && this.segments[1]!.firstSeq - 1 <= this._ackedSeq) {
      const seg = this.segments.shift()!;
      if (this.rSeg === seg) this.dropReadBuffer();
      if (this.cursorSeg === seg) this.moveCursor(this.segments[0]!, 0);
      try {
        unlinkSync(seg.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          // Still on disk (and counted): kept in the list, the next acknowledgement tries again.
          this.segments.unshift(seg);
          throw e;
        }
      }
      this._bytes -= seg.size;
      this.counters.inc('spool.segments_deleted');
    }
  }

  // ---- reading frames ----

  private moveCursor(seg: Segment, off: number): void {
    this.cursorSeg = seg;
    this.cursorOff = off;
  }

  /** Counts a damaged region [off, next) the first time it is passed; true then. */
  private countCorrupt(seg: Segment, off: number, next: number): boolean {
    if (seg.firstSeq < this.countedSeg || (seg.firstSeq === this.countedSeg && off <= this.countedOff)) return false;
    this.countedSeg = seg.firstSeq;
    this.countedOff = off;
    this.counters.inc('spool.corrupt_regions');
    this.counters.inc('spool.corrupt_bytes', next - off);
    return true;
  }

  private dropReadBuffer(): void {
    if (this.rFd >= 0 && this.rFd !== this.writeFd) closeSync(this.rFd);
    this.rFd = -1;
    this.rSeg = undefined;
    this.rLen = 0;
  }

  /** Makes bytes [off, off + len) of the segment available in rbuf; false past its end. */
  private load(seg: Segment, off: number, len: number): boolean {
    if (off + len > seg.size) return false;
    if (this.rSeg === seg && off >= this.rStart && off + len <= this.rStart + this.rLen) return true;
    if (this.rSeg !== seg) {
      this.dropReadBuffer();
      // The segment being written is read through its own descriptor.
      this.rFd = seg === this.segments[this.segments.length - 1] && this.writeFd >= 0 ? this.writeFd : openSync(seg.path, 'r');
      this.rSeg = seg;
    }
    if (this.rbuf.length < len) this.rbuf = Buffer.allocUnsafe(len);
    const want = Math.min(this.rbuf.length, seg.size - off);
    let got = 0;
    while (got < want) {
      const n = readSync(this.rFd, this.rbuf, got, want - got, off + got);
      if (n === 0) break;
      got += n;
    }
    this.rStart = off;
    this.rLen = got;
    return got >= len;
  }

  /** Whether a complete frame with a matching CRC starts at `off`. */
  private validAt(seg: Segment, off: number): { seq: number; length: number } | null {
    if (!this.load(seg, off, FRAME_HEADER_BYTES)) return null;
    let p = off - this.rStart;
    if (this.rbuf.readUInt16BE(p) !== FRAME_MAGIC) return null;
    const length = this.rbuf.readUInt32BE(p + 2);
    if (length > MAX_RECORD_BYTES || !this.load(seg, off, FRAME_HEADER_BYTES + length)) return null;
    p = off - this.rStart;
    if (crc32(this.rbuf.subarray(p + 10, p + FRAME_HEADER_BYTES + length)) !== this.rbuf.readUInt32BE(p + 6)) return null;
    const seq = Number(this.rbuf.readBigUInt64BE(p + 10));
    if (!Number.isSafeInteger(seq) || seq < 1) return null;
    return { seq, length };
  }

  private frameAt(seg: Segment, off: number): FrameResult {
    if (off >= seg.size) return { kind: 'end' };
    const v = this.validAt(seg, off);
    if (v) {
      // validAt may have reloaded the buffer; the payload is at off + header within it.
      return { kind: 'ok', seq: v.seq, start: off + FRAME_HEADER_BYTES, length: v.length, next: off + FRAME_HEADER_BYTES + v.length };
    }
    return { kind: 'corrupt', next: this.resync(seg, off + 1) };
  }

  /** Offset of the next valid frame at or after `from`, or the segment's end. */
  private resync(seg: Segment, from: number): number {
    let pos = from;
    while (pos < seg.size) {
      if (!this.load(seg, pos, Math.min(MAGIC_BYTES.length, seg.size - pos))) return seg.size;
      const base = this.rStart;
      const end = base + this.rLen;
      const i = this.rbuf.subarray(0, this.rLen).indexOf(MAGIC_BYTES, pos - base);
      if (i < 0) {
        if (end >= seg.size) return seg.size;
        // Step back one byte: a magic may straddle the end of what was loaded.
        pos = Math.max(pos + 1, end - 1);
        continue;
      }
      const cand = base + i;
      if (this.validAt(seg, cand)) return cand;
      pos = cand + 1;
    }
    return seg.size;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
