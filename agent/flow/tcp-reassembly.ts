// One direction of a TCP stream, from its first byte: the prefix we need (a
// ClientHello, an HTTP request head, DNS messages), never the bulk. Segments may
// come out of order, retransmitted, overlapping (the first bytes to arrive win;
// a later copy that differs is counted `tcp.overlap_conflict`), across the 2^32
// sequence wrap. Bounded: at most MAX_STREAM_PREFIX bytes past the first
// unconsumed byte are kept, in at most MAX_PENDING_RANGES separate ranges.

import type { Counters } from '../stats.js';

/** Bytes of a stream kept past its first unconsumed byte (a ClientHello with a post-quantum key share is ~2 KB; the cap holds the largest we assemble, 16 KiB, plus record headers). */
export const MAX_STREAM_PREFIX = 20 * 1024;
/** Separate byte ranges (data islands after holes) kept at once; a segment that would open one more is dropped, counted `tcp.reassembly_overflow`. */
export const MAX_PENDING_RANGES = 16;
const FIRST_ALLOC = 2048;

export class TcpReassembly {
  /** Sequence number of stream byte 0 (the first unconsumed byte), uint32. */
  private base = 0;
  private hasBase = false;
  /** The base came from a SYN (ISN+1) or was moved by consume(): it is not moved back by an earlier segment. */
  private baseFixed = false;
  private buf: Uint8Array | null = null;
  /** Known byte ranges, flat [start, end, start, end, …], sorted, disjoint and not touching. */
  private ranges: number[] = [];
  /** Data past MAX_STREAM_PREFIX was dropped. */
  truncated = false;

  constructor(private readonly counters: Counters) {}

  /** The SYN of this direction carries sequence number `isn`: the stream starts at isn + 1. */
  onSyn(isn: number): void {
    if (this.hasBase && this.ranges.length > 0) return;
    this.setBase((isn + 1) >>> 0, true);
  }

  /** The stream is known to start at `seq` (e.g. from the peer's SYN-ACK acknowledgement number). */
  setBase(seq: number, fixed: boolean): void {
    // First SYN (or SYN-ACK) wins: a later one with another ISN is a forged or
    // mangled copy far more often than a new connection on the same 4-tuple
    // within the flow's lifetime, and believing it would throw the stream away.
    if (this.hasBase && (this.ranges.length > 0 || this.baseFixed)) {
      if (fixed && this.baseFixed && seq >>> 0 !== this.base) this.counters.inc('tcp.syn_conflict');
      return;
    }
    this.base = seq >>> 0;
    this.hasBase = true;
    this.baseFixed = fixed;
  }

  /** Nothing is buffered and `seq` is exactly the next expected byte: the caller may read a segment in place. */
  isNext(seq: number): boolean {
    return this.hasBase && this.ranges.length === 0 && seq >>> 0 === this.base;
  }

  get started(): boolean {
    return this.hasBase;
  }

  /** Adds a segment's payload that starts at sequence number `seq`. */
  add(seq: number, data: Uint8Array): void {
    if (data.length === 0) return;
    if (!this.hasBase) this.setBase(seq, false);
    let rel = (seq - this.base) | 0; // signed distance, correct across the 2^32 wrap
    if (rel < 0) {
      const maxEnd = this.ranges.length > 0 ? this.ranges[this.ranges.length - 1] : 0;
      if (!this.baseFixed && -rel + maxEnd <= MAX_STREAM_PREFIX) {
        // No SYN seen and an earlier segment arrives late: the stream starts here.
        this.shift(-rel);
        this.base = seq >>> 0;
        rel = 0;
      } else {
        if (-rel >= data.length) return; // wholly before the stream start: an old retransmission
        data = data.subarray(-rel);
        rel = 0;
      }
    }
    let s = rel;
    let e = rel + data.length;
    if (s >= MAX_STREAM_PREFIX) {
      this.truncated = true;
      return;
    }
    if (e > MAX_STREAM_PREFIX) {
      this.truncated = true;
      e = MAX_STREAM_PREFIX;
    }
    const r = this.ranges;
    if (r.length >= 2 * MAX_PENDING_RANGES) {
      let touches = false;
      for (let i = 0; i < r.length; i += 2) if (r[i] <= e && s <= r[i + 1]) touches = true;
      if (!touches) {
        this.counters.inc('tcp.reassembly_overflow');
        return;
      }
    }
    this.reserve(e);
    const buf = this.buf!;
    // Copy the parts no earlier segment covered; compare the parts one did.
    let pos = s;
    let conflict = false;
    for (let i = 0; i < r.length && pos < e; i += 2) {
      const rs = r[i];
      const re = r[i + 1];
      if (re <= pos) continue;
      if (rs >= e) break;
      if (rs > pos) buf.set(data.subarray(pos - s, rs - s), pos);
      const oe = Math.min(re, e);
      for (let j = Math.max(rs, pos); j < oe; j++) {
        if (buf[j] !== data[j - s]) {
          conflict = true;
          break;
        }
      }
      pos = oe;
    }
    if (pos < e) buf.set(data.subarray(pos - s, e - s), pos);
    if (conflict) this.counters.inc('tcp.overlap_conflict');
    this.insertRange(s, e);
  }

