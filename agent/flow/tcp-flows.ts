// TCP flows: every TCP segment comes here. A flow is recognised by what its
// client sends first, not by port: a TLS handshake record (→ the ClientHello,
// reassembled across segments and records → 'tls-client-hello'), an HTTP
// request head (→ 'http-request'); port 53 on either side means DNS over TCP
// (length-prefixed messages both ways → onDnsMessage).
//
// One observation per flow, decided deterministically:
//   - a whole ClientHello → 'tls-client-hello' at once (SNI or not, ECH or not:
//     the pipeline names a hello without SNI from the DNS answer cache);
//   - a ClientHello cut by a gap or by the end of the flow (FIN/RST, idle
//     timeout, eviction, end of capture) → 'tls-client-hello' with
//     partialClientHelloInfo (complete:false, ja4 null), counted `tls.truncated_hello`;
//   - an HTTP request head → 'http-request';
//   - a flow whose SYN (or SYN-ACK) was seen and that yields none of these —
//     another protocol, a server that speaks first, no data at all, an HTTP head
//     without Host — → 'connection', emitted as soon as that is known (the
//     client's first bytes are not TLS/HTTP) or when the flow ends. Its
//     timestamp is the SYN's. Flows first seen mid-stream never yield 'connection'.
// DNS flows yield their messages only.
// Once a flow is decided it costs one hash, one map lookup and one field write
// per packet (bulk data and ACKs are most of a gateway's traffic).
//
// Not followed (by design, documented): requests after the first on a kept-alive
// HTTP connection; a ClientHello that is not the first bytes of the client
// stream (STARTTLS, TLS inside an HTTP CONNECT tunnel — the CONNECT itself names
// the host); a flow first seen mid-stream whose first segment we see is not the
// start of a hello/request (a later segment seen before the first one loses
// that hello: without the SYN nothing marks where the stream begins).
//
// Limits: MAX_FLOWS flows (least recently used evicted, `tcp.flow_evicted`),
// FLOW_IDLE_TIMEOUT_SEC of capture time, MAX_STREAM_PREFIX bytes per direction
// (tcp-reassembly.ts), MAX_BUFFERED_BYTES over all flows (`tcp.buffer_evicted`).

import { DecodeError } from '../decode/decode-error.js';
import { formatIp } from '../decode/ip-address.js';
import { checkL4 } from '../decode/checksum.js';
import { decodeHttpRequest } from '../decode/http.js';
import { assembleHandshake, clientHelloInfo, decodeClientHello, looksLikeTlsHandshakeRecord, partialClientHelloInfo } from '../decode/tls.js';
import type { ClientHelloInfo, Endpoints, Observation } from '../observation.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type L4Packet } from '../packet.js';
import type { Counters } from '../stats.js';
import { MAX_STREAM_PREFIX, TcpReassembly } from './tcp-reassembly.js';

/**
 * Flows tracked at once; the least recently used is evicted beyond this. Memory when full
 * (measured, IPv4): ~430 bytes a decided flow, ~560 one still waiting for its first data,
 * so 43-56 MB for the table alone.
 */
export const MAX_FLOWS = 100_000;
/** A flow with no packet for this long (capture time) is ended. */
export const FLOW_IDLE_TIMEOUT_SEC = 120;
/** Reassembly bytes held over all flows; beyond this the least recently used flows are ended. */
export const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
export const DNS_PORT = 53;
/** RFC 1035 4.2.2: each DNS message over TCP is preceded by a 2-byte length. */
const DNS_LENGTH_PREFIX = 2;
/** Longest HTTP method token we recognise ("OPTIONS", "CONNECT") plus its space. */
const HTTP_METHOD_PROBE = 8;

// Flow kinds. DONE and IGNORED flows only wait to expire.
const K_UNKNOWN = 0; // started (SYN seen), waiting for the client's first bytes
const K_TLS = 1;
const K_HTTP = 2;
const K_DNS = 3;
const K_DONE = 4;

