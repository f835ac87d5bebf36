// TCP header (RFC 9293): ports, sequence and acknowledgement numbers, flags; the
// options are skipped by the data offset.

import { DecodeError, type Decoded } from './decode-error.js';

export const TCP_MIN_HEADER = 20;

export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Low 8 flag bits (TCP_FIN ... TCP_ACK, URG 0x20, ECE 0x40, CWR 0x80). */
  flags: number;
  headerLength: number;
  window: number;
  payloadStart: number;
  payloadEnd: number;
}

export function newTcpHeader(): TcpHeader {
  return { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, headerLength: 0, window: 0, payloadStart: 0, payloadEnd: 0 };
}

/** Header at off, segment bytes up to end (the IP payload end). Throws DecodeError(`tcp.*`). */
export function parseTcp(view: Uint8Array, off: number, end: number, out: TcpHeader): void {
  if (end > view.length) end = view.length;
  if (off + TCP_MIN_HEADER > end) throw new DecodeError('tcp.truncated');
  const hl = (view[off + 12] >> 4) * 4;
  if (hl < TCP_MIN_HEADER) throw new DecodeError('tcp.bad_data_offset');
  if (off + hl > end) throw new DecodeError('tcp.truncated');
  out.srcPort = (view[off] << 8) | view[off + 1];
  out.dstPort = (view[off + 2] << 8) | view[off + 3];
  out.seq = ((view[off + 4] << 24) | (view[off + 5] << 16) | (view[off + 6] << 8) | view[off + 7]) >>> 0;
  out.ack = ((view[off + 8] << 24) | (view[off + 9] << 16) | (view[off + 10] << 8) | view[off + 11]) >>> 0;
  out.flags = view[off + 13];
  out.window = (view[off + 14] << 8) | view[off + 15];
  out.headerLength = hl;
  out.payloadStart = off + hl;
  out.payloadEnd = end;
}

export function decode(view: Uint8Array, offset: number): Decoded<TcpHeader> {
  const h = newTcpHeader();
  parseTcp(view, offset, view.length, h);
  return { value: h, bytes: h.headerLength };
}
