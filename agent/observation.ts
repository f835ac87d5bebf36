// What decoders report to the pipeline: one observation per name (or nameless
// connection) seen on the wire. The pipeline matches names against the catalog
// and turns observations into events (agent/event.ts).

export interface Endpoints {
  tsSec: number;
  tsNsec: number;
  ipVersion: 4 | 6;
  transport: 'udp' | 'tcp';
  /** Client address as text (dotted quad or RFC 5952 IPv6). */
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

export interface DnsAnswer {
  name: string;
  type: string; // 'A', 'AAAA', 'CNAME', 'HTTPS', 'SVCB', …
  ttl: number;
  data: string; // address, target name, or a printable rendering
}

/** What a (possibly partial) ClientHello revealed. */
export interface ClientHelloInfo {
  serverName: string | null;
  alpn: string[];
  /** Supported versions extension values, e.g. 0x0304; legacy version if absent. */
  supportedVersions: number[];
  /** FoxIO JA4, present only when the whole ClientHello was parsed. */
  ja4: string | null;
  /** Encrypted Client Hello extension (0xfe0d) present. */
  ech: boolean;
  /** The whole ClientHello was available. */
  complete: boolean;
  /** Set when the SNI holds bytes that are not host-name characters (NUL, controls, non-ASCII …); serverName then keeps them as Latin-1 text. */
  serverNameMalformed?: boolean;
}

export type Observation =
  | { action: 'dns-query'; at: Endpoints; name: string; qtype: string }
  | { action: 'dns-answer'; at: Endpoints; name: string; qtype: string; rcode: string; answers: DnsAnswer[] }
  | { action: 'tls-client-hello'; at: Endpoints; hello: ClientHelloInfo }
  | { action: 'quic-initial'; at: Endpoints; quicVersion: number; hello: ClientHelloInfo | null }
  | { action: 'http-request'; at: Endpoints; method: string; host: string; connect: boolean }
  | { action: 'connection'; at: Endpoints };