export type DnsMessageHandler = (at: Endpoints, message: Uint8Array, fromServer: boolean) => void;

class Flow {
  /** Bucket chain in the hash map. */
  nextInBucket: Flow | null = null;
  /** Lazy LRU queue, ordered by queuedSec. */
  prev: Flow | null = null;
  next: Flow | null = null;
  queuedSec: number;
  lastSec: number;
  kind = K_UNKNOWN;
  /** A SYN or SYN-ACK was seen: the flow is a connection we saw begin. */
  started = false;
  reported = false;
  /** Client ISN from its SYN (-1 if unseen): a SYN with another ISN is a new connection. */
  isn = -1;
  startSec = 0;
  startNsec = 0;
  hasFirstData = false;
  firstDataSec = 0;
  firstDataNsec = 0;
  client: TcpReassembly | null = null;
  server: TcpReassembly | null = null;
  buffered = 0;
  /**
   * The client's address, then the server's (4 or 16 bytes each), copied (packet bytes are
   * valid only during the capture callback) into one array: no ArrayBuffer and no view per
   * address, each ~100-200 bytes besides its bytes, for up to MAX_FLOWS flows.
   */
  readonly addrs: Uint8Array;

  constructor(
    readonly hash: number,
    readonly ipVersion: 4 | 6,
    client: Uint8Array,
    readonly clientPort: number,
    server: Uint8Array,
    readonly serverPort: number,
    now: number,
  ) {
    this.queuedSec = now;
    this.lastSec = now;
    const addrs = new Uint8Array(2 * client.length);
    addrs.set(client);
    addrs.set(server, client.length);
    this.addrs = addrs;
  }
}

export class TcpFlowTable {
  private readonly buckets = new Map<number, Flow>();
  private head: Flow | null = null;
  private tail: Flow | null = null;
  private count = 0;
  private buffered = 0;

  constructor(
    private readonly counters: Counters,
    private readonly emit: (o: Observation) => void,
    private readonly onDnsMessage: DnsMessageHandler,
  ) {}

  /** Flows currently tracked. */
  get size(): number {
    return this.count;
  }

  /** Reassembly bytes currently held. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  onPacket(pkt: L4Packet): void {
    if (pkt.transport !== 'tcp') return;
    const src = pkt.src;
    const dst = pkt.dst;
    // Kept a small integer (V8 Smi): Map lookups with such keys are the fast path.
    const h = (endpointHash(src, pkt.srcPort) + endpointHash(dst, pkt.dstPort)) & 0x3fffffff;
    let flow = this.buckets.get(h) ?? null;
    let fromClient = false;
    while (flow !== null) {
      if (flow.clientPort === pkt.srcPort && flow.serverPort === pkt.dstPort && sameAddrAt(flow.addrs, 0, src) && sameAddrAt(flow.addrs, 1, dst)) {
        fromClient = true;
        break;
      }
      if (flow.clientPort === pkt.dstPort && flow.serverPort === pkt.srcPort && sameAddrAt(flow.addrs, 0, dst) && sameAddrAt(flow.addrs, 1, src)) break;
      flow = flow.nextInBucket;
    }
    const flags = pkt.flags;
    if (flow !== null && flow.kind >= K_DONE && (flags & TCP_SYN) === 0) {
      flow.lastSec = pkt.tsSec; // the bulk of a gateway's traffic ends here
      return;
    }
    if (flow === null && (flags & TCP_SYN) === 0 && !this.worthFollowing(pkt)) return; // bulk of flows whose start we missed
    // Everything past this point changes what we believe about a flow: a corrupted
    // or forged copy (bad checksum) must not (a SYN with another ISN, an RST, data).
    if (!this.intact(pkt)) return;
    if (flow !== null) {
      flow.lastSec = pkt.tsSec;
      if (flow.kind >= K_DONE) {
        // A new connection on a reused 4-tuple: a client SYN after the old one was decided.
        if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && flow.kind === K_DONE && fromClient && flow.isn !== pkt.seq) {
          this.remove(flow);
          this.create(h, pkt);
        }
        return;
      }
      this.update(flow, pkt, fromClient);
      return;
    }
    this.create(h, pkt);
  }

  /** A segment of an untracked flow without SYN: worth a table entry only if it opens DNS, a ClientHello or an HTTP request. */
  private worthFollowing(pkt: L4Packet): boolean {
    const p = pkt.payload;
    if (p.length === 0) return false;
    if (pkt.srcPort === DNS_PORT || pkt.dstPort === DNS_PORT) return true;
    return isClientHelloStart(p) || httpMethodLength(p) > 0;
  }

