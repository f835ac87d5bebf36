// TCP and UDP checksums (RFC 793, RFC 768, RFC 8200 8.1), checked only where a
// packet would change what we believe about a flow (SYN/FIN/RST and the first
// payload of a flow, DNS answers that fill the answer cache), never on bulk.
// A capture taken on the sending host carries checksums the NIC has not filled
// in yet (CHECKSUM_PARTIAL: the field holds the pseudo-header sum); those are
// recognised as `offloaded` and accepted, as Wireshark's "unverified" would be.
import type { L4Packet } from '../packet.js';

export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;

export type ChecksumVerdict = 'ok' | 'bad' | 'offloaded' | 'unverifiable';

function sum16(b: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (i < end) acc += b[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** Verdict on the checksum of `pkt`'s whole segment (header + payload as captured). */
export function checkL4(pkt: L4Packet): ChecksumVerdict {
  const raw = pkt.raw;
  const start = pkt.l4Start;
  const end = pkt.l4End;
  if (!pkt.l4Complete || raw === undefined || start === undefined || end === undefined) return 'unverifiable';
  const proto = pkt.transport === 'tcp' ? IP_PROTO_TCP : IP_PROTO_UDP;
  const fieldOff = start + (proto === IP_PROTO_TCP ? 16 : 6);
  if (fieldOff + 2 > end) return 'unverifiable';
  const field = (raw[fieldOff]! << 8) | raw[fieldOff + 1]!;
  if (proto === IP_PROTO_UDP && field === 0 && pkt.ipVersion === 4) return 'ok'; // no checksum (RFC 768)
  const len = end - start;
  let pseudo = sum16(pkt.src, 0, pkt.src.length, 0);
  pseudo = sum16(pkt.dst, 0, pkt.dst.length, pseudo);
  pseudo += proto + (len & 0xffff) + Math.floor(len / 0x10000);
  const total = fold(sum16(raw, start, end, pseudo));
  if (total === 0xffff) return 'ok';
  const p = fold(pseudo);
  if (field === p || field === (~p & 0xffff)) return 'offloaded';
  return 'bad';
}
