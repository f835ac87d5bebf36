// DNS messages (RFC 1035) → a small typed summary: header, questions, and the
// answer section's A, AAAA, CNAME and HTTPS/SVCB records (NS, PTR, DNAME, MX
// and TXT rendered as text too; other types kept with their type name only).
// Authority and additional sections are not read. Only DecodeError('dns.*')
// leaves this module.
//
// Who decodes what, and why (measured with bench/dns.ts on the dig/dnsmasq
// fixtures, node 20, one core):
// - Names, the header, A, AAAA, CNAME and HTTPS/SVCB are decoded here. dns-packet's
//   `decode` builds an object per record, a `new Array(count)` sized by the
//   header's counts before any bound check, and one string per label plus a
//   join per name. Our name reader copies the labels once into a scratch
//   buffer (lowercasing on the way) and makes one string. Against dns-packet's
//   `decode` of the same bytes: queries 6–8× faster, responses 1.4–6× (one
//   run: A query 5.9 vs 0.7 M/s, CNAME-chain response 0.98 vs 0.16 M/s, HTTPS
//   response 0.51 vs 0.37 M/s). Calling dns-packet's name decoder record by
//   record for responses, as first written, ran a CNAME-chain response at
//   0.21 M/s against 0.50 M/s with ours: at a gateway's 1M packets/s
//   (DNS 5–10 %) that difference is about a tenth of a core. A property test holds our names equal to
//   dns-packet's (ASCII-lowercased) for arbitrary label bytes, compression
//   rules included (pointers only backwards, 255-byte limit).
// - dns-packet supplies the type / rcode / opcode mnemonics, and decodes the
//   RDATA of the other types we render (NS, PTR, DNAME, MX, TXT) under our
//   bounds checks (its result must fill the RDATA exactly). It is also the
//   oracle of the tests.
// - dns-packet 5.6 has no HTTPS/SVCB codec (types 64/65 come back as
//   UNKNOWN_65 with raw bytes): their RDATA is parsed here per RFC 9460.
import dnsPacket from 'dns-packet';
import { createRequire } from 'node:module';
import type { DnsAnswer, Endpoints, Observation } from '../observation.js';
import { DecodeError, type Decoded } from './decode-error.js';
import { formatIPv4 as ipv4Text, formatIPv6 as ipv6Text } from './ip-address.js';

/** Fixed header size (RFC 1035 §4.1.1). */
export const DNS_HEADER_BYTES = 12;
/** Questions per message we accept; real clients send exactly one. */
export const MAX_DNS_QUESTIONS = 4;
/** Answer records considered per message; the rest are counted in `answersSkipped`. */
export const MAX_DNS_ANSWERS = 64;
/** SvcParams rendered per HTTPS/SVCB record. */
export const MAX_SVCB_PARAMS = 32;
/** Longest name on the wire, length bytes included (RFC 1035 §3.1), as dns-packet enforces it. */
export const MAX_DNS_NAME_BYTES = 255;
/** Largest DNS message over TCP (two-byte length prefix, RFC 1035 §4.2.2). */
export const MAX_DNS_TCP_MESSAGE = 65535;

export const DNS_TYPE_A = 1;
export const DNS_TYPE_CNAME = 5;
export const DNS_TYPE_NS = 2;
export const DNS_TYPE_PTR = 12;
export const DNS_TYPE_MX = 15;
export const DNS_TYPE_TXT = 16;
export const DNS_TYPE_AAAA = 28;
export const DNS_TYPE_DNAME = 39;
export const DNS_TYPE_SVCB = 64;
export const DNS_TYPE_HTTPS = 65;

export interface DnsQuestion {
  /** As dns-packet spells it (no trailing dot, '.' for the root), ASCII letters lowercased. */
  name: string;
  /** Type mnemonic ('A', 'AAAA', 'HTTPS', …; 'UNKNOWN_n' for unnamed types). */
  type: string;
}

/** What an HTTPS/SVCB record says (RFC 9460); addresses as text. */
export interface SvcbData {
  priority: number;
  /** TargetName; '.' means the owner name itself (ServiceMode) or the alias root. */
  target: string;
  alpn: string[];
  port: number | null;
  ipv4hint: string[];
  ipv6hint: string[];
  /** An ECH configuration (key 5) is advertised. */
  ech: boolean;
}

/** An answer record: the observation's DnsAnswer plus the parsed SVCB data for types 64/65. */
export interface DnsRecord extends DnsAnswer {
  svcb: SvcbData | null;
}

