// HTTP/1.0 and 1.1 requests (RFC 9112): the request line and the header
// section, for the name a client asks for — the Host header, the authority of
// an absolute-form target (requests to a forward proxy), or the authority of
// CONNECT host:port. Bodies are not read. Only DecodeError('http.*') leaves
// this module. The header section may arrive over several TCP segments: while
// it is not complete the decoder throws 'http.incomplete', and the flow table
// calls again with more bytes.
import { DecodeError, type Decoded } from './decode-error.js';

/** Largest header section (request line included) we wait for; more is 'http.header_too_long'. */
export const HTTP_MAX_HEADER_BYTES = 16384;
/** Header lines read per request; more is 'http.malformed'. */
export const HTTP_MAX_HEADER_LINES = 256;

export interface HttpRequest {
  /** The method token as sent (upper case: tokens are case-sensitive). */
  method: string;
  /**
   * The name asked for, lowercased, port, IPv6 brackets and one trailing dot
   * removed: from the absolute-form or CONNECT target, else the Host header;
   * null when neither gives one (HTTP/1.0 without Host).
   */
  host: string | null;
  connect: boolean;
  /** The request-target as sent. */
  target: string;
}

/** Methods of RFC 9110 §9 and PATCH (RFC 5789), the ones real clients send first on a connection. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;
const METHOD_BYTES = HTTP_METHODS.map((m) => Uint8Array.from(m, (c) => c.charCodeAt(0)));
/** "HTTP/1." — the version's minor digit must be 0 or 1. */
const VERSION = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e];

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const HT = 0x09;

/**
 * Index in HTTP_METHODS of the method at `offset` followed by a space; -1 when
 * the bytes are not one; -2 when the bytes present are a prefix of one (wait
 * for more).
 */
function matchMethod(v: Uint8Array, offset: number): number {
  let partial = false;
  for (let k = 0; k < METHOD_BYTES.length; k++) {
    const m = METHOD_BYTES[k]!;
    let i = 0;
    while (i < m.length && offset + i < v.length && v[offset + i] === m[i]) i++;
    if (i < m.length) {
      if (offset + i >= v.length) partial = true;
      continue;
    }
    if (offset + i >= v.length) {
      partial = true;
      continue;
    }
    if (v[offset + i] === SP) return k;
  }
  return partial ? -2 : -1;
}

/** Cheap first look at a TCP payload: a known method token and a space. */
export function looksLikeHttpRequest(view: Uint8Array, offset: number): boolean {
  return offset >= 0 && offset < view.length && matchMethod(view, offset) >= 0;
}

function latin1(v: Uint8Array, s: number, e: number): string {
  let out = '';
  for (let i = s; i < e; i++) out += String.fromCharCode(v[i]!);
  return out;
}

/**
 * The host of an authority (`host`, `host:port`, `[v6]:port`, `user@host`),
 * lowercased without port, brackets or a trailing dot; null if empty.
 * Throws 'http.malformed' on a bad bracket form or a non-visible character.
 */
function hostOf(v: Uint8Array, s: number, e: number): string | null {
  for (let i = s; i < e; i++) {
    const c = v[i]!;
    if (c <= SP || c >= 0x7f) throw new DecodeError('http.malformed', 'control, space or non-ASCII byte in a host');
  }
  // userinfo@ (absolute-form only in practice): the host follows the last '@'
  for (let i = e - 1; i >= s; i--) {
    if (v[i] === 0x40) {
      s = i + 1;
      break;
    }
  }
  if (s >= e) return null;
  if (v[s] === 0x5b) {
    // [IPv6]:port
    let close = -1;
    for (let i = s + 1; i < e; i++) {
      if (v[i] === 0x5d) {
        close = i;
        break;
      }
    }
    if (close < 0 || close === s + 1) throw new DecodeError('http.malformed', 'unclosed or empty IPv6 literal');
    if (close + 1 < e && v[close + 1] !== 0x3a) throw new DecodeError('http.malformed', 'bytes after an IPv6 literal');
    return latin1(v, s + 1, close).toLowerCase();
  }
  let end = e;
  let colons = 0;
  let lastColon = -1;
  for (let i = s; i < e; i++) {
    if (v[i] === 0x3a) {
      colons++;
      lastColon = i;
    }
  }
  if (colons === 1) end = lastColon; // host:port (a bare IPv6 address, invalid here, is kept whole)
  if (end > s && v[end - 1] === 0x2e) end--; // fully qualified "name."
  if (end <= s) return null;
  return latin1(v, s, end).toLowerCase();
}

/** Is v[s..e) the header name "host" (case-insensitive)? */
function isHostName(v: Uint8Array, s: number, e: number): boolean {
  return e - s === 4 && (v[s]! | 0x20) === 0x68 && (v[s + 1]! | 0x20) === 0x6f && (v[s + 2]! | 0x20) === 0x73 && (v[s + 3]! | 0x20) === 0x74;
}

