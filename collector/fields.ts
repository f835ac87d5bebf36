// The fields of an Umbra event, declared once (Packetbeat's fields.yml habit):
// the Elasticsearch index template (store/es-template.ts) and docs/fields.md
// (fields-doc.ts) are generated from this list, and a test checks that every
// leaf of every golden event is declared with a matching type. It lives in
// collector/, not agent/: the agent builds events through the typed UmbraEvent
// and never needs the storage types; the compile-time check at the bottom ties
// this list to agent/event.ts so that a field added there fails the build here.
import type { UmbraEvent } from '../agent/event.js';

/** Elasticsearch field types used by the declaration (ECS uses the same names). */
export type FieldType = 'keyword' | 'ip' | 'date' | 'long' | 'boolean' | 'object';

export interface FieldDecl {
  /** Dotted path as in ECS (`destination.domain`). Parent objects are implied. */
  readonly name: string;
  readonly type: FieldType;
  /** One sentence for docs/fields.md and the template's `_meta`. */
  readonly description: string;
  /** True for ECS fields (Kibana's ECS-aware apps read them); false for Umbra's own. */
  readonly ecs: boolean;
  /** The value is (or may be) an array of this type. Elasticsearch maps arrays as their item type. */
  readonly array?: boolean;
  /** Who sets it: the agent (default) or the collector (identity, policy). */
  readonly setBy?: 'agent' | 'collector';
  /** Example value, for the docs. */
  readonly example?: string;
}

const f = <const T extends FieldDecl>(d: T): T => d;

