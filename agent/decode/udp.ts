// UDP header (RFC 768). The payload ends at the UDP length (link padding dropped),
// clamped to the captured bytes; length 0 (IPv6 jumbogram) means "to the end".

import { DecodeError, need, type Decoded } from './decode-error.js';

export const UDP_HEADER = 8;

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  length: number;
  payloadStart: number;
  payloadEnd: number;
  truncated: boolean;
}

export function newUdpHeader(): UdpHeader {
  return { srcPort: 0, dstPort: 0, length: 0, payloadStart: 0, payloadEnd: 0, truncated: false };
}

/** Header at off, datagram bytes up to end (the IP payload end). Throws DecodeError(`udp.*`). */
export function parseUdp(view: Uint8Array, off: number, end: number, out: UdpHeader): void {
  if (end > view.length) end = view.length;
  if (off + UDP_HEADER > end) throw new DecodeError('udp.truncated');
  const len = (view[off + 4] << 8) | view[off + 5];
  let pend: number;
  if (len === 0) pend = end;
  else {
    if (len < UDP_HEADER) throw new DecodeError('udp.bad_length');
    pend = off + len;
  }
  out.truncated = pend > end;
  if (out.truncated) pend = end;
  out.srcPort = (view[off] << 8) | view[off + 1];
  out.dstPort = (view[off + 2] << 8) | view[off + 3];
  out.length = len;
  out.payloadStart = off + UDP_HEADER;
  out.payloadEnd = pend;
}

export function decode(view: Uint8Array, offset: number): Decoded<UdpHeader> {
  const h = newUdpHeader();
  parseUdp(view, offset, view.length, h);
  return { value: h, bytes: UDP_HEADER };
}