  /** A whole handshake message: the parsed hello, or (malformed, counted) what its bytes still tell. */
  private helloInfo(msg: Uint8Array): ClientHelloInfo | null {
    try {
      return clientHelloInfo(decodeClientHello(msg, 0).value, 'tcp');
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.counters.inc(e.reason);
      return partialClientHelloInfo(msg);
    }
  }

  private intact(pkt: L4Packet): boolean {
    if ((pkt.flags & (TCP_SYN | TCP_RST)) === (TCP_SYN | TCP_RST) || (pkt.flags & (TCP_SYN | TCP_FIN)) === (TCP_SYN | TCP_FIN)) {
      this.counters.inc('tcp.bad_flags');
      return false;
    }
    if (checkL4(pkt) === 'bad') {
      this.counters.inc('tcp.bad_checksum');
      return false;
    }
    return true;
  }

  /** Ends flows idle for FLOW_IDLE_TIMEOUT_SEC of capture time (call with the capture clock). */
  expire(nowSec: number): void {
    for (;;) {
      const f = this.head;
      if (f === null) return;
      if (nowSec - f.lastSec >= FLOW_IDLE_TIMEOUT_SEC) {
        this.counters.inc('tcp.flow_expired');
        this.end(f);
        this.remove(f);
      } else if (f.lastSec !== f.queuedSec) {
        this.requeue(f);
      } else return;
    }
  }

  /** End of capture: every flow still pending reports what it has. */
  flush(): void {
    for (let f = this.head; f !== null; f = f.next) this.end(f);
    this.buckets.clear();
    this.head = this.tail = null;
    this.count = 0;
    this.buffered = 0;
  }

  // --- flow life ---------------------------------------------------------------

  private create(h: number, pkt: L4Packet): void {
    const flags = pkt.flags;
    if (flags & TCP_RST) return;
    const syn = (flags & TCP_SYN) !== 0;
    const ack = (flags & TCP_ACK) !== 0;
    const dns = pkt.srcPort === DNS_PORT || pkt.dstPort === DNS_PORT;
    let flow: Flow;
    if (syn) {
      // SYN: the sender is the client. SYN-ACK (its SYN missed): the receiver is.
      const senderIsClient = !ack;
      flow = senderIsClient
        ? new Flow(h, pkt.ipVersion, pkt.src, pkt.srcPort, pkt.dst, pkt.dstPort, pkt.tsSec)
        : new Flow(h, pkt.ipVersion, pkt.dst, pkt.dstPort, pkt.src, pkt.srcPort, pkt.tsSec);
      flow.started = true;
      flow.startSec = pkt.tsSec;
      flow.startNsec = pkt.tsNsec;
      flow.client = new TcpReassembly(this.counters);
      if (senderIsClient) {
        flow.client.onSyn(pkt.seq);
        flow.isn = pkt.seq;
      } else flow.client.setBase(pkt.ack, true);
      if (dns) {
        flow.kind = K_DNS;
        flow.server = new TcpReassembly(this.counters);
        if (!senderIsClient) flow.server.onSyn(pkt.seq);
      }
      this.counters.inc('tcp.flows');
    } else {
      // (onPacket let through only segments that open DNS, a ClientHello or an HTTP request)
      if (dns) {
        const clientIsSrc = pkt.dstPort === DNS_PORT;
        flow = clientIsSrc
          ? new Flow(h, pkt.ipVersion, pkt.src, pkt.srcPort, pkt.dst, pkt.dstPort, pkt.tsSec)
          : new Flow(h, pkt.ipVersion, pkt.dst, pkt.dstPort, pkt.src, pkt.srcPort, pkt.tsSec);
        flow.kind = K_DNS;
        flow.client = new TcpReassembly(this.counters);
        flow.server = new TcpReassembly(this.counters);
      } else {
        // First seen mid-stream, opening a ClientHello or an HTTP request. Bulk data of
        // flows we never saw start (most of a gateway's traffic) gets no table entry:
        // checking its first bytes again is cheaper than holding one.
        flow = new Flow(h, pkt.ipVersion, pkt.src, pkt.srcPort, pkt.dst, pkt.dstPort, pkt.tsSec);
        flow.client = new TcpReassembly(this.counters);
      }
      this.counters.inc('tcp.flows_midstream');
    }
    this.insert(flow);
    if (!syn) this.update(flow, pkt, sameAddrAt(flow.addrs, 0, pkt.src) && flow.clientPort === pkt.srcPort);
    else if (syn && pkt.payload.length > 0) this.update(flow, pkt, !ack);
  }

