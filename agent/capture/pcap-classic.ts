// Classic libpcap files (tcpdump.org/manpages/pcap-savefile.5.txt): µs or ns
// magic, either byte order. Record by record from a ChunkSource; never throws on
// record contents: a bad length stops the file with a count, a short last record is
// counted as truncated.

import type { CapturedPacket } from '../packet.js';
import type { Counters } from '../stats.js';
import type { ChunkSource } from './chunk-source.js';
import { MAX_RECORD_BYTES } from './chunk-source.js';
import { UmbraError } from '../../common/errors.js';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
/** LinkType field: low bits are the LINKTYPE, the top bits FCS information (libpcap's LT_LINKTYPE). */
export const LINKTYPE_MASK = 0x03ffffff;

/** Result of advance(): a packet is in `packet`; the file ended; more bytes are needed. */
export const ADV_PACKET = 1;
export const ADV_END = 0;
export const ADV_NEED = -1;

export interface FormatParser {
  readonly format: 'pcap' | 'pcapng';
  readonly packet: CapturedPacket;
  /** Bytes the parser needs buffered from src.start to go on (after ADV_NEED). */
  need: number;
  advance(): number;
  linkTypes(): number[];
}

/** Is this 4-byte value (read little-endian) a classic pcap magic in some byte order? */
export function classicMagic(le32: number): { le: boolean; ns: boolean } | null {
  switch (le32) {
    case PCAP_MAGIC_US: return { le: true, ns: false };
    case PCAP_MAGIC_NS: return { le: true, ns: true };
    case 0xd4c3b2a1: return { le: false, ns: false };
    case 0x4d3cb2a1: return { le: false, ns: true };
    default: return null;
  }
}

export class ClassicParser implements FormatParser {
  readonly format = 'pcap' as const;
  readonly packet: CapturedPacket;
  need = PCAP_RECORD_HEADER_BYTES;
  readonly le: boolean;
  readonly ns: boolean;
  readonly linkType: number;
  readonly snaplen: number;

  /** src must hold the whole 24-byte file header at src.start; consumes it. */
  constructor(private readonly src: ChunkSource, private readonly counters: Counters) {
    const v = src.view;
    const s = src.start;
    const m = classicMagic(v.getUint32(s, true));
    if (!m) throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', src.path, 'not a classic pcap magic');
    this.le = m.le;
    this.ns = m.ns;
    const major = v.getUint16(s + 4, this.le);
    const minor = v.getUint16(s + 6, this.le);
    if (major !== 2) throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', src.path, `unsupported pcap version ${major}.${minor}`);
    this.snaplen = v.getUint32(s + 16, this.le);
    this.linkType = v.getUint32(s + 20, this.le) & LINKTYPE_MASK;
    src.start += PCAP_FILE_HEADER_BYTES;
    this.packet = { tsSec: 0, tsNsec: 0, linkType: this.linkType, data: src.buf.subarray(0, 0), origLen: 0, interfaceId: 0 };
  }

  linkTypes(): number[] {
    return [this.linkType];
  }

  advance(): number {
    const src = this.src;
    const avail = src.end - src.start;
    if (avail < PCAP_RECORD_HEADER_BYTES) {
      if (src.eof) {
        if (avail > 0) this.counters.inc('capture.truncated_record');
        return ADV_END;
      }
      this.need = PCAP_RECORD_HEADER_BYTES;
      return ADV_NEED;
    }
    const v = src.view;
    const s = src.start;
    const le = this.le;
    const caplen = v.getUint32(s + 8, le);
    if (caplen > MAX_RECORD_BYTES) {
      this.counters.inc('capture.bad_record_length');
      return ADV_END;
    }
    const total = PCAP_RECORD_HEADER_BYTES + caplen;
    if (avail < total) {
      if (src.eof) {
        this.counters.inc('capture.truncated_record');
        return ADV_END;
      }
      this.need = total;
      return ADV_NEED;
    }
    const p = this.packet;
    p.tsSec = v.getUint32(s, le);
    const frac = v.getUint32(s + 4, le);
    p.tsNsec = this.ns ? frac : frac * 1000;
    p.origLen = v.getUint32(s + 12, le);
    p.data = new Uint8Array(src.buf.buffer, s + PCAP_RECORD_HEADER_BYTES, caplen); // buf owns its ArrayBuffer from 0
    src.start = s + total;
    return ADV_PACKET;
  }
}
