// QUIC client Initials → one 'quic-initial' observation per client connection.
// A ClientHello may span several Initial packets whose CRYPTO frames arrive in
// any order, overlapping and retransmitted at new offsets (Chromium splits and
// shuffles; Firefox sends end, start, middle). Frames are gathered per client
// connection until the stream from offset 0 holds the whole ClientHello; a
// connection that times out or is flushed with a gap (a firewall that rejects
// UDP 443 stops Chromium after its first Initial) is reported from the bytes
// present, complete: false, its name from a ClientHello prefix, from a
// server_name extension found after the gap, or null (named later from DNS).
//
// Which Initials are the client's: Initial keys come from the DCID of the
// client's first Initial, so a client Initial opens with the client keys of its
// own DCID (first flight, or after a Retry with the Retry's SCID), or, once the
// server answered and the client switched to the server's connection ID, with
// the keys of the connection already known for that 4-tuple. A server's
// Initials are protected with server keys of a DCID that is not in them: a
// datagram going the reverse way of a known client 4-tuple is the server's and
// is not decrypted (`quic.server_initial`); one with no known client side fails
// to open and is counted `quic.undecryptable`.
//
// Limits (named below): connections tracked, CRYPTO bytes per connection and in
// total, fragments per connection, and the time a ClientHello may take.

import type { L4Packet } from '../packet.js';
import type { ClientHelloInfo, Endpoints, Observation } from '../observation.js';
import type { Counters } from '../stats.js';
import { DecodeError } from '../decode/decode-error.js';
import { clientInitialKeys, decodeLongHeader, decodeQuicInitial, isKnownQuicVersion, MAX_CID_LENGTH, type InitialKeys, type LongHeader } from '../decode/quic-initial.js';
import { cryptoFrames } from '../decode/quic-frames.js';
import { clientHelloInfo, decodeClientHello, findServerNameInFragment, partialClientHelloInfo } from '../decode/tls.js';
import { formatIp } from '../decode/ip-address.js';

/** Client connections tracked at once; the oldest is reported (partial) and dropped beyond. */
export const MAX_CONNECTIONS = 4096;
/** CRYPTO stream bytes kept per connection (a ClientHello is 0.2–2 KB; ECH and PSKs add some). */
export const MAX_CRYPTO_BYTES = 16384;
/** CRYPTO bytes kept over all connections; the oldest connection is reported and dropped beyond. */
export const MAX_TOTAL_CRYPTO_BYTES = 8 * 1024 * 1024;
/** Disjoint CRYPTO fragments kept per connection. */
export const MAX_CRYPTO_FRAGMENTS = 64;
/**
 * RFC 9000 14.1: a client pads every UDP datagram carrying an Initial to at least
 * 1200 bytes (and servers drop smaller ones), so a smaller datagram from an
 * unknown flow is not a client's first flight: it is counted, not decrypted —
 * which also bounds the key-derivation work junk traffic can cause.
 */
export const MIN_CLIENT_INITIAL_DATAGRAM = 1200;
/** Seconds after its first Initial by which a connection's ClientHello must be whole; then it is reported as it is. */
export const INITIAL_TIMEOUT_SEC = 5;
/** Seconds a reported connection is remembered (so retransmissions are not reported again), after its last packet. */
export const DONE_LINGER_SEC = 30;

const TLS_CLIENT_HELLO = 0x01;
const EMPTY = new Uint8Array(0);

interface Conn {
  version: number;
  keys: InitialKeys;
  /** Original DCID (copy). */
  odcid: Uint8Array;
  /** SCID of a Retry the server sent this client, if any (copy). */
  retryScid: Uint8Array | null;
  mapKeys: string[];
  flowKey: string;
  ipVersion: 4 | 6;
  client: Uint8Array;
  clientPort: number;
  server: Uint8Array;
  serverPort: number;
  tsSec: number;
  tsNsec: number;
  firstSec: number;
  lastSec: number;
  stream: CryptoStream;
  done: boolean;
}

export class QuicInitialTable {
  /** Connections by client address/port + DCID (original, and a Retry's). */
  private readonly byConnKey = new Map<string, Conn>();
  /** Latest connection by client address/port + server address/port. */
  private readonly byFlow = new Map<string, Conn>();
  /** Every live connection, oldest first. */
  private readonly order = new Set<Conn>();
  private totalBytes = 0;
  private readonly scratch = new Uint8Array(2 * 16 + 4 + 1 + MAX_CID_LENGTH);