  private update(flow: Flow, pkt: L4Packet, fromClient: boolean): void {
    const flags = pkt.flags;
    const payload = pkt.payload;
    if ((flags & TCP_SYN) !== 0) {
      if (fromClient && (flags & TCP_ACK) === 0) flow.client?.onSyn(pkt.seq);
      else if (!fromClient && (flags & TCP_ACK) !== 0) {
        flow.client?.setBase(pkt.ack, true);
        flow.server?.onSyn(pkt.seq);
      }
    }
    if (payload.length > 0) {
      if (fromClient) this.clientData(flow, pkt);
      else this.serverData(flow, pkt);
    }
    if (flow.kind < K_DONE && (flags & (TCP_FIN | TCP_RST)) !== 0) {
      this.end(flow);
    }
    this.account(flow);
  }

  private clientData(flow: Flow, pkt: L4Packet): void {
    const c = flow.client;
    if (c === null) return;
    if (!flow.hasFirstData) {
      flow.hasFirstData = true;
      flow.firstDataSec = pkt.tsSec;
      flow.firstDataNsec = pkt.tsNsec;
    }
    // Fast path: the segment starts the stream and holds the whole hello/request head: read it in place.
    if ((flow.kind === K_UNKNOWN || flow.kind === K_TLS || flow.kind === K_HTTP) && c.isNext(pkt.seq) && this.inPlace(flow, pkt.payload)) return;
    c.add(pkt.seq, pkt.payload);
    switch (flow.kind) {
      case K_UNKNOWN:
        switch (this.classify(flow)) {
          case K_TLS:
            this.tryHello(flow, false);
            return;
          case K_HTTP:
            this.tryHttp(flow);
            return;
        }
        return;
      case K_TLS:
        this.tryHello(flow, false);
        return;
      case K_HTTP:
        this.tryHttp(flow);
        return;
      case K_DNS:
        this.drainDns(flow, c, false, pkt);
        return;
    }
  }

  private serverData(flow: Flow, pkt: L4Packet): void {
    switch (flow.kind) {
      case K_DNS:
        flow.server!.add(pkt.seq, pkt.payload);
        this.drainDns(flow, flow.server!, true, pkt);
        return;
      case K_TLS:
        // The server answers: it has the whole hello, so a hole we still have is a capture loss.
        if (flow.client!.hasGap) this.tryHello(flow, true);
        return;
      case K_UNKNOWN:
        // The server speaks first (SMTP, SSH, …): not a TLS or HTTP client stream.
        if (flow.client === null || flow.client.contiguousLength === 0) {
          this.counters.inc('tcp.server_first');
          this.decideConnection(flow);
        }
        return;
    }
  }

