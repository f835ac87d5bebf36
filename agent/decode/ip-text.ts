// IP addresses as text, the one spelling used everywhere addresses are keys
// (Endpoints.srcIp/dstIp, the DNS answer cache): dotted quad, and RFC 5952
// for IPv6 (lowercase, no leading zeros, the longest run of two or more zero
// groups — the first if tied — as "::", IPv4-mapped addresses as ::ffff:a.b.c.d).
// The caller checks that 4 / 16 bytes are present.

export function ipv4Text(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

export function ipv6Text(b: Uint8Array, o: number): string {
  // Longest zero run, found first so the string is built once.
  let bestAt = -1;
  let bestLen = 1;
  let runAt = -1;
  for (let i = 0; i < 8; i++) {
    const zero = b[o + 2 * i] === 0 && b[o + 2 * i + 1] === 0;
    if (zero) {
      if (runAt < 0) runAt = i;
      const len = i - runAt + 1;
      if (len > bestLen) {
        bestAt = runAt;
        bestLen = len;
      }
    } else runAt = -1;
  }
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad.
  if (bestAt === 0 && bestLen === 5 && b[o + 10] === 0xff && b[o + 11] === 0xff) return `::ffff:${ipv4Text(b, o + 12)}`;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += ((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!).toString(16);
    if (i < 7) s += ':';
  }
  return s;
}