  constructor(
    private readonly counters: Counters,
    private readonly emit: (o: Observation) => void,
  ) {}

  /** Connections currently tracked (for stats and tests). */
  get size(): number {
    return this.order.size;
  }

  /**
   * Takes a UDP datagram; true when it was a QUIC long-header datagram of a
   * version we know (whatever became of it, counted), false to let other
   * decoders have it. Version Negotiation packets and unknown versions of
   * QUIC's shapes (drafts, GREASE, gQUIC, mvfst) are counted and left.
   */
  onDatagram(pkt: L4Packet): boolean {
    if (pkt.transport !== 'udp') return false;
    const p = pkt.payload;
    if (p.length < 7 || (p[0]! & 0x80) === 0) return false;
    const version = ((p[1]! << 24) | (p[2]! << 16) | (p[3]! << 8) | p[4]!) >>> 0;
    if (!isKnownQuicVersion(version)) {
      // Other UDP (DNS with a high first byte, …) must not be claimed or counted: only
      // unmistakable QUIC shapes are counted, and none is taken.
      if (version === 0) {
        if (isVersionNegotiation(p)) this.counters.inc('quic.version_negotiation');
      } else if ((p[0]! & 0x40) !== 0 && quicLikeVersion(version) && plausibleLongHeader(p)) this.counters.inc('quic.unknown_version');
      return false;
    }
    if ((p[0]! & 0x40) === 0) return false;
    const nowSec = pkt.tsSec + pkt.tsNsec / 1e9;
    let off = 0;
    while (off < p.length) {
      // A short-header packet, or padding after the last long-header packet, takes the rest.
      if ((p[off]! & 0x80) === 0) break;
      let h: { value: LongHeader; bytes: number };
      try {
        h = decodeLongHeader(p, off);
      } catch (e) {
        this.count(e);
        break;
      }
      if (h.value.version !== version) {
        this.counters.inc('quic.coalesced_version_mismatch');
        break;
      }
      switch (h.value.type) {
        case 'initial':
          this.onInitial(pkt, off, h.value, nowSec);
          break;
        case 'retry':
          this.onRetry(pkt, h.value);
          break;
        case '0rtt':
          this.counters.inc('quic.skipped_0rtt');
          break;
        case 'handshake':
          this.counters.inc('quic.skipped_handshake');
          break;
      }
      off += h.bytes;
    }
    return true;
  }

  /** Reports and drops connections past their deadline (call with capture time, e.g. once a second). */
  expire(nowSec: number): void {
    for (const c of this.order) {
      if (c.done ? c.lastSec + DONE_LINGER_SEC <= nowSec : c.firstSec + INITIAL_TIMEOUT_SEC <= nowSec) {
        if (!c.done) {
          this.counters.inc('quic.hello_timeout');
          this.reportPartial(c);
        }
        this.drop(c);
      }
    }
  }

  /** Reports every unfinished connection as it is, and forgets all (end of input). */
  flush(): void {
    for (const c of this.order) {
      if (!c.done) this.reportPartial(c);
      this.drop(c);
    }
  }

  // ---- per packet ----