export interface DnsMessage {
  id: number;
  isResponse: boolean;
  /** 'QUERY', 'NOTIFY', … (dns-packet's names). */
  opcode: string;
  /** 'NOERROR', 'NXDOMAIN', … (dns-packet's names). */
  rcode: string;
  /** TC bit: the answer did not fit (the client will retry over TCP). */
  truncated: boolean;
  questions: DnsQuestion[];
  /** Answer section, responses only (empty for queries). */
  answers: DnsRecord[];
  /** Answer records beyond MAX_DNS_ANSWERS, not decoded. */
  answersSkipped: number;
}

// --- dns-packet internals we call (exported by the package, absent from @types) ---
/** One of dns-packet's RDATA codecs: decode(buf, offset of RDLENGTH), bytes = RDLENGTH field + RDATA read. */
interface DpRdata<T> {
  decode: ((buf: Buffer, offset: number) => T) & { bytes: number };
}
interface DpCodes {
  toString(code: number): string;
}
const dp = dnsPacket as unknown as {
  ptr: DpRdata<string>;
  mx: DpRdata<{ preference: number; exchange: string }>;
  txt: DpRdata<Buffer[]>;
};
const require = createRequire(import.meta.url);
const dpTypes = require('dns-packet/types.js') as DpCodes;
const dpRcodes = require('dns-packet/rcodes.js') as DpCodes;
const dpOpcodes = require('dns-packet/opcodes.js') as DpCodes;

const typeNames: (string | undefined)[] = new Array(65536);
/** dns-packet's mnemonic for a type number, plus SVCB/HTTPS which it lacks. */
export function dnsTypeName(t: number): string {
  let s = typeNames[t];
  if (s === undefined) {
    s = t === DNS_TYPE_SVCB ? 'SVCB' : t === DNS_TYPE_HTTPS ? 'HTTPS' : dpTypes.toString(t);
    typeNames[t] = s;
  }
  return s;
}
const rcodeNames: string[] = Array.from({ length: 16 }, (_, i) => dpRcodes.toString(i));
const opcodeNames: string[] = Array.from({ length: 16 }, (_, i) => dpOpcodes.toString(i));

// --- names ----------------------------------------------------------------------

/** Scratch for one name: labels copied with '.' separators, then one string made. */
const nameScratch = Buffer.alloc(MAX_DNS_NAME_BYTES + 1);
/** Where the name read by readName ended in place (after its terminator or first pointer). */
let nameEnd = 0;

/**
 * Reads the (possibly compressed) name at `off` of the message `m`, with
 * dns-packet's rules: pointers only to earlier data (so decoding ends), at most
 * 254 label bytes + separators, labels decoded as UTF-8 (ASCII fast path).
 * ASCII letters are lowercased (RFC 4343: only those compare case-blind).
 * Sets nameEnd.
 */
function readName(m: Uint8Array, off: number): string {
  let p = off;
  let start = off; // pointers must point before the current run (dns-packet's rule)
  let jumped = false;
  let n = 0; // bytes in nameScratch
  let total = 0;
  let ascii = true;
  for (;;) {
    if (p >= m.length) throw new DecodeError('dns.truncated', 'name runs past the message');
    const len = m[p]!;
    if (len === 0) {
      if (!jumped) nameEnd = p + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0) {
      if (p + 1 + len > m.length) throw new DecodeError('dns.truncated', 'label runs past the message');
      total += len + 1;
      if (total > 254) throw new DecodeError('dns.bad_name', 'name too long');
      if (n > 0) nameScratch[n++] = 0x2e;
      for (let i = p + 1, e = p + 1 + len; i < e; i++) {
        let c = m[i]!;
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        else if (c >= 0x80) ascii = false;
        nameScratch[n++] = c;
      }
      p += 1 + len;
    } else if (kind === 0xc0) {
      if (p + 1 >= m.length) throw new DecodeError('dns.truncated', 'pointer runs past the message');
      const target = ((len & 0x3f) << 8) | m[p + 1]!;
      if (target >= start) throw new DecodeError('dns.bad_name', 'pointer does not point backwards');
      if (!jumped) nameEnd = p + 2;
      jumped = true;
      p = start = target;
    } else {
      throw new DecodeError('dns.bad_name', 'reserved label type');
    }
  }
  if (n === 0) return '.';
  // Per-label UTF-8 decoding (dns-packet) and whole-name decoding agree: '.' is ASCII and ends any partial sequence.
  return nameScratch.toString(ascii ? 'latin1' : 'utf8', 0, n);
}

/** ASCII-only lowercase of a name from dns-packet (RFC 4343). */
function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      let out = s.slice(0, i);
      for (let j = i; j < s.length; j++) {
        const d = s.charCodeAt(j);
        out += d >= 0x41 && d <= 0x5a ? String.fromCharCode(d | 0x20) : s[j];
      }
      return out;
    }
  }
  return s;
}