  /** The bytes known from the stream start without a hole (a view, valid until the next add/consume). */
  contiguous(): Uint8Array {
    if (this.buf === null || this.ranges.length === 0 || this.ranges[0] !== 0) return EMPTY;
    return this.buf.subarray(0, this.ranges[1]);
  }

  get contiguousLength(): number {
    return this.ranges.length > 0 && this.ranges[0] === 0 ? this.ranges[1] : 0;
  }

  /** Some bytes are known past a hole. */
  get hasGap(): boolean {
    return this.ranges.length > 2 || (this.ranges.length === 2 && this.ranges[0] !== 0);
  }

  /** All data known (contiguous or not), for a last look at what lies after a hole. */
  pendingAfterGap(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.buf === null) return out;
    for (let i = this.ranges[0] === 0 ? 2 : 0; i < this.ranges.length; i += 2) out.push(this.buf.subarray(this.ranges[i], this.ranges[i + 1]));
    return out;
  }

  /** No more can be kept: the cap is reached, so waiting for more bytes is pointless. */
  get full(): boolean {
    return this.truncated || this.contiguousLength >= MAX_STREAM_PREFIX;
  }

  /** Bytes held in memory. */
  get allocated(): number {
    return this.buf === null ? 0 : this.buf.length;
  }

  /** Drops the first `n` stream bytes (possibly more than are known: they are skipped when they arrive). */
  consume(n: number): void {
    if (n <= 0) return;
    this.base = (this.base + n) >>> 0;
    this.baseFixed = true;
    this.hasBase = true;
    const r = this.ranges;
    const out: number[] = [];
    for (let i = 0; i < r.length; i += 2) {
      const rs = r[i] - n;
      const re = r[i + 1] - n;
      if (re <= 0) continue;
      out.push(Math.max(rs, 0), re);
    }
    if (this.buf !== null && out.length > 0) this.buf.copyWithin(0, n, n + out[out.length - 1]);
    this.ranges = out;
    if (out.length === 0) this.buf = null;
    this.truncated = false;
  }

  /** Frees the buffer; the stream is no longer followed. */
  release(): void {
    this.buf = null;
    this.ranges = [];
  }

  private shift(by: number): void {
    if (this.ranges.length === 0) return;
    const end = this.ranges[this.ranges.length - 1];
    this.reserve(end + by);
    this.buf!.copyWithin(by, 0, end);
    for (let i = 0; i < this.ranges.length; i++) this.ranges[i] += by;
  }

  private reserve(end: number): void {
    if (this.buf !== null && this.buf.length >= end) return;
    const old = this.buf;
    let size = Math.max(old === null ? FIRST_ALLOC : old.length * 2, end);
    if (size > MAX_STREAM_PREFIX) size = MAX_STREAM_PREFIX;
    const buf = new Uint8Array(size);
    if (old !== null) buf.set(old);
    this.buf = buf;
  }

  private insertRange(s: number, e: number): void {
    const r = this.ranges;
    const out: number[] = [];
    let i = 0;
    while (i < r.length && r[i + 1] < s) {
      out.push(r[i], r[i + 1]);
      i += 2;
    }
    let ns = s;
    let ne = e;
    while (i < r.length && r[i] <= ne) {
      ns = Math.min(ns, r[i]);
      ne = Math.max(ne, r[i + 1]);
      i += 2;
    }
    out.push(ns, ne);
    while (i < r.length) {
      out.push(r[i], r[i + 1]);
      i += 2;
    }
    this.ranges = out;
  }
}

const EMPTY = new Uint8Array(0);