  private onInitial(pkt: L4Packet, off: number, h: LongHeader, nowSec: number): void {
    const p = pkt.payload;
    if (this.byFlow.has(this.flowKey(pkt.dst, pkt.dstPort, pkt.src, pkt.srcPort))) {
      this.counters.inc('quic.server_initial');
      return;
    }
    const flowKey = this.flowKey(pkt.src, pkt.srcPort, pkt.dst, pkt.dstPort);
    const connKey = this.connKey(pkt.src, pkt.srcPort, h.dcid);
    let conn = this.byConnKey.get(connKey);
    if (conn !== undefined && conn.done) {
      conn.lastSec = nowSec;
      this.counters.inc('quic.initial_after_hello');
      return;
    }
    if (conn === undefined && p.length < MIN_CLIENT_INITIAL_DATAGRAM && !this.byFlow.has(flowKey)) {
      this.counters.inc('quic.short_initial_datagram');
      return;
    }
    // Keys to try, in order: the connection's of this DCID; the client keys of the
    // DCID itself (first flight, or after a Retry); the keys of the connection
    // known for this 4-tuple (a client that switched to the server's connection
    // ID keeps the keys of its original DCID, RFC 9001 5.2).
    const own = clientInitialKeys(h.version, h.dcid);
    const flowConn = this.byFlow.get(flowKey);
    let payload: Uint8Array | null = null;
    let err: unknown = null;
    let viaFlow = false;
    for (const keys of conn !== undefined && conn.keys !== own ? [conn.keys, own] : [own]) {
      try {
        payload = decodeQuicInitial(p, off, keys).value.payload;
        break;
      } catch (e) {
        err = e;
      }
    }
    if (payload === null && flowConn !== undefined && flowConn !== conn && err instanceof DecodeError && err.reason === 'quic.undecryptable') {
      if (flowConn.done) {
        flowConn.lastSec = nowSec;
        this.counters.inc('quic.initial_after_hello');
        return;
      }
      try {
        payload = decodeQuicInitial(p, off, flowConn.keys).value.payload;
        viaFlow = true;
      } catch (e) {
        err = e;
      }
    }
    if (payload === null) {
      this.count(err);
      return;
    }
    this.counters.inc('quic.initial');
    if (viaFlow) conn = flowConn;
    if (conn === undefined) {
      if (flowConn !== undefined && flowConn.retryScid !== null && equalBytes(flowConn.retryScid, h.dcid)) {
        // The client's Initials after a Retry: same connection, keys from the Retry's SCID.
        conn = flowConn;
        conn.keys = own;
        conn.mapKeys.push(connKey);
        this.byConnKey.set(connKey, conn);
      } else {
        conn = this.create(pkt, h, connKey, flowKey, nowSec);
      }
    }
    conn.lastSec = nowSec;
    if (conn.done) return;
    let frames: Array<{ offset: number; data: Uint8Array }>;
    try {
      frames = cryptoFrames(payload, 0);
    } catch (e) {
      this.count(e);
      return;
    }
    for (const f of frames) this.addCrypto(conn, f.offset, f.data);
    if (!conn.done) this.tryComplete(conn);
    this.enforceTotal();
  }

  private onRetry(pkt: L4Packet, h: LongHeader): void {
    const conn = this.byFlow.get(this.flowKey(pkt.dst, pkt.dstPort, pkt.src, pkt.srcPort));
    if (conn === undefined) {
      this.counters.inc('quic.retry_unknown_connection');
      return;
    }
    this.counters.inc('quic.retry');
    conn.retryScid = h.scid.slice();
  }

  private create(pkt: L4Packet, h: LongHeader, connKey: string, flowKey: string, nowSec: number): Conn {
    while (this.order.size >= MAX_CONNECTIONS) this.evictOldest();
    const conn: Conn = {
      version: h.version,
      keys: clientInitialKeys(h.version, h.dcid),
      odcid: h.dcid.slice(),
      retryScid: null,
      mapKeys: [connKey],
      flowKey,
      ipVersion: pkt.ipVersion,
      client: pkt.src.slice(),
      clientPort: pkt.srcPort,
      server: pkt.dst.slice(),
      serverPort: pkt.dstPort,
      tsSec: pkt.tsSec,
      tsNsec: pkt.tsNsec,
      firstSec: nowSec,
      lastSec: nowSec,
      stream: new CryptoStream(),
      done: false,
    };
    this.byConnKey.set(connKey, conn);
    this.byFlow.set(flowKey, conn);
    this.order.add(conn);
    return conn;
  }

  // ---- CRYPTO stream ----

  private addCrypto(conn: Conn, offset: number, data: Uint8Array): void {
    if (offset + data.length > MAX_CRYPTO_BYTES) this.counters.inc('quic.crypto_over_cap');
    const before = conn.stream.capacity;
    const added = conn.stream.add(offset, data);
    this.totalBytes += conn.stream.capacity - before;
    if (added === 0) this.counters.inc('quic.crypto_duplicate');
    else if (added < 0) this.counters.inc('quic.too_many_crypto_fragments');
  }

  private tryComplete(conn: Conn): void {
    const d = conn.stream.prefix();
    if (d.length < 4) return;
    if (d[0] !== TLS_CLIENT_HELLO) {
      this.counters.inc('quic.not_client_hello');
      this.report(conn, null);
      return;
    }
    const need = 4 + ((d[1]! << 16) | (d[2]! << 8) | d[3]!);
    if (need > MAX_CRYPTO_BYTES) {
      // Reported partial at its deadline, from what fits.
      return;
    }
    if (d.length < need) return;
    let info: ClientHelloInfo;
    try {
      info = clientHelloInfo(decodeClientHello(d, 0).value, 'quic');
      this.counters.inc('quic.hello_complete');
    } catch (e) {
      this.count(e);
      info = partialClientHelloInfo(d.subarray(0, need)) ?? emptyInfo(null);
    }
    this.report(conn, info);
  }