  /** Reads a segment that starts the client stream without copying it; false when more bytes are needed. */
  private inPlace(flow: Flow, b: Uint8Array): boolean {
    let kind = flow.kind;
    if (kind === K_UNKNOWN) {
      if (isClientHelloStart(b)) kind = K_TLS;
      else if (httpMethodLength(b) > 0) kind = K_HTTP;
      else return false;
    }
    if (kind === K_TLS) {
      const a = assembleHandshake(b);
      if (!a.complete) return false;
      flow.kind = K_TLS;
      this.reportHello(flow, this.helloInfo(a.data));
      return true;
    }
    let req;
    try {
      req = decodeHttpRequest(b, 0).value;
    } catch (e) {
      if (e instanceof DecodeError) return false; // incomplete or not HTTP after all: the buffered path decides
      throw e;
    }
    if (req.host === null || req.host === '') return false;
    flow.kind = K_HTTP;
    this.emit({ action: 'http-request', at: this.endpoints(flow, flow.firstDataSec, flow.firstDataNsec), method: req.method, host: req.host, connect: req.connect });
    flow.reported = true;
    this.finish(flow);
    return true;
  }

  /** Looks at the client's first bytes; returns the flow's kind after the look. */
  private classify(flow: Flow): number {
    const b = flow.client!.contiguous();
    if (b.length === 0) return flow.kind;
    if (b[0] === 0x16) {
      if (b.length < 3) return flow.kind;
      if (looksLikeTlsHandshakeRecord(b, 0)) return (flow.kind = K_TLS);
    } else {
      if (httpMethodLength(b) > 0) return (flow.kind = K_HTTP);
      if (b.length < HTTP_METHOD_PROBE && couldBeHttpMethodPrefix(b)) return flow.kind; // wait for more
    }
    this.counters.inc('tcp.unrecognized');
    this.decideConnection(flow);
    return flow.kind;
  }

  private tryHello(flow: Flow, final: boolean): void {
    const c = flow.client!;
    const a = assembleHandshake(c.contiguous());
    if (a.complete) {
      this.reportHello(flow, this.helloInfo(a.data));
      return;
    }
    if (a.error !== null) {
      this.counters.inc(a.error);
      this.reportHello(flow, partialClientHelloInfo(a.data));
      return;
    }
    if (final || c.full) {
      this.counters.inc('tls.truncated_hello');
      this.reportHello(flow, partialClientHelloInfo(a.data));
    }
  }

  private reportHello(flow: Flow, info: ClientHelloInfo | null): void {
    if (info === null) {
      this.decideConnection(flow);
      return;
    }
    if (info.serverNameMalformed) this.counters.inc('tls.sni_malformed');
    if (info.complete) this.counters.inc('tls.client_hellos');
    this.emit({ action: 'tls-client-hello', at: this.endpoints(flow, flow.firstDataSec, flow.firstDataNsec), hello: info });
    flow.reported = true;
    this.finish(flow);
  }

  private tryHttp(flow: Flow): void {
    const c = flow.client!;
    let req: { method: string; host: string | null; connect: boolean; target: string };
    try {
      req = decodeHttpRequest(c.contiguous(), 0).value;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      if (e.reason === 'http.incomplete') {
        if (c.full) {
          this.counters.inc('http.header_too_large');
          this.decideConnection(flow);
        }
        return;
      }
      this.counters.inc(e.reason);
      this.decideConnection(flow);
      return;
    }
    if (req.host === null || req.host === '') {
      this.counters.inc('http.no_host');
      this.decideConnection(flow);
      return;
    }
    this.emit({ action: 'http-request', at: this.endpoints(flow, flow.firstDataSec, flow.firstDataNsec), method: req.method, host: req.host, connect: req.connect });
    flow.reported = true;
    this.finish(flow);
  }

