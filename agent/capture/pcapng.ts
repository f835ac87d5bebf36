// pcapng (IETF draft-ietf-opsawg-pcapng): sections in either byte order, several
// interfaces with their own link type, if_tsresol (10^-k or 2^-k) and if_tsoffset;
// EPB, SPB (caplen from the IDB snaplen) and the obsolete OPB carry packets, every
// other block is skipped. Interface ids are the IDB index within the packet's
// section (as in the format and tshark's frame.interface_id).

import type { CapturedPacket } from '../packet.js';
import type { Counters } from '../stats.js';
import type { ChunkSource } from './chunk-source.js';
import { MAX_RECORD_BYTES } from './chunk-source.js';
import { ADV_END, ADV_NEED, ADV_PACKET, type FormatParser } from './pcap-classic.js';
import { RES_MICRO, splitTimestamp, tsResolution, type TsResolution } from './timestamp.js';
import { UmbraError } from '../../common/errors.js';

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const PCAPNG_IDB = 1;
export const PCAPNG_OPB = 2;
export const PCAPNG_SPB = 3;
export const PCAPNG_EPB = 6;
/** Smallest SHB: 12 bytes of framing, 16 of body. */
export const PCAPNG_MIN_SHB_BYTES = 28;
/** Interfaces per section we keep state for. */
export const MAX_PCAPNG_INTERFACES = 4096;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

interface Iface {
  linkType: number;
  snaplen: number;
  res: TsResolution;
  tsOffset: number;
  /** Index within the section. */
  globalId: number;
}

export class PcapngParser implements FormatParser {
  readonly format = 'pcapng' as const;
  readonly packet: CapturedPacket;
  need = 12;
  private le = true;
  private ifaces: Iface[] = [];
  private readonly allLinkTypes: number[] = [];

  /** src holds at least the first SHB at src.start; it is validated here. */
  constructor(private readonly src: ChunkSource, private readonly counters: Counters) {
    const v = src.view;
    const s = src.start;
    const bom = v.getUint32(s + 8, true);
    if (bom !== PCAPNG_BYTE_ORDER_MAGIC && bom !== 0x4d3c2b1a) {
      throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', src.path, `pcapng section header with bad byte-order magic 0x${bom.toString(16)}`);
    }
    const le = bom === PCAPNG_BYTE_ORDER_MAGIC;
    const major = v.getUint16(s + 12, le);
    if (major !== 1) throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', src.path, `unsupported pcapng version ${major}`);
    const blen = v.getUint32(s + 4, le);
    if (blen < PCAPNG_MIN_SHB_BYTES || blen % 4 !== 0 || blen > MAX_RECORD_BYTES) {
      throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', src.path, `pcapng section header with bad length ${blen}`);
    }
    this.packet = { tsSec: 0, tsNsec: 0, linkType: 0, data: src.buf.subarray(0, 0), origLen: 0, interfaceId: 0 };
  }

  linkTypes(): number[] {
    return this.allLinkTypes.slice();
  }