  /** What the bytes present reveal: a ClientHello prefix, else a server_name after a gap, else no name. */
  private reportPartial(conn: Conn): void {
    let info: ClientHelloInfo | null = null;
    let how = 'quic.hello_partial_nameless';
    const st = conn.stream;
    if (st.prefix().length > 0) info = partialClientHelloInfo(st.prefix());
    if (info !== null && info.serverName !== null) how = 'quic.hello_partial_named';
    else {
      for (const frag of st.pieces()) {
        if (frag.start === 0) continue;
        const name = findServerNameInFragment(frag.data);
        if (name !== null) {
          info = info === null ? emptyInfo(name) : { ...info, serverName: name };
          how = 'quic.hello_partial_named_after_gap';
          break;
        }
      }
    }
    this.counters.inc(how);
    this.report(conn, info ?? emptyInfo(null));
  }

  private report(conn: Conn, hello: ClientHelloInfo | null): void {
    conn.done = true;
    this.totalBytes -= conn.stream.capacity;
    conn.stream.clear();
    const at: Endpoints = {
      tsSec: conn.tsSec,
      tsNsec: conn.tsNsec,
      ipVersion: conn.ipVersion,
      transport: 'udp',
      srcIp: formatIp(conn.client),
      srcPort: conn.clientPort,
      dstIp: formatIp(conn.server),
      dstPort: conn.serverPort,
    };
    this.emit({ action: 'quic-initial', at, quicVersion: conn.version, hello });
  }

  // ---- bounds ----

  private enforceTotal(): void {
    while (this.totalBytes > MAX_TOTAL_CRYPTO_BYTES && this.order.size > 0) this.evictOldest();
  }

  private evictOldest(): void {
    const oldest = this.order.values().next().value as Conn;
    if (!oldest.done) {
      this.counters.inc('quic.connection_evicted');
      this.reportPartial(oldest);
    }
    this.drop(oldest);
  }

  private drop(conn: Conn): void {
    this.totalBytes -= conn.stream.capacity;
    conn.stream.clear();
    for (const k of conn.mapKeys) if (this.byConnKey.get(k) === conn) this.byConnKey.delete(k);
    if (this.byFlow.get(conn.flowKey) === conn) this.byFlow.delete(conn.flowKey);
    this.order.delete(conn);
  }

  private count(e: unknown): void {
    if (e instanceof DecodeError) this.counters.inc(e.reason);
    else throw e;
  }

  // ---- keys: binary strings built from a scratch buffer (no per-byte string concatenation) ----

  private flowKey(a: Uint8Array, aPort: number, b: Uint8Array, bPort: number): string {
    const s = this.scratch;
    let n = 0;
    s.set(a, n);
    n += a.length;
    s[n++] = aPort >> 8;
    s[n++] = aPort & 0xff;
    s.set(b, n);
    n += b.length;
    s[n++] = bPort >> 8;
    s[n++] = bPort & 0xff;
    return Buffer.from(s.buffer, s.byteOffset, n).toString('latin1');
  }

  private connKey(a: Uint8Array, aPort: number, dcid: Uint8Array): string {
    const s = this.scratch;
    let n = 0;
    s.set(a, n);
    n += a.length;
    s[n++] = aPort >> 8;
    s[n++] = aPort & 0xff;
    s[n++] = dcid.length; // keeps keys of different address families and CID lengths apart
    s.set(dcid, n);
    n += dcid.length;
    return Buffer.from(s.buffer, s.byteOffset, n).toString('latin1');
  }
}

/**
 * One CRYPTO stream being gathered: bytes at their offsets in one buffer (grown
 * by doubling up to MAX_CRYPTO_BYTES; bytes beyond are dropped), and the ranges
 * held. Overlaps keep the first copy (a retransmission carries the same bytes).
 */
export class CryptoStream {
  private buf = EMPTY;
  /** [start, end) pairs: sorted, disjoint, not touching. */
  private ranges: number[] = [];

  /** Bytes allocated (what the table's total cap counts). */
  get capacity(): number {
    return this.buf.length;
  }

