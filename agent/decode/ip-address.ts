// IP address bytes (4 or 16) as text, the spelling of Endpoints.srcIp/dstIp.
// Minimal version written for the TCP flow table; the spelling rules live in
// ip-text.ts (dotted quad, RFC 5952).
import { ipv4Text, ipv6Text } from './ip-text.js';

export function formatIp(b: Uint8Array): string {
  return b.length === 4 ? ipv4Text(b, 0) : ipv6Text(b, 0);
}
