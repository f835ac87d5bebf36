// FoxIO JA4 TLS client fingerprint, per FoxIO's technical_details/JA4.md
// (github.com/FoxIO-LLC/ja4, JA4 is BSD 3-Clause):
//   a = protocol (t/q/d) + version + SNI (d/i) + 2-digit cipher count
//       + 2-digit extension count + first/last char of the first ALPN value
//   b = sha256(sorted cipher hex list)[:12]
//   c = sha256(sorted extension hex list without SNI/ALPN + '_' + signature
//       algorithms in wire order)[:12]
// GREASE (RFC 8701) is ignored everywhere; counts are capped at 99; an empty
// list hashes to 000000000000. `ja4o` and the raw forms (`ja4r`, `ja4ro`) are
// the spec's "original order" and unhashed renderings, used to check the parts.

import { createHash } from 'node:crypto';
import type { ClientHello } from './tls.js';
import { EXT_ALPN, EXT_SERVER_NAME, isGrease } from './tls-tables.js';

export type Ja4Transport = 'tcp' | 'quic' | 'dtls';

const EMPTY_HASH = '000000000000';

const VERSION_CODES: ReadonlyMap<number, string> = new Map([
  [0x0304, '13'],
  [0x0303, '12'],
  [0x0302, '11'],
  [0x0301, '10'],
  [0x0300, 's3'],
  [0x0002, 's2'], // as JA4.md lists SSL 2.0
  [0x0200, 's2'],
  [0x0100, 's1'],
  [0xfeff, 'd1'],
  [0xfefd, 'd2'],
  [0xfefc, 'd3'],
]);

/** The JA4 fingerprint, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`. */
export function ja4(ch: ClientHello, transport: Ja4Transport): string {
  const p = parts(ch, transport, false);
  return `${p.a}_${hash12(p.b)}_${hash12(p.c)}`;
}

/** JA4_o: the same, with ciphers and extensions in wire order (SNI and ALPN kept). */
export function ja4o(ch: ClientHello, transport: Ja4Transport): string {
  const p = parts(ch, transport, true);
  return `${p.a}_${hash12(p.b)}_${hash12(p.c)}`;
}

/** JA4_r: the sorted lists before hashing. */
export function ja4r(ch: ClientHello, transport: Ja4Transport): string {
  const p = parts(ch, transport, false);
  return `${p.a}_${p.b}_${p.c}`;
}

/** JA4_ro: the wire-order lists before hashing. */
export function ja4ro(ch: ClientHello, transport: Ja4Transport): string {
  const p = parts(ch, transport, true);
  return `${p.a}_${p.b}_${p.c}`;
}

function parts(ch: ClientHello, transport: Ja4Transport, original: boolean): { a: string; b: string; c: string } {
  const proto = transport === 'quic' ? 'q' : transport === 'dtls' ? 'd' : 't';
  const ciphers = ch.cipherSuites.filter((v) => !isGrease(v));
  const exts = ch.extensions.map((e) => e.type).filter((v) => !isGrease(v));
  const sni = exts.includes(EXT_SERVER_NAME) ? 'd' : 'i';
  const a = `${proto}${versionCode(ch)}${sni}${count2(ciphers.length)}${count2(exts.length)}${alpnChars(ch.alpnFirstRaw)}`;

  const cipherHex = ciphers.map(hex4);
  const extHex = (original ? exts : exts.filter((v) => v !== EXT_SERVER_NAME && v !== EXT_ALPN)).map(hex4);
  if (!original) {
    cipherHex.sort();
    extHex.sort();
  }
  const sigs = ch.signatureAlgorithms.filter((v) => !isGrease(v)).map(hex4).join(',');
  const b = cipherHex.join(',');
  const c = extHex.length === 0 ? '' : sigs.length > 0 ? `${extHex.join(',')}_${sigs}` : extHex.join(',');
  return { a, b, c };
}

// "If extension 0x002b exists (supported_versions), then the version is the highest
// value in the extension [GREASE ignored]. If the extension doesn't exist, then the
// TLS version is the value of the Protocol Version."
function versionCode(ch: ClientHello): string {
  let v = ch.legacyVersion;
  if (ch.hasSupportedVersions) {
    let best = -1;
    for (const x of ch.supportedVersions) if (!isGrease(x) && x > best) best = x;
    if (best >= 0) v = best;
  }
  return VERSION_CODES.get(v) ?? '00';
}

function count2(n: number): string {
  const c = Math.min(n, 99);
  return c < 10 ? `0${c}` : String(c);
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

// "The first and last alphanumeric characters of the ALPN first value" — "00" when
// absent or empty; a single character is both first and last; if the first or last
// byte is not alphanumeric, the first and last characters of the value's hex.
function alpnChars(raw: Uint8Array | null): string {
  if (raw === null || raw.length === 0) return '00';
  const f = raw[0];
  const l = raw[raw.length - 1];
  if (isAlnum(f) && isAlnum(l)) return String.fromCharCode(f, l);
  const hexFirst = (f >> 4).toString(16);
  const hexLast = (l & 0x0f).toString(16);
  return hexFirst + hexLast;
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}

function hash12(s: string): string {
  if (s.length === 0) return EMPTY_HASH;
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}