  private drainDns(flow: Flow, s: TcpReassembly, fromServer: boolean, pkt: L4Packet): void {
    for (;;) {
      const b = s.contiguous();
      if (b.length < DNS_LENGTH_PREFIX) return;
      const len = (b[0] << 8) | b[1];
      if (len === 0) {
        this.counters.inc('dns.tcp_empty_message');
        s.consume(DNS_LENGTH_PREFIX);
        continue;
      }
      if (DNS_LENGTH_PREFIX + len > MAX_STREAM_PREFIX) {
        // Larger than we keep (zone transfers): skip it, bytes not yet here included.
        this.counters.inc('dns.tcp_message_too_large');
        s.consume(DNS_LENGTH_PREFIX + len);
        continue;
      }
      if (b.length < DNS_LENGTH_PREFIX + len) return;
      const msg = b.slice(DNS_LENGTH_PREFIX, DNS_LENGTH_PREFIX + len);
      s.consume(DNS_LENGTH_PREFIX + len);
      flow.reported = true;
      this.onDnsMessage(this.endpoints(flow, pkt.tsSec, pkt.tsNsec), msg, fromServer);
    }
  }

  /** No named observation will come from this flow: report the connection (if we saw it start). */
  private decideConnection(flow: Flow): void {
    if (flow.started && !flow.reported) {
      this.counters.inc('tcp.nameless_connections');
      this.emit({ action: 'connection', at: this.endpoints(flow, flow.startSec, flow.startNsec) });
      flow.reported = true;
    }
    this.finish(flow);
  }

  /** The flow ends (FIN/RST, timeout, eviction, end of capture): report what is pending. */
  private end(flow: Flow): void {
    if (flow.kind === K_TLS) this.tryHello(flow, true);
    else if (flow.kind === K_HTTP) {
      if (!flow.reported) {
        this.counters.inc('http.truncated_request');
        this.decideConnection(flow);
      }
    } else if (flow.kind === K_UNKNOWN) this.decideConnection(flow);
    else if (flow.kind === K_DNS) {
      if (flow.client!.hasGap || flow.client!.contiguousLength > 0 || flow.server!.hasGap || flow.server!.contiguousLength > 0) this.counters.inc('dns.tcp_truncated_message');
      this.finish(flow);
    }
  }

  /** Decided: free the buffers; later packets only touch lastSec. */
  private finish(flow: Flow): void {
    flow.kind = K_DONE;
    flow.client?.release();
    flow.server?.release();
    flow.client = null;
    flow.server = null;
    this.buffered -= flow.buffered;
    flow.buffered = 0;
  }

  private endpoints(flow: Flow, tsSec: number, tsNsec: number): Endpoints {
    return {
      tsSec,
      tsNsec,
      ipVersion: flow.ipVersion,
      transport: 'tcp',
      srcIp: formatIp(flow.addrs.subarray(0, flow.addrs.length >> 1)),
      srcPort: flow.clientPort,
      dstIp: formatIp(flow.addrs.subarray(flow.addrs.length >> 1)),
      dstPort: flow.serverPort,
    };
  }

  // --- memory bounds -------------------------------------------------------------

  private account(flow: Flow): void {
    const now = (flow.client?.allocated ?? 0) + (flow.server?.allocated ?? 0);
    if (now === flow.buffered) return;
    this.buffered += now - flow.buffered;
    flow.buffered = now;
    while (this.buffered > MAX_BUFFERED_BYTES && this.head !== null) {
      const victim = this.head;
      this.counters.inc('tcp.buffer_evicted');
      this.end(victim);
      this.remove(victim);
    }
  }

  // --- hash map and lazy LRU queue ----------------------------------------------

  private insert(flow: Flow): void {
    while (this.count >= MAX_FLOWS) this.evictOne();
    flow.nextInBucket = this.buckets.get(flow.hash) ?? null;
    this.buckets.set(flow.hash, flow);
    this.enqueue(flow);
    this.count++;
  }

