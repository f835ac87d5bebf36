// IP addresses as text: dotted quad, and IPv6 in RFC 5952 canonical form (lower
// case, no leading zeros, the longest run of two or more zero groups as "::", the
// first on a tie, IPv4-mapped ::ffff:a.b.c.d in mixed notation). Table lookups, no
// regexes.

const DEC: string[] = Array.from({ length: 256 }, (_, i) => String(i));

export function formatIPv4(b: Uint8Array, off = 0): string {
  return DEC[b[off]] + '.' + DEC[b[off + 1]] + '.' + DEC[b[off + 2]] + '.' + DEC[b[off + 3]];
}

export function formatIPv6(b: Uint8Array, off = 0): string {
  // longest run of zero 16-bit groups
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (b[off + 2 * i] === 0 && b[off + 2 * i + 1] === 0) {
      if (runStart < 0) runStart = i;
      const len = i - runStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = runStart;
      }
    } else runStart = -1;
  }
  if (bestLen < 2) bestStart = -1;
  // ::ffff:a.b.c.d (IPv4-mapped, RFC 5952 section 5)
  if (bestStart === 0 && bestLen === 5 && b[off + 10] === 0xff && b[off + 11] === 0xff) {
    return '::ffff:' + formatIPv4(b, off + 12);
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += ((b[off + 2 * i] << 8) | b[off + 2 * i + 1]).toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

/** 4 bytes: IPv4; 16: IPv6. */
export function formatIp(b: Uint8Array): string {
  return b.length === 4 ? formatIPv4(b) : formatIPv6(b);
}
