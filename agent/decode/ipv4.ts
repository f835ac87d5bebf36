// IPv4 header (RFC 791): options skipped, header checksum not checked (captures
// from the sending host carry offloaded, unfilled checksums), fragment fields
// reported for the reassembly table. A total length beyond the captured bytes is
// clamped (snaplen); 0 (TCP segmentation offload on the capturing host) means
// "the rest of the frame".

import { DecodeError, need, type Decoded } from './decode-error.js';

export const IPV4_MIN_HEADER = 20;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;

export interface IPv4Header {
  headerLength: number;
  /** From the header (0 kept as 0: TSO). */
  totalLength: number;
  id: number;
  moreFragments: boolean;
  /** Fragment offset in bytes. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  /** Offsets in the view of the 4-byte addresses. */
  srcOffset: number;
  dstOffset: number;
  /** Offset just past the datagram's captured bytes. */
  end: number;
  /** Fewer bytes captured than the total length says. */
  truncated: boolean;
}

export function newIPv4Header(): IPv4Header {
  return { headerLength: 0, totalLength: 0, id: 0, moreFragments: false, fragmentOffset: 0, ttl: 0, protocol: 0, srcOffset: 0, dstOffset: 0, end: 0, truncated: false };
}

/** Fills out from the header at off; throws DecodeError(`ipv4.*`). */
export function parseIPv4(view: Uint8Array, off: number, out: IPv4Header): void {
  need(view, off, IPV4_MIN_HEADER, 'ipv4.truncated');
  const b0 = view[off];
  if (b0 >> 4 !== 4) throw new DecodeError('ipv4.bad_version');
  const hl = (b0 & 0x0f) * 4;
  if (hl < IPV4_MIN_HEADER) throw new DecodeError('ipv4.bad_header_length');
  need(view, off, hl, 'ipv4.truncated');
  const total = (view[off + 2] << 8) | view[off + 3];
  let end: number;
  if (total === 0) end = view.length;
  else {
    if (total < hl) throw new DecodeError('ipv4.bad_total_length');
    end = off + total;
  }
  out.truncated = end > view.length;
  if (out.truncated) end = view.length;
  const frag = (view[off + 6] << 8) | view[off + 7];
  out.headerLength = hl;
  out.totalLength = total;
  out.id = (view[off + 4] << 8) | view[off + 5];
  out.moreFragments = (frag & 0x2000) !== 0;
  out.fragmentOffset = (frag & 0x1fff) * 8;
  out.ttl = view[off + 8];
  out.protocol = view[off + 9];
  out.srcOffset = off + 12;
  out.dstOffset = off + 16;
  out.end = end;
}

export function decode(view: Uint8Array, offset: number): Decoded<IPv4Header> {
  const h = newIPv4Header();
  parseIPv4(view, offset, h);
  return { value: h, bytes: h.headerLength };
}