  private evictOne(): void {
    for (;;) {
      const f = this.head!;
      if (f.lastSec !== f.queuedSec) {
        this.requeue(f);
        continue;
      }
      this.counters.inc('tcp.flow_evicted');
      this.end(f);
      this.remove(f);
      return;
    }
  }

  private remove(flow: Flow): void {
    let f = this.buckets.get(flow.hash) ?? null;
    let prev: Flow | null = null;
    while (f !== null && f !== flow) {
      prev = f;
      f = f.nextInBucket;
    }
    if (f === null) return;
    if (prev === null) {
      if (flow.nextInBucket === null) this.buckets.delete(flow.hash);
      else this.buckets.set(flow.hash, flow.nextInBucket);
    } else prev.nextInBucket = flow.nextInBucket;
    flow.nextInBucket = null;
    this.dequeue(flow);
    this.count--;
    this.buffered -= flow.buffered;
    flow.buffered = 0;
  }

  private enqueue(flow: Flow): void {
    flow.queuedSec = flow.lastSec;
    flow.prev = this.tail;
    flow.next = null;
    if (this.tail !== null) this.tail.next = flow;
    else this.head = flow;
    this.tail = flow;
  }

  private dequeue(flow: Flow): void {
    if (flow.prev !== null) flow.prev.next = flow.next;
    else this.head = flow.next;
    if (flow.next !== null) flow.next.prev = flow.prev;
    else this.tail = flow.prev;
    flow.prev = flow.next = null;
  }

  private requeue(flow: Flow): void {
    this.dequeue(flow);
    this.enqueue(flow);
  }
}

// Symmetric flow hash: hash(a) + hash(b) is the same both ways.
function endpointHash(addr: Uint8Array, port: number): number {
  let h = Math.imul(port + 0x9e3779b1, 0x85ebca6b);
  const n = addr.length;
  if (n === 4) {
    h = Math.imul(h ^ ((addr[0] << 24) | (addr[1] << 16) | (addr[2] << 8) | addr[3]), 0xcc9e2d51);
    return (h ^ (h >>> 15)) & 0x3fffffff;
  }
  for (let i = 0; i < n; i += 4) {
    const w = (addr[i] << 24) | (addr[i + 1] << 16) | (addr[i + 2] << 8) | addr[i + 3];
    h = Math.imul(h ^ w, 0xcc9e2d51);
    h ^= h >>> 15;
  }
  return h & 0x3fffffff;
}

/** `b` equals the client's (which 0) or the server's (which 1) address in a flow's `addrs`. */
function sameAddrAt(addrs: Uint8Array, which: 0 | 1, b: Uint8Array): boolean {
  const n = b.length;
  if (addrs.length !== 2 * n) return false;
  const off = which * n;
  for (let i = 0; i < n; i++) if (addrs[off + i] !== b[i]) return false;
  return true;
}

/** A TLS handshake record whose first handshake message is a ClientHello (when byte 5 is here). */
function isClientHelloStart(p: Uint8Array): boolean {
  return looksLikeTlsHandshakeRecord(p, 0) && (p.length < 6 || p[5] === 1);
}

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'].map((m) => Uint8Array.from(Buffer.from(`${m} `)));

/** Length of the HTTP method token + space at the start of `b`, or 0. */
function httpMethodLength(b: Uint8Array): number {
  for (const m of METHODS) {
    if (b.length < m.length) continue;
    let ok = true;
    for (let i = 0; i < m.length; i++) {
      if (b[i] !== m[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return m.length;
  }
  return 0;
}

function couldBeHttpMethodPrefix(b: Uint8Array): boolean {
  for (const m of METHODS) {
    if (b.length >= m.length) continue;
    let ok = true;
    for (let i = 0; i < b.length; i++) {
      if (b[i] !== m[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}
