// Observation (+ catalog match) → event in ECS names (agent/event.ts).
import type { Observation, ClientHelloInfo, Endpoints } from './observation.js';
import type { EventAction, MatchVia, UmbraEvent } from './event.js';
import type { MatchResult } from '../signatures/types.js';

/** `@timestamp`: ISO 8601 UTC with microseconds, from capture seconds + nanoseconds. */
export function isoMicros(tsSec: number, tsNsec: number): string {
  const iso = new Date(tsSec * 1000).toISOString(); // …T12:34:56.000Z
  const micros = Math.floor(tsNsec / 1000);
  return iso.slice(0, 19) + '.' + String(micros).padStart(6, '0') + 'Z';
}

const PROTOCOL: Record<EventAction, UmbraEvent['network']['protocol']> = {
  'dns-query': 'dns',
  'dns-answer': 'dns',
  'tls-client-hello': 'tls',
  'quic-initial': 'quic',
  'http-request': 'http',
  connection: undefined,
};

const TLS_VERSION_NAMES: Record<number, string> = { 0x0300: 'SSL 3.0', 0x0301: '1.0', 0x0302: '1.1', 0x0303: '1.2', 0x0304: '1.3' };

export interface Named {
  /** The name the event is about (question, SNI, Host, or learned from the DNS cache). */
  domain: string | null;
  via: MatchVia | null;
  match: MatchResult | null;
}

export interface Observer {
  name?: string;
  id?: string;
}

function base(at: Endpoints, action: EventAction, protocol: UmbraEvent['network']['protocol'], observer: Observer | undefined): UmbraEvent {
  const e: UmbraEvent = {
    '@timestamp': isoMicros(at.tsSec, at.tsNsec),
    event: { kind: 'event', category: ['network'], type: action === 'connection' ? ['connection', 'start'] : ['protocol'], action, dataset: `umbra.${protocol ?? 'connection'}` },
    source: { ip: at.srcIp, port: at.srcPort },
    destination: { ip: at.dstIp, port: at.dstPort },
    network: { transport: at.transport, type: at.ipVersion === 4 ? 'ipv4' : 'ipv6' },
  };
  if (protocol) e.network.protocol = protocol;
  if (observer && (observer.name || observer.id)) e.observer = { ...observer };
  return e;
}

function tlsFields(e: UmbraEvent, hello: ClientHelloInfo): void {
  const client: NonNullable<UmbraEvent['tls']>['client'] = {};
  if (hello.serverName !== null) client.server_name = hello.serverName;
  if (hello.ja4) client.ja4 = hello.ja4;
  if (hello.supportedVersions.length) client.supported_versions = hello.supportedVersions.map((v) => TLS_VERSION_NAMES[v] ?? `0x${v.toString(16).padStart(4, '0')}`);
  e.tls = { client };
  if (hello.alpn.length) e.tls.next_protocol = hello.alpn[0];
  const u = (e.umbra ??= {});
  u.tls = {};
  if (hello.alpn.length) u.tls.alpn = hello.alpn;
  if (hello.ech) u.tls.ech = true;
  if (hello.serverName === null) u.tls.sni_missing = true;
  if (!hello.complete) u.tls.partial = true;
}

export function toEvent(o: Observation, named: Named, observer?: Observer): UmbraEvent {
  const protocol = PROTOCOL[o.action];
  const e = base(o.at, o.action, protocol, observer);
  if (named.domain !== null) e.destination.domain = named.domain;
  switch (o.action) {
    case 'dns-query':
      e.dns = { type: 'query', question: { name: o.name, type: o.qtype } };
      break;
    case 'dns-answer':
      e.dns = { type: 'answer', question: { name: o.name, type: o.qtype }, response_code: o.rcode, answers: o.answers.map((a) => ({ ...a })) };
      break;
    case 'tls-client-hello':
      tlsFields(e, o.hello);
      break;
    case 'quic-initial':
      if (o.hello) tlsFields(e, o.hello);
      (e.umbra ??= {}).quic = { version: `0x${o.quicVersion.toString(16).padStart(8, '0')}` };
      break;
    case 'http-request':
      e.http = { request: { method: o.method } };
      if (o.connect) (e.umbra ??= {}).http = { connect: true };
      break;
    case 'connection':
      break;
  }
  if (named.match) {
    const s = named.match.service;
    const risk: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s.risk)) risk[k] = v.value;
    const u = (e.umbra ??= {});
    u.service = { id: s.id, name: s.name, vendor: s.vendor, category: s.category, status: s.status, risk };
    u.match = { rule: named.match.rule, via: named.via!, kind: named.match.kind };
  }
  return e;
}