/** Every field of an Umbra event. Order is the docs' order. */
export const FIELDS = [
  f({ name: '@timestamp', type: 'date', ecs: true, description: 'Time of the packet the event comes from (ISO 8601, microseconds; Elasticsearch keeps milliseconds in the index, the source keeps the string).', example: '2026-11-25T20:53:20.859277Z' }),

  f({ name: 'event.kind', type: 'keyword', ecs: true, description: "Always `event`.", example: 'event' }),
  f({ name: 'event.category', type: 'keyword', ecs: true, array: true, description: 'ECS categories (`network`).', example: '["network"]' }),
  f({ name: 'event.type', type: 'keyword', ecs: true, array: true, description: 'ECS types (`protocol`, `connection`, `start`).', example: '["protocol"]' }),
  f({ name: 'event.action', type: 'keyword', ecs: true, description: 'What was seen: `dns-query`, `dns-answer`, `tls-client-hello`, `quic-initial`, `http-request`, `connection`.', example: 'tls-client-hello' }),
  f({ name: 'event.dataset', type: 'keyword', ecs: true, description: 'Umbra dataset (`umbra.dns`, `umbra.tls`, `umbra.quic`, `umbra.http`, `umbra.connection`).', example: 'umbra.tls' }),
  f({ name: 'event.id', type: 'keyword', ecs: true, description: 'Deterministic id `<agent id>:<spool sequence>`, also the Elasticsearch `_id`: a replayed batch never stores an event twice.', example: 'gw-1:4711' }),

  f({ name: 'source.ip', type: 'ip', ecs: true, description: 'Client address.', example: '10.0.0.12' }),
  f({ name: 'source.port', type: 'long', ecs: true, description: 'Client port.', example: '51234' }),
  f({ name: 'destination.ip', type: 'ip', ecs: true, description: 'Server address.', example: '104.18.32.47' }),
  f({ name: 'destination.port', type: 'long', ecs: true, description: 'Server port.', example: '443' }),
  f({ name: 'destination.domain', type: 'keyword', ecs: true, description: 'Name the client asked for (DNS question, SNI, Host), or for a `connection` the name its address was learned from.', example: 'chatgpt.com' }),

  f({ name: 'network.transport', type: 'keyword', ecs: true, description: '`udp` or `tcp`.', example: 'tcp' }),
  f({ name: 'network.protocol', type: 'keyword', ecs: true, description: '`dns`, `tls`, `quic` or `http`; absent for a `connection`.', example: 'tls' }),
  f({ name: 'network.type', type: 'keyword', ecs: true, description: '`ipv4` or `ipv6`.', example: 'ipv4' }),

  f({ name: 'dns.id', type: 'keyword', ecs: true, description: 'DNS message id.', example: '53211' }),
  f({ name: 'dns.type', type: 'keyword', ecs: true, description: '`query` or `answer`.', example: 'query' }),
  f({ name: 'dns.question.name', type: 'keyword', ecs: true, description: 'Name asked for.', example: 'api.openai.com' }),
  f({ name: 'dns.question.type', type: 'keyword', ecs: true, description: 'Record type asked for (`A`, `AAAA`, `HTTPS`).', example: 'A' }),
  f({ name: 'dns.response_code', type: 'keyword', ecs: true, description: 'Response code (`NOERROR`, `NXDOMAIN`).', example: 'NOERROR' }),
  f({ name: 'dns.answers', type: 'object', ecs: true, array: true, description: 'Answer records, one object each.' }),
  f({ name: 'dns.answers.name', type: 'keyword', ecs: true, description: 'Owner name of the record.', example: 'chatgpt.com' }),
  f({ name: 'dns.answers.type', type: 'keyword', ecs: true, description: 'Record type.', example: 'A' }),
  f({ name: 'dns.answers.ttl', type: 'long', ecs: true, description: 'Time to live, seconds.', example: '300' }),
  f({ name: 'dns.answers.data', type: 'keyword', ecs: true, description: 'Record data as text (address, target name).', example: '104.18.32.47' }),

  f({ name: 'tls.client.server_name', type: 'keyword', ecs: true, description: 'SNI of the ClientHello.', example: 'chatgpt.com' }),
  f({ name: 'tls.client.ja4', type: 'keyword', ecs: false, description: 'JA4 fingerprint of the ClientHello (FoxIO).', example: 't13d1516h2_8daaf6152771_02713d6af862' }),
  f({ name: 'tls.client.supported_versions', type: 'keyword', ecs: false, array: true, description: 'TLS versions offered in the supported_versions extension.', example: '["1.3","1.2"]' }),
  f({ name: 'tls.next_protocol', type: 'keyword', ecs: true, description: 'First ALPN protocol offered.', example: 'h2' }),

  f({ name: 'http.request.method', type: 'keyword', ecs: true, description: 'HTTP request method.', example: 'GET' }),

  f({ name: 'observer.id', type: 'keyword', ecs: false, description: 'Agent id (the one its token belongs to).', example: 'gw-1' }),
  f({ name: 'observer.name', type: 'keyword', ecs: true, description: 'Agent name.', example: 'gw-1' }),
  f({ name: 'observer.hostname', type: 'keyword', ecs: true, description: 'Host name of the gateway the agent runs on.', example: 'gw-1.example.org' }),

  f({ name: 'user.name', type: 'keyword', ecs: true, setBy: 'collector', description: 'Account of the person using the source address (identity sources).', example: 'jdoe' }),
  f({ name: 'user.email', type: 'keyword', ecs: true, setBy: 'collector', description: 'Their e-mail address.', example: 'jdoe@example.org' }),
  f({ name: 'user.full_name', type: 'keyword', ecs: true, setBy: 'collector', description: 'Their full name.', example: 'Jane Doe' }),
  f({ name: 'user.group.name', type: 'keyword', ecs: true, setBy: 'collector', array: true, description: 'Their directory groups.', example: 'engineering' }),
  f({ name: 'host.hostname', type: 'keyword', ecs: true, setBy: 'collector', description: 'Host name of the source address (DHCP leases, DNS).', example: 'laptop-42' }),

  f({ name: 'umbra.service.id', type: 'keyword', ecs: false, description: 'Catalog id of the AI service matched.', example: 'openai-chatgpt' }),
  f({ name: 'umbra.service.name', type: 'keyword', ecs: false, description: 'Service name.', example: 'ChatGPT' }),
  f({ name: 'umbra.service.vendor', type: 'keyword', ecs: false, description: 'Vendor.', example: 'OpenAI' }),
  f({ name: 'umbra.service.category', type: 'keyword', ecs: false, description: 'Catalog category.', example: 'chat-assistant' }),
  f({ name: 'umbra.service.status', type: 'keyword', ecs: false, description: 'Organisation status: `sanctioned`, `monitored`, `unsanctioned`.', example: 'unsanctioned' }),
  f({ name: 'umbra.service.risk', type: 'object', ecs: false, description: 'Risk attributes of the service, from the catalog (values only; sources stay in the catalog).' }),
  f({ name: 'umbra.service.risk.trains_on_user_data', type: 'keyword', ecs: false, description: '`yes`, `no`, `opt-out`, `opt-in` or `unknown`.', example: 'opt-out' }),
  f({ name: 'umbra.service.risk.retention', type: 'keyword', ecs: false, description: 'Data retention as published.', example: '30 days' }),
  f({ name: 'umbra.service.risk.headquarters', type: 'keyword', ecs: false, description: 'Vendor headquarters, ISO 3166-1 alpha-2.', example: 'US' }),
  f({ name: 'umbra.service.risk.processing_jurisdiction', type: 'keyword', ecs: false, array: true, description: 'Where data is processed, ISO 3166-1 alpha-2.', example: '["US"]' }),
  f({ name: 'umbra.service.risk.enterprise_tier', type: 'keyword', ecs: false, description: '`yes`, `no` or `unknown`.', example: 'yes' }),
  f({ name: 'umbra.service.risk.certifications', type: 'keyword', ecs: false, array: true, description: 'Certifications claimed (SOC 2, ISO 27001).', example: '["SOC 2"]' }),
  f({ name: 'umbra.match.rule', type: 'keyword', ecs: false, description: 'Catalog pattern that matched.', example: '*.chatgpt.com' }),
  f({ name: 'umbra.match.via', type: 'keyword', ecs: false, description: 'Where the name came from: `dns`, `sni`, `host`, `dns-cache`.', example: 'sni' }),
  f({ name: 'umbra.match.kind', type: 'keyword', ecs: false, description: 'Endpoint kind of the pattern (`web`, `api`, ...).', example: 'web' }),
  f({ name: 'umbra.tls.ech', type: 'boolean', ecs: false, description: 'The ClientHello offers Encrypted Client Hello.', example: 'false' }),
  f({ name: 'umbra.tls.sni_missing', type: 'boolean', ecs: false, description: 'The ClientHello has no SNI.', example: 'false' }),
  f({ name: 'umbra.tls.partial', type: 'boolean', ecs: false, description: 'The ClientHello was cut (only part of it seen).', example: 'false' }),
  f({ name: 'umbra.tls.alpn', type: 'keyword', ecs: false, array: true, description: 'All ALPN protocols offered.', example: '["h2","http/1.1"]' }),
  f({ name: 'umbra.quic.version', type: 'keyword', ecs: false, description: 'QUIC version of the Initial packet.', example: '0x00000001' }),
  f({ name: 'umbra.http.connect', type: 'boolean', ecs: false, description: 'The HTTP request is a proxy CONNECT.', example: 'false' }),
] as const;

export type FieldName = (typeof FIELDS)[number]['name'];

/** The declaration by name. */
export const FIELD_BY_NAME: ReadonlyMap<string, FieldDecl> = new Map(FIELDS.map((d) => [d.name, d]));

// --- Compile-time tie to agent/event.ts: every leaf path of UmbraEvent is declared. ---
type Leaf = string | number | boolean;
type LeafPaths<T, P extends string> = T extends Leaf
  ? P
  : T extends readonly (infer U)[]
    ? LeafPaths<U, P>
    : T extends object
      ? { [K in keyof T & string]-?: LeafPaths<NonNullable<T[K]>, P extends '' ? K : `${P}.${K}`> }[keyof T & string]
      : never;
/** Leaf paths of the event type not declared above: must be `never`. */
export type UndeclaredEventFields = Exclude<LeafPaths<UmbraEvent, ''>, FieldName>;
// A field added to UmbraEvent without a declaration fails here, naming the path.
const everyEventFieldDeclared: [UndeclaredEventFields] extends [never] ? true : UndeclaredEventFields = true;
void everyEventFieldDeclared;
