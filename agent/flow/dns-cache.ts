// DNS answer cache: address (text, as in Endpoints) → the names clients asked
// for it, learned from DNS responses. It names what has no name on the wire
// (QUIC Initials whose SNI was never sent, SYNs of IP-only or ECH clients).
// Time is the capture time handed in (offline analysis replays old traffic:
// never the wall clock). TTLs are clamped to [floor, cap]; the number of
// addresses is bounded, least recently inserted or used evicted first (Map
// insertion order: O(1)), every eviction counted.
import type { Counters } from '../stats.js';
import type { DnsMessage, DnsRecord } from '../decode/dns.js';

/** Shortest time a name is kept: resolvers and clients keep answers longer than a TTL of 0–59 s. */
export const DNS_CACHE_TTL_FLOOR_SEC = 60;
/** Longest time a name is kept, whatever the TTL says. */
export const DNS_CACHE_TTL_CAP_SEC = 6 * 3600;
/**
 * Addresses held; beyond it the least recently inserted/used address is evicted. Memory when
 * full (measured): ~270 bytes an address with one name, ~600 with two, so 17-40 MB.
 */
export const DNS_CACHE_MAX_ENTRIES = 65536;
/** Names kept per address (shared CDN addresses collect many); the oldest goes first. */
export const DNS_CACHE_MAX_NAMES_PER_ADDRESS = 8;
/** CNAME links followed from a question name within one message. */
export const DNS_CACHE_MAX_CHAIN = 16;

/** Counter names (agent/stats.ts). */
export const DNS_CACHE_EVICTED = 'dns_cache.evicted';
export const DNS_CACHE_NAMES_DROPPED = 'dns_cache.names_dropped';

export interface DnsAnswerCacheOptions {
  maxEntries?: number;
  ttlFloorSec?: number;
  ttlCapSec?: number;
  maxNamesPerAddress?: number;
}

/** Names of one address, most recent first, with their expiry (capture seconds). */
interface Entry {
  names: string[];
  expires: number[];
}

export class DnsAnswerCache {
  private readonly map = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly floor: number;
  private readonly cap: number;
  private readonly maxNames: number;

  constructor(
    private readonly counters?: Counters,
    opts: DnsAnswerCacheOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? DNS_CACHE_MAX_ENTRIES;
    this.floor = opts.ttlFloorSec ?? DNS_CACHE_TTL_FLOOR_SEC;
    this.cap = opts.ttlCapSec ?? DNS_CACHE_TTL_CAP_SEC;
    this.maxNames = opts.maxNamesPerAddress ?? DNS_CACHE_MAX_NAMES_PER_ADDRESS;
  }

  /** Addresses held (expired ones included until looked up or evicted). */
  get size(): number {
    return this.map.size;
  }

  /**
   * Records that `address` answered for `name` (compared case-blind) for
   * `ttlSec` (clamped to [floor, cap]) from `nowSec`; `name` becomes the most
   * recent name of the address.
   */
  add(address: string, name: string, ttlSec: number, nowSec: number): void {
    const key = name.toLowerCase();
    const ttl = ttlSec < this.floor || !(ttlSec >= 0) ? this.floor : ttlSec > this.cap ? this.cap : ttlSec;
    let expires = nowSec + ttl;
    let e = this.map.get(address);
    if (e === undefined) {
      e = { names: [key], expires: [expires] };
    } else {
      this.map.delete(address); // re-inserted below: now the most recently used
      const i = e.names.indexOf(key);
      if (i >= 0) {
        if (e.expires[i]! > expires) expires = e.expires[i]!;
        e.names.splice(i, 1);
        e.expires.splice(i, 1);
      }
      e.names.unshift(key);
      e.expires.unshift(expires);
      if (e.names.length > this.maxNames) {
        const drop = e.names.length - this.maxNames;
        e.names.length = this.maxNames;
        e.expires.length = this.maxNames;
        this.counters?.inc(DNS_CACHE_NAMES_DROPPED, drop);
      }
    }
    this.map.set(address, e);
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.counters?.inc(DNS_CACHE_EVICTED);
    }
  }

  /**
   * Learns from a response: each A/AAAA address, and each HTTPS/SVCB
   * ipv4hint/ipv6hint, under the name the client asked (the question), the
   * CNAME chain from the question to the record's owner recorded too, the
   * question name most recent so `lookup` returns it. Records outside any
   * chain of the question are kept under their own owner name. TTL: the
   * address record's. Returns the (address, name) pairs recorded.
   */
  addFromMessage(msg: DnsMessage, nowSec: number): number {
    if (!msg.isResponse || msg.answers.length === 0) return 0;
    const answers = msg.answers;
    const q = msg.questions[0]?.name;
    // The chain question → CNAME target → …, followed inside this message only (answers are few: a scan beats a Map).
    const chain: string[] = q === undefined ? [] : [q];
    for (let cur = q; cur !== undefined && chain.length <= DNS_CACHE_MAX_CHAIN; ) {
      let next: string | undefined;
      for (let i = 0; i < answers.length; i++) {
        const a = answers[i]!;
        if (a.type === 'CNAME' && a.name === cur) {
          next = a.data;
          break;
        }
      }
      if (next === undefined || chain.includes(next)) break;
      chain.push(next);
      cur = next;
    }
    let added = 0;
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]!;
      if (a.type === 'A' || a.type === 'AAAA') {
        added += this.addAddress(a.data, a, chain, nowSec);
      } else if (a.svcb !== null) {
        for (const addr of a.svcb.ipv4hint) added += this.addAddress(addr, a, chain, nowSec);
        for (const addr of a.svcb.ipv6hint) added += this.addAddress(addr, a, chain, nowSec);
      }
    }
    return added;
  }

  /** The names for one address record: chain[k] … chain[0] added last to first, so the question ends up first. */
  private addAddress(address: string, rec: DnsRecord, chain: string[], nowSec: number): number {
    const k = chain.indexOf(rec.name);
    if (k < 0) {
      this.add(address, rec.name, rec.ttl, nowSec);
      return 1;
    }
    for (let j = k; j >= 0; j--) this.add(address, chain[j]!, rec.ttl, nowSec);
    return k + 1;
  }

  /** The most recent unexpired name for `address` at `nowSec`, or null. */
  lookup(address: string, nowSec: number): string | null {
    const e = this.live(address, nowSec);
    return e === undefined ? null : e.names[0]!;
  }

  /** Every unexpired name for `address` at `nowSec`, most recent first. */
  lookupAll(address: string, nowSec: number): string[] {
    const e = this.live(address, nowSec);
    return e === undefined ? [] : e.names.slice();
  }

  /** The entry with its expired names dropped (the entry too when none is left); a hit becomes most recently used. */
  private live(address: string, nowSec: number): Entry | undefined {
    const e = this.map.get(address);
    if (e === undefined) return undefined;
    let w = 0;
    for (let r = 0; r < e.names.length; r++) {
      if (e.expires[r]! > nowSec) {
        e.names[w] = e.names[r]!;
        e.expires[w] = e.expires[r]!;
        w++;
      }
    }
    e.names.length = w;
    e.expires.length = w;
    this.map.delete(address);
    if (w === 0) return undefined;
    this.map.set(address, e);
    return e;
  }
}
