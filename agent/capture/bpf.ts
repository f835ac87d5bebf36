// The live agent's default kernel BPF prefilter: what reaches JavaScript at all.
// On a gateway almost every packet is bulk data (video, downloads, TLS records
// after the handshake); the decoders need only a handful of packets per
// connection, so the kernel drops the rest before it is copied to user space.
//
// Passed (IPv4 and IPv6, untagged and inside one 802.1Q/802.1ad VLAN tag):
// - DNS: UDP and TCP port 53, both directions (answers fill the DNS cache that
//   names connections without SNI);
// - TCP segments with SYN, FIN or RST (handshakes and teardown: the TCP flow
//   table opens and closes flows on them);
// - TCP segments whose payload starts with a TLS handshake record header
//   (0x16 0x03: the first segment of every ClientHello) or with an HTTP method
//   (GET, POST, PUT, HEAD, DELETE, OPTIONS, PATCH, CONNECT: the first segment of
//   each request carries the request line and usually Host);
// - UDP port 443 datagrams with the QUIC long-header bit (Initial, Handshake,
//   Retry, Version Negotiation); short-header (1-RTT bulk) packets are dropped;
// - IP fragments after the first (their ports are not visible; a large DNS
//   answer may be one), which are rare on a gateway.
//
// What it cannot do (BPF is stateless): a ClientHello spanning two TCP segments
// (Chromium's ~1.8 KB post-quantum hello) passes only its first segment, since
// the second starts mid-record with nothing to recognise. The TCP flow table
// then reports a partial hello (`umbra.tls.partial`) with what the first segment
// held, and a name missing from it is taken from the DNS answer cache. Use
// `--filter 'tcp or udp'` (more packets to JavaScript) when every hello must be
// read whole.
//
// IPv6: libpcap's `tcp[...]`/`udp[...]` accessors refuse IPv6 ("expression
// rejects all packets"), so the IPv6 half reads `ip6[...]` at fixed offsets,
// assuming the transport header directly follows the 40-byte IPv6 header (next
// header 6/17). A TCP/UDP packet behind IPv6 extension headers (rare outside
// fragments, which pass) matches none of the IPv6 tests (libpcap's own `port`
// does not walk extension headers either).
//
// The filter is a string for libpcap's compiler (pcap_compile);
// test/agent/capture/bpf.test.ts compiles it and runs it against packets.

/** TLS record header: handshake (22), major version 3. */
const TLS_HANDSHAKE_2 = '0x1603';
/** First four payload bytes of HTTP requests (ASCII, big-endian). */
const HTTP_METHOD_WORDS = [
  '0x47455420', // "GET "
  '0x504f5354', // "POST"
  '0x50555420', // "PUT "
  '0x48454144', // "HEAD"
  '0x44454c45', // "DELE"
  '0x4f505449', // "OPTI"
  '0x50415443', // "PATC"
  '0x434f4e4e', // "CONN"
] as const;

/** Offset of the TCP payload within the IPv4 TCP segment: the header length. */
const V4_TCP_PAYLOAD = '((tcp[12] & 0xf0) >> 2)';
/** Offset of the TCP payload within ip6[] (40-byte fixed header, TCP right after it). */
const V6_TCP_PAYLOAD = '(40 + ((ip6[52] & 0xf0) >> 2))';

function anyOf(parts: readonly string[]): string {
  return parts.join(' or ');
}

/** The IPv4 half. */
export const BPF_IPV4 = '(ip and (' + anyOf([
  'udp port 53',
  'tcp port 53',
  'tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0',
  `tcp[${V4_TCP_PAYLOAD}:2] = ${TLS_HANDSHAKE_2}`,
  ...HTTP_METHOD_WORDS.map((w) => `tcp[${V4_TCP_PAYLOAD}:4] = ${w}`),
  '(udp port 443 and udp[8] & 0x80 != 0)',
  'ip[6:2] & 0x1fff != 0',
]) + '))';

/** The IPv6 half (fixed 40-byte header; see the file header). */
export const BPF_IPV6 = '(ip6 and (' + anyOf([
  'udp port 53',
  'tcp port 53',
  '(ip6[6] = 6 and ip6[53] & 0x07 != 0)',
  `(ip6[6] = 6 and ip6[${V6_TCP_PAYLOAD}:2] = ${TLS_HANDSHAKE_2})`,
  ...HTTP_METHOD_WORDS.map((w) => `(ip6[6] = 6 and ip6[${V6_TCP_PAYLOAD}:4] = ${w})`),
  '(ip6[6] = 17 and ip6[42:2] = 443 and ip6[48] & 0x80 != 0)',
  '(ip6[6] = 17 and ip6[40:2] = 443 and ip6[48] & 0x80 != 0)',
  'ip6[6] = 44',
]) + '))';

/**
 * The prefilter without the VLAN branch: for link types other than Ethernet (raw
 * IP tunnels, Linux cooked capture on `any`, loopback), where libpcap has no `vlan`
 * ("no VLAN support for ..."). LiveCapture falls back to it by itself.
 */
export const DEFAULT_BPF_FILTER_NO_VLAN = `(${BPF_IPV4} or ${BPF_IPV6})`;
const UNTAGGED = DEFAULT_BPF_FILTER_NO_VLAN;

/**
 * The default prefilter of `umbra agent` (`--filter` replaces it). The `vlan`
 * branch shifts every offset after it by the tag, so the same tests apply to
 * frames with one VLAN tag (libpcap also matches tags the kernel moved to
 * packet metadata).
 */
export const DEFAULT_BPF_FILTER = `${UNTAGGED} or (vlan and ${UNTAGGED})`;
