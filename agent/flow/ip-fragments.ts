// IP fragment reassembly (IPv4 and IPv6), bounded: at most MAX_FRAG_DATAGRAMS
// datagrams in progress and MAX_FRAG_TABLE_BYTES buffered (oldest evicted first,
// `frag.evicted`), each at most MAX_FRAG_DATAGRAM_BYTES and MAX_FRAGMENTS_PER_DATAGRAM
// fragments, dropped FRAG_TIMEOUT_SEC of capture time after its first fragment
// (`frag.timeout`). Overlaps: an exact duplicate is ignored (`frag.duplicate`); any
// other overlap discards the whole datagram (`frag.overlap`), as RFC 5722 asks for
// IPv6 and Linux does for both, so overlapping data can never be chosen to hide
// bytes from us.

import type { Counters } from '../stats.js';

export const MAX_FRAG_DATAGRAMS = 1024;
export const MAX_FRAG_TABLE_BYTES = 16 * 1024 * 1024;
/** Largest reassembled payload: an IPv4 datagram or a non-jumbo IPv6 payload. */
export const MAX_FRAG_DATAGRAM_BYTES = 65535;
export const MAX_FRAGMENTS_PER_DATAGRAM = 128;
/** Linux's ipfrag_time default. */
export const FRAG_TIMEOUT_SEC = 30;

export interface FragLimits {
  maxDatagrams: number;
  maxTableBytes: number;
  maxDatagramBytes: number;
  maxFragments: number;
  timeoutSec: number;
}

export const DEFAULT_FRAG_LIMITS: FragLimits = {
  maxDatagrams: MAX_FRAG_DATAGRAMS,
  maxTableBytes: MAX_FRAG_TABLE_BYTES,
  maxDatagramBytes: MAX_FRAG_DATAGRAM_BYTES,
  maxFragments: MAX_FRAGMENTS_PER_DATAGRAM,
  timeoutSec: FRAG_TIMEOUT_SEC,
};

interface Frag {
  off: number;
  bytes: Uint8Array;
}

interface Entry {
  firstSec: number;
  frags: Frag[];
  /** Known once the last fragment (more = false) arrived. */
  total: number;
  received: number;
}

export class FragmentTable {
  private readonly map = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly counters: Counters,
    private readonly limits: FragLimits = DEFAULT_FRAG_LIMITS,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /**
   * Adds one fragment (its payload bytes, copied) of the datagram `key` at byte
   * `offset`; returns the reassembled payload when this fragment completes it.
   */
  add(key: string, nowSec: number, offset: number, more: boolean, data: Uint8Array): Uint8Array | null {
    this.expire(nowSec);
    const len = data.length;
    if (more && len % 8 !== 0) {
      this.counters.inc('frag.bad_length');
      return null;
    }
    if (offset + len > this.limits.maxDatagramBytes) {
      this.counters.inc('frag.too_large');
      this.drop(key);
      return null;
    }
    let e = this.map.get(key);
    if (e === undefined) {
      while (this.map.size >= this.limits.maxDatagrams) this.evictOldest();
      e = { firstSec: nowSec, frags: [], total: -1, received: 0 };
      this.map.set(key, e);
    }
    const end = offset + len;
    if (!more) {
      if ((e.total >= 0 && e.total !== end) || e.frags.some((f) => f.off + f.bytes.length > end)) {
        this.counters.inc('frag.inconsistent');
        this.drop(key);
        return null;
      }
      e.total = end;
    } else if (e.total >= 0 && end > e.total) {
      this.counters.inc('frag.inconsistent');
      this.drop(key);
      return null;
    }
    for (const f of e.frags) {
      const fend = f.off + f.bytes.length;
      if (offset < fend && f.off < end) {
        if (f.off === offset && f.bytes.length === len && equalBytes(f.bytes, data)) {
          this.counters.inc('frag.duplicate');
          return null;
        }
        this.counters.inc('frag.overlap');
        this.drop(key);
        return null;
      }
    }
    if (e.frags.length >= this.limits.maxFragments) {
      this.counters.inc('frag.too_many_fragments');
      this.drop(key);
      return null;
    }
    e.frags.push({ off: offset, bytes: data.slice() });
    e.received += len;
    this.bytes += len;
    if (e.total >= 0 && e.received === e.total) {
      const out = new Uint8Array(e.total);
      for (const f of e.frags) out.set(f.bytes, f.off);
      this.drop(key);
      return out;
    }
    while (this.bytes > this.limits.maxTableBytes && this.map.size > 0) this.evictOldest();
    return null;
  }

  private expire(nowSec: number): void {
    for (const [key, e] of this.map) {
      if (nowSec - e.firstSec <= this.limits.timeoutSec) break;
      this.counters.inc('frag.timeout');
      this.drop(key);
    }
  }

  private evictOldest(): void {
    const first = this.map.keys().next();
    if (first.done) return;
    this.counters.inc('frag.evicted');
    this.drop(first.value);
  }

  private drop(key: string): void {
    const e = this.map.get(key);
    if (e === undefined) return;
    this.bytes -= e.received;
    this.map.delete(key);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
