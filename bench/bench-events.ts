// Synthetic events for the ingest benchmarks: what the agent ships for a TLS
// ClientHello to an AI service (~750 bytes of JSON), from one of `clients`
// addresses picked pseudo-randomly (a gateway sees many clients interleaved,
// which scatters the store's source-address index).
import type { UmbraEvent } from '../agent/event.js';

const SERVICES = [
  ['openai-chatgpt', 'ChatGPT', 'OpenAI', 'chatgpt.com'],
  ['anthropic-claude', 'Claude', 'Anthropic', 'claude.ai'],
  ['google-gemini', 'Gemini', 'Google', 'gemini.google.com'],
  ['mistral-le-chat', 'Le Chat', 'Mistral AI', 'chat.mistral.ai'],
] as const;

/** Event number `seq` (7 ms of packet time apart) from one of `clients` addresses; no event.id or observer.id (the spool stamps them). */
export function benchEvent(seq: number, clients: number, observer = 'bench-gw-1'): UmbraEvent {
  const [id, name, vendor, domain] = SERVICES[seq % SERVICES.length]!;
  const k = (Math.imul(seq, 2654435761) >>> 0) % clients;
  return {
    '@timestamp': new Date(Date.UTC(2026, 10, 25, 9) + seq * 7).toISOString().replace('Z', '417Z'),
    event: { kind: 'event', category: ['network'], type: ['protocol'], action: 'tls-client-hello', dataset: 'umbra.tls' },
    source: { ip: `10.20.${(k >> 8) & 255}.${k & 255}`, port: 32768 + (seq % 28000) },
    destination: { ip: '104.18.32.47', port: 443, domain },
    network: { transport: 'tcp', protocol: 'tls', type: 'ipv4' },
    tls: { client: { server_name: domain, ja4: 't13d1516h2_8daaf6152771_02713d6af862', supported_versions: ['1.3', '1.2'] }, next_protocol: 'h2' },
    observer: { name: observer, hostname: 'gw1.example.org' },
    umbra: { service: { id, name, vendor, category: 'chat-assistant' }, match: { rule: domain, via: 'sni', kind: 'web' }, tls: { alpn: ['h2', 'http/1.1'] } },
  } as unknown as UmbraEvent;
}