/**
 * Decodes the request head at `offset`. `bytes` is the header section's
 * length, final empty line included (the body, if any, follows). Line ends
 * are CRLF, or a bare LF (RFC 9112 §2.2 lets a recipient accept it).
 */
export function decodeHttpRequest(view: Uint8Array, offset: number): Decoded<HttpRequest> {
  if (offset < 0 || offset >= view.length) throw new DecodeError('http.incomplete', 'no bytes');
  const k = matchMethod(view, offset);
  if (k === -1) throw new DecodeError('http.malformed', 'not a known method token');
  if (k === -2) throw new DecodeError('http.incomplete', 'method token not complete');
  const method = HTTP_METHODS[k]!;
  const limit = Math.min(view.length, offset + HTTP_MAX_HEADER_BYTES);

  // Request line: METHOD SP target SP HTTP/1.x
  const ts = offset + method.length + 1;
  let te = ts;
  while (te < limit && view[te] !== SP && view[te] !== CR && view[te] !== LF) {
    const c = view[te]!;
    if (c < SP || c >= 0x7f) throw new DecodeError('http.malformed', 'control or non-ASCII byte in the request-target');
    te++;
  }
  if (te >= limit) return incompleteOrTooLong(view, offset);
  if (view[te] !== SP || te === ts) throw new DecodeError('http.malformed', 'request line is not METHOD SP target SP version');
  const vs = te + 1;
  // "HTTP/1.x" then CRLF or LF
  for (let i = 0; i < VERSION.length + 1; i++) {
    if (vs + i >= limit) return incompleteOrTooLong(view, offset);
    const c = view[vs + i]!;
    if (i < VERSION.length ? c !== VERSION[i] : c !== 0x30 && c !== 0x31) throw new DecodeError('http.malformed', 'not HTTP/1.0 or HTTP/1.1');
  }
  let p = vs + VERSION.length + 1;
  if (p < limit && view[p] === CR) p++;
  if (p >= limit) return incompleteOrTooLong(view, offset);
  if (view[p] !== LF) throw new DecodeError('http.malformed', 'request line does not end after the version');
  p++;

  // Header lines until an empty line.
  let hostFrom = -1;
  let hostTo = -1;
  let lines = 0;
  for (;;) {
    let eol = p;
    while (eol < limit && view[eol] !== LF) eol++;
    if (eol >= limit) return incompleteOrTooLong(view, offset);
    const lineEnd = eol > p && view[eol - 1] === CR ? eol - 1 : eol;
    if (lineEnd === p) {
      p = eol + 1;
      break; // end of the header section
    }
    if (++lines > HTTP_MAX_HEADER_LINES) throw new DecodeError('http.malformed', 'too many header lines');
    if (view[p] === SP || view[p] === HT) {
      // obs-fold (RFC 9112 §5.2): a continuation line; not of a Host header we keep
      p = eol + 1;
      continue;
    }
    let colon = p;
    while (colon < lineEnd && view[colon] !== 0x3a) colon++;
    if (colon === lineEnd || colon === p) throw new DecodeError('http.malformed', 'header line without a name and a colon');
    if (hostFrom < 0 && isHostName(view, p, colon)) {
      let s = colon + 1;
      let e = lineEnd;
      while (s < e && (view[s] === SP || view[s] === HT)) s++;
      while (e > s && (view[e - 1] === SP || view[e - 1] === HT)) e--;
      hostFrom = s;
      hostTo = e;
    }
    p = eol + 1;
  }

  const target = latin1(view, ts, te);
  const connect = method === 'CONNECT';
  let host: string | null = null;
  if (connect) {
    host = hostOf(view, ts, te);
  } else {
    // absolute-form: scheme "://" authority [path] — the authority wins over Host (RFC 9112 §3.2.2)
    let i = ts;
    while (i < te && view[i] !== 0x3a && view[i] !== 0x2f) i++;
    if (i + 2 < te && i > ts && view[i] === 0x3a && view[i + 1] === 0x2f && view[i + 2] === 0x2f) {
      const as = i + 3;
      let ae = as;
      while (ae < te && view[ae] !== 0x2f && view[ae] !== 0x3f && view[ae] !== 0x23) ae++;
      host = hostOf(view, as, ae);
    }
    if (host === null && hostFrom >= 0) host = hostOf(view, hostFrom, hostTo);
  }
  return { value: { method, host, connect, target }, bytes: p - offset };
}

function incompleteOrTooLong(view: Uint8Array, offset: number): never {
  if (view.length - offset >= HTTP_MAX_HEADER_BYTES) throw new DecodeError('http.header_too_long', `no end of headers in ${HTTP_MAX_HEADER_BYTES} bytes`);
  throw new DecodeError('http.incomplete', 'header section not complete');
}