  /**
   * Adds a CRYPTO frame's data; returns the bytes newly held (0: all already
   * held or beyond the cap), or -1 when refused because it would be one range
   * more than MAX_CRYPTO_FRAGMENTS.
   */
  add(offset: number, data: Uint8Array): number {
    const end = Math.min(offset + data.length, MAX_CRYPTO_BYTES);
    if (offset >= end) return 0;
    const r = this.ranges;
    // ranges i..j-2 overlap or touch [offset, end) and merge with it
    let i = 0;
    while (i < r.length && r[i + 1]! < offset) i += 2;
    let j = i;
    while (j < r.length && r[j]! <= end) j += 2;
    if (j === i && r.length >= 2 * MAX_CRYPTO_FRAGMENTS) return -1;
    this.ensureCapacity(end);
    const buf = this.buf;
    let cur = offset;
    let copied = 0;
    for (let k = i; k < j; k += 2) {
      const s = r[k]!;
      const e = r[k + 1]!;
      if (s > cur) {
        buf.set(data.subarray(cur - offset, s - offset), cur);
        copied += s - cur;
      }
      if (e > cur) cur = e;
    }
    if (cur < end) {
      buf.set(data.subarray(cur - offset, end - offset), cur);
      copied += end - cur;
    }
    if (copied > 0) r.splice(i, j - i, j > i ? Math.min(offset, r[i]!) : offset, j > i ? Math.max(end, r[j - 1]!) : end);
    return copied;
  }

  /** The contiguous bytes from offset 0 (empty when offset 0 is missing). A view: valid until the next add. */
  prefix(): Uint8Array {
    return this.ranges.length > 0 && this.ranges[0] === 0 ? this.buf.subarray(0, this.ranges[1]) : EMPTY;
  }

  /** Every range held, in offset order (views). */
  pieces(): Array<{ start: number; data: Uint8Array }> {
    const out: Array<{ start: number; data: Uint8Array }> = [];
    for (let k = 0; k < this.ranges.length; k += 2) out.push({ start: this.ranges[k]!, data: this.buf.subarray(this.ranges[k], this.ranges[k + 1]) });
    return out;
  }

  clear(): void {
    this.buf = EMPTY;
    this.ranges = [];
  }

  private ensureCapacity(end: number): void {
    if (this.buf.length >= end) return;
    let cap = Math.max(this.buf.length * 2, 2048);
    while (cap < end) cap *= 2;
    if (cap > MAX_CRYPTO_BYTES) cap = MAX_CRYPTO_BYTES;
    const grown = new Uint8Array(cap);
    grown.set(this.buf);
    this.buf = grown;
  }
}

function emptyInfo(serverName: string | null): ClientHelloInfo {
  return { serverName, alpn: [], supportedVersions: [], ja4: null, ech: false, complete: false };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Version numbers of QUIC's known families: IETF drafts, reserved GREASE (RFC 9000 15), gQUIC Qnnn/Tnnn, mvfst, v2 drafts. */
function quicLikeVersion(v: number): boolean {
  if ((v & 0x0f0f0f0f) === 0x0a0a0a0a || v >>> 8 === 0xff0000 || v >>> 4 === 0xfaceb00 || v === 0x709a50c4) return true;
  const t = v >>> 24;
  if (t !== 0x51 && t !== 0x54) return false;
  for (let shift = 16; shift >= 0; shift -= 8) {
    const c = (v >>> shift) & 0xff;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** RFC 9000 17.2.1: version 0, then a non-empty list of 4-byte versions that names v1 or v2. */
function isVersionNegotiation(p: Uint8Array): boolean {
  if (!plausibleLongHeader(p)) return false;
  const start = 7 + p[5]! + p[6 + p[5]!]!;
  const rest = p.length - start;
  if (rest < 4 || rest % 4 !== 0) return false;
  for (let i = start; i < p.length; i += 4) {
    const v = ((p[i]! << 24) | (p[i + 1]! << 16) | (p[i + 2]! << 8) | p[i + 3]!) >>> 0;
    if (isKnownQuicVersion(v)) return true;
  }
  return false;
}

/** Long-header shape with connection ID lengths that fit: how an unknown QUIC version is told from other UDP. */
function plausibleLongHeader(p: Uint8Array): boolean {
  const dl = p[5]!;
  if (dl > MAX_CID_LENGTH || 6 + dl >= p.length) return false;
  const sl = p[6 + dl]!;
  return sl <= MAX_CID_LENGTH && 7 + dl + sl <= p.length;
}
