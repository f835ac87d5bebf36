// The agent's packet pipeline, the same for files (`umbra analyze`) and live
// capture (`umbra agent`): captured packet → L4 → decoders (DNS, TCP flows for
// TLS/HTTP/DNS-over-TCP, QUIC Initials) → observations → one catalog match per
// name → events. Names missing on the wire (no SNI, ECH, IP literals, a lost
// segment) are taken from the DNS answer cache, filled by the responses seen.
// Tables expire by capture time, never by wall-clock time, so a file replays
// exactly as it was captured.
import type { CapturedPacket, L4Packet } from './packet.js';
import type { Endpoints, Observation } from './observation.js';
import type { MatchVia, UmbraEvent } from './event.js';
import type { MatchResult } from '../signatures/types.js';
import type { Matcher } from '../signatures/matcher.js';
import { Counters } from './stats.js';
import { PacketDecoder } from './decode/packet.js';
import { DecodeError } from './decode/decode-error.js';
import { decodeDns, dnsObservations, type DnsMessage } from './decode/dns.js';
import { formatIp } from './decode/ip-address.js';
import { checkL4 } from './decode/checksum.js';
import { DnsAnswerCache } from './flow/dns-cache.js';
import { TcpFlowTable } from './flow/tcp-flows.js';
import { QuicInitialTable } from './flow/quic-initials.js';
import { toEvent, type Observer } from './to-event.js';

/** Flow tables are swept for idle entries at most this often (capture seconds). */
export const EXPIRE_INTERVAL_SEC = 1;
export const DNS_PORT = 53;

export interface PipelineOptions {
  matcher: Matcher;
  /** Emit observations that match no catalog entry too (`--all`). */
  all?: boolean;
  observer?: Observer;
  counters?: Counters;
  onEvent: (e: UmbraEvent) => void;
  /** One line for people, once per cause (e.g. an unknown link type). */
  onWarning?: (message: string) => void;
}

export class Pipeline {
  readonly counters: Counters;
  readonly dnsCache: DnsAnswerCache;
  private readonly decoder: PacketDecoder;
  private readonly tcp: TcpFlowTable;
  private readonly quic: QuicInitialTable;
  private readonly matcher: Matcher;
  private readonly all: boolean;
  private readonly observer: Observer | undefined;
  private readonly onEvent: (e: UmbraEvent) => void;
  private nextExpire = 0;
  private now = 0;

  constructor(opts: PipelineOptions) {
    this.counters = opts.counters ?? new Counters();
    this.matcher = opts.matcher;
    this.all = opts.all ?? false;
    this.observer = opts.observer;
    this.onEvent = opts.onEvent;
    this.decoder = new PacketDecoder(this.counters, { onWarning: opts.onWarning });
    this.dnsCache = new DnsAnswerCache(this.counters);
    const emit = (o: Observation): void => this.observe(o);
    this.tcp = new TcpFlowTable(this.counters, emit, (at, msg, fromServer) => this.dnsMessage(at, msg, fromServer));
    this.quic = new QuicInitialTable(this.counters, emit);
  }

  onPacket(p: CapturedPacket): void {
    const c = this.counters;
    c.packets++;
    c.bytes += p.origLen;
    const l4 = this.decoder.decode(p);
    if (l4 === null) return;
    const t = l4.tsSec;
    if (t > this.now) this.now = t;
    if (this.now >= this.nextExpire) {
      if (this.nextExpire !== 0) this.expire(this.now);
      this.nextExpire = this.now + EXPIRE_INTERVAL_SEC;
    }
    if (l4.transport === 'tcp') {
      this.tcp.onPacket(l4);
    } else if (l4.srcPort === DNS_PORT || l4.dstPort === DNS_PORT) {
      this.udpDns(l4);
    } else if (!this.quic.onDatagram(l4)) {
      c.inc('udp.other');
    }
  }

  /** End of input: what the tables still hold (partial hellos, nameless flows) is reported. */
  finish(): void {
    this.tcp.flush();
    this.quic.flush();
  }

  private expire(now: number): void {
    this.tcp.expire(now);
    this.quic.expire(now);
  }

  private udpDns(l4: L4Packet): void {
    // a corrupted answer would poison the answer cache that names later connections
    if (checkL4(l4) === 'bad') {
      this.counters.inc('udp.bad_checksum');
      return;
    }
    const msg = this.decodeDnsMessage(l4.payload);
    if (msg === null) return;
    // source is always the client (DESIGN.md): a response travels server → client
    const swap = msg.isResponse;
    const at: Endpoints = {
      tsSec: l4.tsSec, tsNsec: l4.tsNsec, ipVersion: l4.ipVersion, transport: 'udp',
      srcIp: formatIp(swap ? l4.dst : l4.src), srcPort: swap ? l4.dstPort : l4.srcPort,
      dstIp: formatIp(swap ? l4.src : l4.dst), dstPort: swap ? l4.srcPort : l4.dstPort,
    };
    this.dnsDecoded(at, msg);
  }

  /** DNS over TCP: the flow table reports endpoints client → server already. */
  private dnsMessage(at: Endpoints, payload: Uint8Array, _fromServer: boolean): void {
    const msg = this.decodeDnsMessage(payload);
    if (msg !== null) this.dnsDecoded(at, msg);
  }

  private decodeDnsMessage(payload: Uint8Array): DnsMessage | null {
    try {
      return decodeDns(payload, 0).value;
    } catch (e) {
      if (e instanceof DecodeError) {
        this.counters.inc(e.reason);
        return null;
      }
      throw e;
    }
  }

  private dnsDecoded(at: Endpoints, msg: DnsMessage): void {
    this.counters.inc(msg.isResponse ? 'dns.responses' : 'dns.queries');
    if (msg.isResponse) this.dnsCache.addFromMessage(msg, at.tsSec);
    for (const o of dnsObservations(msg, at)) this.observe(o);
  }

  /** Names the observation, matches it once, and emits the event. */
  private observe(o: Observation): void {
    let domain: string | null = null;
    let via: MatchVia | null = null;
    switch (o.action) {
      case 'dns-query':
      case 'dns-answer':
        domain = o.name;
        via = 'dns';
        break;
      case 'http-request':
        domain = o.host;
        via = 'host';
        break;
      case 'tls-client-hello':
      case 'quic-initial':
        if (o.hello && o.hello.serverName !== null) {
          domain = o.hello.serverName;
          via = 'sni';
        }
        break;
      case 'connection':
        break;
    }
    if (domain === null) {
      domain = this.dnsCache.lookup(o.at.dstIp, o.at.tsSec);
      if (domain !== null) via = 'dns-cache';
    }
    let match: MatchResult | null = null;
    if (domain !== null && domain !== '') match = this.matcher.match(domain);
    this.counters.inc(`events.${o.action}`);
    if (match === null) {
      if (!this.all) return;
    } else {
      this.counters.inc('events.matched');
    }
    this.onEvent(toEvent(o, { domain, via, match }, this.observer));
  }
}
