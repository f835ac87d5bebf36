// The event: the contract between agent, collector and store (DESIGN.md).
// ECS names, nested objects on the wire. Optional members are omitted, not null.

export type EventAction = 'dns-query' | 'dns-answer' | 'tls-client-hello' | 'quic-initial' | 'http-request' | 'connection';
export type MatchVia = 'dns' | 'sni' | 'host' | 'dns-cache';

export interface UmbraEvent {
  '@timestamp': string;
  event: {
    kind: 'event';
    category: string[];
    type: string[];
    action: EventAction;
    dataset: string;
    id?: string;
  };
  source: { ip: string; port: number };
  destination: { ip: string; port: number; domain?: string };
  /** protocol is absent for a `connection` (a TCP SYN: nothing on the wire tells the protocol yet). */
  network: { transport: 'udp' | 'tcp'; protocol?: 'dns' | 'tls' | 'quic' | 'http'; type: 'ipv4' | 'ipv6' };
  dns?: {
    id?: number;
    type: 'query' | 'answer';
    question: { name: string; type: string };
    response_code?: string;
    answers?: { name: string; type: string; ttl: number; data: string }[];
  };
  tls?: {
    client: { server_name?: string; ja4?: string; supported_versions?: string[] };
    next_protocol?: string;
  };
  http?: { request: { method: string } };
  observer?: { name?: string; id?: string; hostname?: string };
  umbra?: {
    service?: { id: string; name: string; vendor: string; category: string; status?: string; risk?: Record<string, unknown> };
    match?: { rule: string; via: MatchVia; kind?: string };
    tls?: { ech?: boolean; sni_missing?: boolean; partial?: boolean; alpn?: string[] };
    quic?: { version: string };
    http?: { connect?: boolean };
  };
}
