// IPv6 header (RFC 8200) and its extension-header chain: hop-by-hop, routing,
// destination options, fragment, AH (RFC 4302 length rule), at most
// MAX_IPV6_EXT_HEADERS of them. The walk stops at the upper-layer protocol or at a
// fragment header (the rest belongs to the fragmentable part: walk it again with
// walkExtensionHeaders once the datagram is reassembled).

import { DecodeError, need, type Decoded } from './decode-error.js';

export const IPV6_HEADER = 40;
export const MAX_IPV6_EXT_HEADERS = 8;
export const IPV6_HOP_BY_HOP = 0;
export const IPV6_ROUTING = 43;
export const IPV6_FRAGMENT = 44;
export const IPV6_ESP = 50;
export const IPV6_AH = 51;
export const IPV6_NO_NEXT = 59;
export const IPV6_DEST_OPTS = 60;

export interface IPv6Header {
  payloadLength: number;
  hopLimit: number;
  /** The upper-layer protocol, or IPV6_FRAGMENT's next header for a fragment. */
  protocol: number;
  /** Offset of the upper-layer header (or of the fragment data). */
  payloadOffset: number;
  srcOffset: number;
  dstOffset: number;
  end: number;
  truncated: boolean;
  extHeaders: number;
  fragment: boolean;
  fragmentOffset: number;
  moreFragments: boolean;
  fragmentId: number;
}

export function newIPv6Header(): IPv6Header {
  return { payloadLength: 0, hopLimit: 0, protocol: 0, payloadOffset: 0, srcOffset: 0, dstOffset: 0, end: 0, truncated: false, extHeaders: 0, fragment: false, fragmentOffset: 0, moreFragments: false, fragmentId: 0 };
}

function isExt(nh: number): boolean {
  return nh === IPV6_HOP_BY_HOP || nh === IPV6_ROUTING || nh === IPV6_DEST_OPTS || nh === IPV6_AH || nh === IPV6_FRAGMENT;
}

/**
 * Walks extension headers from off (first header type nh) up to end; writes the
 * protocol and payloadOffset (and the fragment fields if it meets a fragment
 * header) into out. `count` headers were already walked.
 */
export function walkExtensionHeaders(view: Uint8Array, off: number, end: number, nh: number, out: IPv6Header, count = 0): void {
  out.fragment = false;
  while (isExt(nh)) {
    if (++count > MAX_IPV6_EXT_HEADERS) throw new DecodeError('ipv6.too_many_ext_headers');
    if (off + 8 > end) throw new DecodeError('ipv6.truncated_ext_header');
    const next = view[off];
    if (nh === IPV6_FRAGMENT) {
      const f = (view[off + 2] << 8) | view[off + 3];
      out.fragment = true;
      out.fragmentOffset = f & 0xfff8;
      out.moreFragments = (f & 1) !== 0;
      out.fragmentId = ((view[off + 4] << 24) | (view[off + 5] << 16) | (view[off + 6] << 8) | view[off + 7]) >>> 0;
      off += 8;
      nh = next;
      // an atomic fragment (offset 0, no more: RFC 6946) is the whole datagram
      if (out.fragmentOffset === 0 && !out.moreFragments) {
        out.fragment = false;
        continue;
      }
      break;
    }
    const len = nh === IPV6_AH ? (view[off + 1] + 2) * 4 : (view[off + 1] + 1) * 8;
    if (off + len > end) throw new DecodeError('ipv6.truncated_ext_header');
    off += len;
    nh = next;
  }
  out.extHeaders = count;
  out.protocol = nh;
  out.payloadOffset = off;
}

/** Fills out from the header at off; throws DecodeError(`ipv6.*`). */
export function parseIPv6(view: Uint8Array, off: number, out: IPv6Header): void {
  need(view, off, IPV6_HEADER, 'ipv6.truncated');
  if (view[off] >> 4 !== 6) throw new DecodeError('ipv6.bad_version');
  const plen = (view[off + 4] << 8) | view[off + 5];
  // 0 with a hop-by-hop header: a jumbogram (RFC 2675) or TSO; take the frame's rest
  let end = plen === 0 ? view.length : off + IPV6_HEADER + plen;
  out.truncated = end > view.length;
  if (out.truncated) end = view.length;
  out.payloadLength = plen;
  out.hopLimit = view[off + 7];
  out.srcOffset = off + 8;
  out.dstOffset = off + 24;
  out.end = end;
  walkExtensionHeaders(view, off + IPV6_HEADER, end, view[off + 6], out);
}

export function decode(view: Uint8Array, offset: number): Decoded<IPv6Header> {
  const h = newIPv6Header();
  parseIPv6(view, offset, h);
  return { value: h, bytes: h.payloadOffset - offset };
}