  advance(): number {
    const src = this.src;
    for (;;) {
      const avail = src.end - src.start;
      if (avail < 12) {
        if (src.eof) {
          if (avail > 0) this.counters.inc('capture.truncated_record');
          return ADV_END;
        }
        this.need = 12;
        return ADV_NEED;
      }
      const v = src.view;
      const s = src.start;
      const rawType = v.getUint32(s, true);
      let le = this.le;
      if (rawType === PCAPNG_SHB) {
        const bom = v.getUint32(s + 8, true);
        if (bom === PCAPNG_BYTE_ORDER_MAGIC) le = true;
        else if (bom === 0x4d3c2b1a) le = false;
        else {
          this.counters.inc('capture.bad_block');
          return ADV_END;
        }
      }
      const type = le ? rawType : v.getUint32(s, false);
      const blen = v.getUint32(s + 4, le);
      if (blen < 12 || blen % 4 !== 0 || blen > MAX_RECORD_BYTES) {
        this.counters.inc('capture.bad_record_length');
        return ADV_END;
      }
      if (avail < blen) {
        if (src.eof) {
          this.counters.inc('capture.truncated_record');
          return ADV_END;
        }
        this.need = blen;
        return ADV_NEED;
      }
      src.start = s + blen;
      const body = s + 8;
      const bodyEnd = s + blen - 4;
      switch (type) {
        case PCAPNG_EPB:
        case PCAPNG_OPB: {
          if (bodyEnd - body < 20) {
            this.counters.inc('capture.bad_record');
            continue;
          }
          const opb = type === PCAPNG_OPB;
          const ifid = opb ? v.getUint16(body, le) : v.getUint32(body, le);
          const caplen = v.getUint32(body + 12, le);
          if (caplen > bodyEnd - body - 20) {
            this.counters.inc('capture.bad_record');
            continue;
          }
          const iface = this.ifaces[ifid];
          if (iface === undefined) {
            this.counters.inc('capture.unknown_interface');
            continue;
          }
          const p = this.packet;
          if (iface.res === RES_MICRO) {
            const hi = v.getUint32(body + 4, le);
            const lo = v.getUint32(body + 8, le);
            const t = hi * 4294967296 + lo; // exact below 2^53 µs (year 2255)
            const sec = Math.floor(t / 1e6);
            p.tsSec = sec + iface.tsOffset;
            p.tsNsec = (t - sec * 1e6) * 1000;
          } else {
            splitTimestamp(v.getUint32(body + 4, le), v.getUint32(body + 8, le), iface.res, p);
            p.tsSec += iface.tsOffset;
          }
          p.linkType = iface.linkType;
          p.interfaceId = iface.globalId;
          p.origLen = v.getUint32(body + 16, le);
          p.data = new Uint8Array(src.buf.buffer, body + 20, caplen);
          return ADV_PACKET;
        }
        case PCAPNG_SPB: {
          if (bodyEnd - body < 4) {
            this.counters.inc('capture.bad_record');
            continue;
          }
          const iface = this.ifaces[0];
          if (iface === undefined) {
            this.counters.inc('capture.unknown_interface');
            continue;
          }
          const origLen = v.getUint32(body, le);
          let caplen = Math.min(origLen, bodyEnd - body - 4);
          if (iface.snaplen !== 0 && caplen > iface.snaplen) caplen = iface.snaplen;
          const p = this.packet;
          p.tsSec = 0; // an SPB has no timestamp
          p.tsNsec = 0;
          p.linkType = iface.linkType;
          p.interfaceId = iface.globalId;
          p.origLen = origLen;
          p.data = new Uint8Array(src.buf.buffer, body + 4, caplen);
          return ADV_PACKET;
        }
        case PCAPNG_IDB:
          this.interfaceBlock(v, body, bodyEnd, le);
          break;
        case PCAPNG_SHB: {
          const major = bodyEnd - body >= 8 ? v.getUint16(body + 4, le) : 0;
          if (major !== 1) {
            this.counters.inc('capture.bad_block');
            return ADV_END;
          }
          this.le = le;
          this.ifaces = [];
          break;
        }
        default:
          break; // NRB, ISB, DSB, custom and unknown blocks
      }
    }
  }

  private interfaceBlock(v: DataView, body: number, bodyEnd: number, le: boolean): void {
    if (bodyEnd - body < 8) {
      this.counters.inc('capture.bad_block');
      return;
    }
    if (this.ifaces.length >= MAX_PCAPNG_INTERFACES) {
      this.counters.inc('capture.too_many_interfaces');
      return;
    }
    const linkType = v.getUint16(body, le);
    const snaplen = v.getUint32(body + 4, le);
    let res = RES_MICRO;
    let tsOffset = 0;
    let o = body + 8;
    while (o + 4 <= bodyEnd) {
      const code = v.getUint16(o, le);
      const len = v.getUint16(o + 2, le);
      if (code === 0) break;
      if (o + 4 + len > bodyEnd) {
        this.counters.inc('capture.bad_option');
        break;
      }
      if (code === OPT_IF_TSRESOL && len >= 1) {
        const b = v.getUint8(o + 4);
        if (b !== 6) res = tsResolution(b);
      } else if (code === OPT_IF_TSOFFSET && len === 8) {
        tsOffset = Number(v.getBigInt64(o + 4, le));
      }
      o += 4 + ((len + 3) & ~3);
    }
    this.ifaces.push({ linkType, snaplen, res, tsOffset, globalId: this.ifaces.length });
    this.allLinkTypes.push(linkType);
  }
}
