// Host-name normalisation for the matcher: lower case, no trailing dot, IDNA
// (UTS #46 via node:url domainToASCII) for non-ASCII input. A name that is not
// a valid host name becomes null and matches nothing; nothing here throws.
//
// The ASCII path (every name seen in SNI, DNS, Host) is one pass of charCodeAt
// and returns the input string itself when it is already canonical, so the
// common case allocates nothing.
import { domainToASCII } from 'node:url';

/** Longest host name in text form (255 wire octets minus the length bytes). */
export const MAX_NAME_LENGTH = 253;
/** Longest label (RFC 1035 2.3.4). */
export const MAX_LABEL_LENGTH = 63;

const DOT = 0x2e;

// Character classes of ASCII, one table lookup per character.
const INVALID = 0;
const LABEL = 1; // a-z 0-9 - _
const UPPER = 2; // A-Z
const SEPARATOR = 3; // .
const CHAR_CLASS = new Uint8Array(128);
for (let c = 0x61; c <= 0x7a; c++) CHAR_CLASS[c] = LABEL;
for (let c = 0x30; c <= 0x39; c++) CHAR_CLASS[c] = LABEL;
CHAR_CLASS[0x2d] = LABEL;
CHAR_CLASS[0x5f] = LABEL;
for (let c = 0x41; c <= 0x5a; c++) CHAR_CLASS[c] = UPPER;
CHAR_CLASS[DOT] = SEPARATOR;

/**
 * Checks an ASCII name in place. Returns 0 when it is invalid, 1 when valid and
 * canonical, 2 when valid but it has upper case letters, 3 when valid but it
 * ends in one dot (4 = both). Labels: letters, digits, hyphen, underscore (seen
 * in real host names; harmless for matching), 1..63 characters.
 */
function scanAscii(name: string): number {
  const n = name.length;
  if (n === 0) return 0;
  let end = n;
  let trailingDot = false;
  if (name.charCodeAt(n - 1) === DOT) {
    end = n - 1;
    trailingDot = true;
    if (end === 0) return 0;
  }
  if (end > MAX_NAME_LENGTH) return 0;
  let upper = false;
  let labelLen = 0;
  for (let i = 0; i < end; i++) {
    const c = name.charCodeAt(i);
    const k = c < 0x80 ? CHAR_CLASS[c]! : INVALID;
    if (k === LABEL) {
      if (++labelLen > MAX_LABEL_LENGTH) return 0;
    } else if (k === SEPARATOR) {
      if (labelLen === 0) return 0;
      labelLen = 0;
    } else if (k === UPPER) {
      if (++labelLen > MAX_LABEL_LENGTH) return 0;
      upper = true;
    } else {
      return 0; // anything else, including every non-ASCII code unit
    }
  }
  if (labelLen === 0) return 0;
  return upper ? (trailingDot ? 4 : 2) : trailingDot ? 3 : 1;
}

function isAscii(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * The canonical form of a host name, or null when it is not a valid host name
 * (empty labels, a label over 63 characters, a name over 253, characters that
 * cannot be in a host name, Unicode that IDNA rejects).
 *
 * Unicode input goes through IDNA (UTS #46): a homograph such as `оpenai.com`
 * with a Cyrillic `о` becomes `xn--penai-iye.com`, a different name, and so it
 * never matches `openai.com`. Compatibility forms that IDNA maps to ASCII
 * (full-width letters) become the name a browser would resolve.
 */
export function normalizeName(name: string): string | null {
  if (typeof name !== 'string') return null;
  const r = scanAscii(name);
  if (r === 1) return name;
  if (r === 2) return name.toLowerCase();
  if (r === 3) return name.slice(0, -1);
  if (r === 4) return name.slice(0, -1).toLowerCase();
  if (name.length === 0 || name.length > 4 * MAX_NAME_LENGTH || isAscii(name)) return null;
  let ascii: string;
  try {
    ascii = domainToASCII(name);
  } catch {
    return null;
  }
  if (ascii === '') return null;
  const r2 = scanAscii(ascii);
  if (r2 === 0) return null;
  return r2 === 1 ? ascii : r2 === 2 ? ascii.toLowerCase() : r2 === 3 ? ascii.slice(0, -1) : ascii.slice(0, -1).toLowerCase();
}
