// Link layers to the network protocol: Ethernet (with up to MAX_VLAN_TAGS 802.1Q /
// 802.1ad tags), Linux cooked SLL and SLL2, raw IP, BSD null/loopback. Returns the
// EtherType of what follows and where it starts; the link type numbers are
// tcpdump.org/linktypes.html LINKTYPE_* values.

import { DecodeError, need, type Decoded } from './decode-error.js';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW as some systems write it into files (12 most, 14 on OpenBSD). */
export const DLT_RAW_12 = 12;
export const DLT_RAW_14 = 14;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
/** Pre-standard QinQ outer tag still seen on some switches. */
export const ETHERTYPE_QINQ_OLD = 0x9100;
/** VLAN tags followed before giving up (`link.too_many_vlan_tags`). */
export const MAX_VLAN_TAGS = 4;

/** BSD address families in null/loopback headers. */
export const BSD_AF_INET = 2;
export const BSD_AF_INET6_BSD = 24; // NetBSD, OpenBSD, BSD/OS
export const BSD_AF_INET6_FREEBSD = 28;
export const BSD_AF_INET6_DARWIN = 30;

const ETH_HEADER = 14;
const SLL_HEADER = 16;
const SLL2_HEADER = 20;
const NULL_HEADER = 4;

export interface LinkInfo {
  /** EtherType of the payload (ETHERTYPE_IPV4/IPV6, or anything else: not IP). */
  etherType: number;
  /** Offset of the network header. */
  offset: number;
  vlanTags: number;
}

export function isKnownLinkType(linkType: number): boolean {
  switch (linkType) {
    case LINKTYPE_ETHERNET: case LINKTYPE_LINUX_SLL: case LINKTYPE_LINUX_SLL2:
    case LINKTYPE_RAW: case DLT_RAW_12: case DLT_RAW_14: case LINKTYPE_IPV4: case LINKTYPE_IPV6:
    case LINKTYPE_NULL: case LINKTYPE_LOOP:
      return true;
    default:
      return false;
  }
}

function vlanChain(view: Uint8Array, off: number, etherType: number, out: LinkInfo): void {
  let tags = 0;
  while (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_OLD) {
    if (++tags > MAX_VLAN_TAGS) throw new DecodeError('link.too_many_vlan_tags');
    need(view, off, 4, 'link.truncated');
    etherType = (view[off + 2] << 8) | view[off + 3];
    off += 4;
  }
  out.etherType = etherType;
  out.offset = off;
  out.vlanTags = tags;
}

function afToEtherType(af: number): number {
  if (af === BSD_AF_INET) return ETHERTYPE_IPV4;
  if (af === BSD_AF_INET6_BSD || af === BSD_AF_INET6_FREEBSD || af === BSD_AF_INET6_DARWIN) return ETHERTYPE_IPV6;
  return 0;
}

/**
 * Fills out for a frame of linkType starting at offset; false if the link type is
 * not one we decode. Throws DecodeError(`link.*`) on a frame too short for its header.
 */
export function parseLink(linkType: number, view: Uint8Array, offset: number, out: LinkInfo): boolean {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      need(view, offset, ETH_HEADER, 'link.truncated');
      vlanChain(view, offset + ETH_HEADER, (view[offset + 12] << 8) | view[offset + 13], out);
      return true;
    case LINKTYPE_LINUX_SLL:
      need(view, offset, SLL_HEADER, 'link.truncated');
      vlanChain(view, offset + SLL_HEADER, (view[offset + 14] << 8) | view[offset + 15], out);
      return true;
    case LINKTYPE_LINUX_SLL2:
      need(view, offset, SLL2_HEADER, 'link.truncated');
      vlanChain(view, offset + SLL2_HEADER, (view[offset] << 8) | view[offset + 1], out);
      return true;
    case LINKTYPE_RAW: case DLT_RAW_12: case DLT_RAW_14: case LINKTYPE_IPV4: case LINKTYPE_IPV6: {
      need(view, offset, 1, 'link.truncated');
      const v = view[offset] >> 4;
      out.etherType = v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : 0;
      out.offset = offset;
      out.vlanTags = 0;
      return true;
    }
    case LINKTYPE_NULL: case LINKTYPE_LOOP: {
      need(view, offset, NULL_HEADER, 'link.truncated');
      // the writer's byte order (NULL) or network order (LOOP): a family is < 256,
      // so whichever end holds it tells the order
      const le = view[offset] | (view[offset + 1] << 8);
      const af = le !== 0 ? le : (view[offset + 2] << 8) | view[offset + 3];
      out.etherType = afToEtherType(af);
      out.offset = offset + NULL_HEADER;
      out.vlanTags = 0;
      return true;
    }
    default:
      return false;
  }
}

/** decode(view, offset) shape for one link type; throws `link.unknown_type` for others. */
export function decodeLink(linkType: number, view: Uint8Array, offset: number): Decoded<LinkInfo> {
  const out: LinkInfo = { etherType: 0, offset: 0, vlanTags: 0 };
  if (!parseLink(linkType, view, offset, out)) throw new DecodeError('link.unknown_type', String(linkType));
  return { value: out, bytes: out.offset - offset };
}