/** NS, PTR, DNAME, MX and TXT RDATA rendered by dns-packet's codecs, held to the RDATA bounds. */
function dpRdata(buf: Buffer, rdlenAt: number, type: number, rdlen: number): string {
  let text: string;
  let used: number;
  try {
    switch (type) {
      case DNS_TYPE_MX: {
        const d = dp.mx.decode(buf, rdlenAt);
        text = `${d.preference} ${lowerAscii(d.exchange)}`;
        used = dp.mx.decode.bytes;
        break;
      }
      case DNS_TYPE_TXT: {
        const d = dp.txt.decode(buf, rdlenAt);
        text = d.map((t) => `"${quoteValue(t, 0, t.length, false)}"`).join(' ');
        used = dp.txt.decode.bytes;
        break;
      }
      default: // NS, PTR, DNAME: one name
        text = lowerAscii(dp.ptr.decode(buf, rdlenAt));
        used = dp.ptr.decode.bytes;
    }
  } catch (e) {
    throw new DecodeError('dns.bad_rdata', (e as Error).message);
  }
  if (used !== rdlen + 2) throw new DecodeError('dns.bad_rdata', `${dnsTypeName(type)} RDATA length ${rdlen}, read ${used - 2}`);
  return text;
}

// --- HTTPS / SVCB (RFC 9460 §2.2) ----------------------------------------------

const SVC_KEY_NAMES = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint', 'dohpath', 'ohttp'];

function svcKeyName(k: number): string {
  return k < SVC_KEY_NAMES.length ? SVC_KEY_NAMES[k]! : `key${k}`;
}

/** Presentation of a quoted value (RFC 1035 §5.1, RFC 9460): printable ASCII kept, '"' '\\' ',' escaped, other bytes as \DDD. */
function quoteValue(m: Uint8Array, s: number, e: number, escapeComma: boolean): string {
  let out = '';
  for (let i = s; i < e; i++) {
    const c = m[i]!;
    if (c === 0x22 || c === 0x5c || (escapeComma && c === 0x2c)) out += (escapeComma && c === 0x2c ? '\\\\' : '\\') + String.fromCharCode(c);
    else if (c >= 0x20 && c <= 0x7e) out += String.fromCharCode(c);
    else out += '\\' + String(c).padStart(3, '0');
  }
  return out;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function base64(m: Uint8Array, s: number, e: number): string {
  let out = '';
  for (let i = s; i < e; i += 3) {
    const a = m[i]!, b = i + 1 < e ? m[i + 1]! : 0, c = i + 2 < e ? m[i + 2]! : 0;
    out += BASE64[a >> 2]! + BASE64[((a & 3) << 4) | (b >> 4)]!;
    out += i + 1 < e ? BASE64[((b & 15) << 2) | (c >> 6)]! : '=';
    out += i + 2 < e ? BASE64[c & 63]! : '=';
  }
  return out;
}

/**
 * Parses HTTPS/SVCB RDATA m[s..e) and renders it in presentation format, as
 * dig prints it: `1 . alpn="h3,h2" ipv4hint=10.0.0.7`.
 */
function decodeSvcb(m: Uint8Array, s: number, e: number): { svcb: SvcbData; text: string } {
  if (e - s < 3) throw new DecodeError('dns.bad_rdata', 'SVCB RDATA shorter than priority + target');
  const priority = (m[s]! << 8) | m[s + 1]!;
  // TargetName is uncompressed (RFC 9460 §2.2): read it inside the RDATA only.
  const target = readName(m.subarray(0, e), s + 2);
  let p = nameEnd;
  if (p > e) throw new DecodeError('dns.bad_rdata', 'SVCB target runs past RDATA');
  const svcb: SvcbData = { priority, target, alpn: [], port: null, ipv4hint: [], ipv6hint: [], ech: false };
  let text = `${priority} ${target === '.' ? '.' : target + '.'}`;
  let params = 0;
  let lastKey = -1;
  while (p < e) {
    if (p + 4 > e) throw new DecodeError('dns.bad_rdata', 'SvcParam header runs past RDATA');
    const key = (m[p]! << 8) | m[p + 1]!;
    const len = (m[p + 2]! << 8) | m[p + 3]!;
    const vs = p + 4, ve = vs + len;
    if (ve > e) throw new DecodeError('dns.bad_rdata', 'SvcParam value runs past RDATA');
    if (key <= lastKey) throw new DecodeError('dns.bad_rdata', 'SvcParam keys not strictly increasing');
    lastKey = key;
    if (++params > MAX_SVCB_PARAMS) throw new DecodeError('dns.too_many_svc_params');
    const k = svcKeyName(key);
    switch (key) {
      case 0: {
        // mandatory: list of keys
        if (len % 2 !== 0) throw new DecodeError('dns.bad_rdata', 'mandatory length odd');
        const names: string[] = [];
        for (let i = vs; i < ve; i += 2) names.push(svcKeyName((m[i]! << 8) | m[i + 1]!));
        text += ` ${k}=${names.join(',')}`;
        break;
      }
      case 1: {
        // alpn: length-prefixed protocol ids
        const ids: string[] = [];
        const shown: string[] = [];
        for (let i = vs; i < ve; ) {
          const l = m[i]!;
          if (l === 0 || i + 1 + l > ve) throw new DecodeError('dns.bad_rdata', 'alpn id runs past its value');
          let id = '';
          for (let j = i + 1; j < i + 1 + l; j++) id += String.fromCharCode(m[j]!);
          ids.push(id);
          shown.push(quoteValue(m, i + 1, i + 1 + l, true));
          i += 1 + l;
        }
        svcb.alpn = ids;
        text += ` ${k}="${shown.join(',')}"`;
        break;
      }
      case 3:
        if (len !== 2) throw new DecodeError('dns.bad_rdata', 'port length not 2');
        svcb.port = (m[vs]! << 8) | m[vs + 1]!;
        text += ` ${k}=${svcb.port}`;
        break;
      case 4:
      case 6: {
        const step = key === 4 ? 4 : 16;
        if (len === 0 || len % step !== 0) throw new DecodeError('dns.bad_rdata', `${k} length not a multiple of ${step}`);
        const list = key === 4 ? svcb.ipv4hint : svcb.ipv6hint;
        for (let i = vs; i < ve; i += step) list.push(key === 4 ? ipv4Text(m, i) : ipv6Text(m, i));
        text += ` ${k}=${list.join(',')}`;
        break;
      }
      case 5:
        svcb.ech = true;
        text += ` ${k}=${base64(m, vs, ve)}`;
        break;
      case 2:
        text += len === 0 ? ` ${k}` : ` ${k}="${quoteValue(m, vs, ve, false)}"`;
        break;
      default:
        text += len === 0 ? ` ${k}` : ` ${k}="${quoteValue(m, vs, ve, false)}"`;
    }
    p = ve;
  }
  return { svcb, text };
}

// --- the message ------------------------------------------------------------------

/**
 * Decodes the DNS message that starts at `offset` and extends to the end of
 * `view` (a UDP payload, or one length-delimited TCP message: see
 * decodeDnsTcp). `bytes` is that whole length. Compression pointers are
 * relative to `offset`.
 */
export function decodeDns(view: Uint8Array, offset: number): Decoded<DnsMessage> {
  if (offset < 0 || offset + DNS_HEADER_BYTES > view.length) throw new DecodeError('dns.truncated', 'shorter than the header');
  const m = offset === 0 ? view : view.subarray(offset);
  const flags = (m[2]! << 8) | m[3]!;
  const qdcount = (m[4]! << 8) | m[5]!;
  const ancount = (m[6]! << 8) | m[7]!;
  const isResponse = (flags & 0x8000) !== 0;
  if (qdcount > MAX_DNS_QUESTIONS) throw new DecodeError('dns.too_many_questions', `qdcount ${qdcount}`);
  // Each question takes at least 5 bytes (root name + type + class): refuse counts the bytes cannot hold.
  if (DNS_HEADER_BYTES + qdcount * 5 > m.length) throw new DecodeError('dns.truncated', `qdcount ${qdcount} does not fit`);

  const questions: DnsQuestion[] = [];
  let p = DNS_HEADER_BYTES;
  for (let i = 0; i < qdcount; i++) {
    const name = readName(m, p);
    p = nameEnd;
    if (p + 4 > m.length) throw new DecodeError('dns.truncated', 'question runs past the message');
    questions.push({ name, type: dnsTypeName((m[p]! << 8) | m[p + 1]!) });
    p += 4;
  }

  const answers: DnsRecord[] = [];
  let answersSkipped = 0;
  if (isResponse && ancount > 0) {
    const n = ancount > MAX_DNS_ANSWERS ? MAX_DNS_ANSWERS : ancount;
    answersSkipped = ancount - n;
    // Each record takes at least 11 bytes (root name + fixed fields).
    if (p + n * 11 > m.length) throw new DecodeError('dns.truncated', `ancount ${ancount} does not fit`);
    let buf: Buffer | null = null; // made on first use: a view, not a copy (dns-packet reads Buffers)
    for (let i = 0; i < n; i++) {
      const name = readName(m, p);
      p = nameEnd;
      if (p + 10 > m.length) throw new DecodeError('dns.truncated', 'record header runs past the message');
      const type = (m[p]! << 8) | m[p + 1]!;
      const ttl = ((m[p + 4]! << 24) | (m[p + 5]! << 16) | (m[p + 6]! << 8) | m[p + 7]!) >>> 0;
      const rdlen = (m[p + 8]! << 8) | m[p + 9]!;
      const rd = p + 10;
      const rdEnd = rd + rdlen;
      if (rdEnd > m.length) throw new DecodeError('dns.truncated', 'RDATA runs past the message');
      let data = '';
      let svcb: SvcbData | null = null;
      switch (type) {
        case DNS_TYPE_A:
          if (rdlen !== 4) throw new DecodeError('dns.bad_rdata', `A RDATA length ${rdlen}`);
          data = ipv4Text(m, rd);
          break;
        case DNS_TYPE_AAAA:
          if (rdlen !== 16) throw new DecodeError('dns.bad_rdata', `AAAA RDATA length ${rdlen}`);
          data = ipv6Text(m, rd); // RFC 5952, the spelling of Endpoints (dns-packet's differs for ::ffff:a.b.c.d)
          break;
        case DNS_TYPE_CNAME:
          data = readName(m, rd);
          if (nameEnd !== rdEnd) throw new DecodeError('dns.bad_rdata', 'CNAME target does not fill its RDATA');
          break;
        case DNS_TYPE_SVCB:
        case DNS_TYPE_HTTPS: {
          const r = decodeSvcb(m, rd, rdEnd);
          svcb = r.svcb;
          data = r.text;
          break;
        }
        case DNS_TYPE_NS:
        case DNS_TYPE_PTR:
        case DNS_TYPE_DNAME:
        case DNS_TYPE_MX:
        case DNS_TYPE_TXT:
          buf ??= Buffer.from(m.buffer, m.byteOffset, m.byteLength);
          data = dpRdata(buf, p + 8, type, rdlen);
          break;
        default:
          break; // other types: kept with their name, data not rendered
      }
      answers.push({ name, type: dnsTypeName(type), ttl, data, svcb });
      p = rdEnd;
    }
  }

  return {
    value: {
      id: (m[0]! << 8) | m[1]!,
      isResponse,
      opcode: opcodeNames[(flags >> 11) & 0xf]!,
      rcode: rcodeNames[flags & 0xf]!,
      truncated: (flags & 0x0200) !== 0,
      questions,
      answers,
      answersSkipped,
    },
    bytes: m.length,
  };
}

/**
 * One DNS-over-TCP message (RFC 1035 §4.2.2): two-byte length, then the
 * message. Throws DecodeError('dns.incomplete') while the view does not hold
 * it all yet — the flow table calls again when more bytes have arrived.
 * `bytes` = 2 + message length.
 */
export function decodeDnsTcp(view: Uint8Array, offset: number): Decoded<DnsMessage> {
  if (offset < 0 || offset + 2 > view.length) throw new DecodeError('dns.incomplete', 'length prefix not complete');
  const len = (view[offset]! << 8) | view[offset + 1]!;
  if (len < DNS_HEADER_BYTES) throw new DecodeError('dns.malformed', `TCP length ${len} shorter than a header`);
  if (offset + 2 + len > view.length) throw new DecodeError('dns.incomplete', `${len} bytes announced`);
  const r = decodeDns(view.subarray(offset + 2, offset + 2 + len), 0);
  return { value: r.value, bytes: 2 + len };
}

// --- observations ---------------------------------------------------------------

/**
 * One 'dns-query' for a query, one 'dns-answer' for a response (its answers
 * included), named by the first question. Messages without a question (rare:
 * NOTIFY, cookies-only) yield nothing.
 */
export function dnsObservations(msg: DnsMessage, at: Endpoints): Observation[] {
  const q = msg.questions[0];
  if (q === undefined) return [];
  if (!msg.isResponse) return [{ action: 'dns-query', at, name: q.name, qtype: q.type }];
  const answers: DnsAnswer[] = new Array(msg.answers.length);
  for (let i = 0; i < msg.answers.length; i++) {
    const a = msg.answers[i]!;
    answers[i] = { name: a.name, type: a.type, ttl: a.ttl, data: a.data };
  }
  return [{ action: 'dns-answer', at, name: q.name, qtype: q.type, rcode: msg.rcode, answers }];
}
