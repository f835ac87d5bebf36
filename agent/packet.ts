// Packets as they flow through the agent, from the capture to the transport
// layer. Byte views point into capture buffers: valid only during the callback
// that receives them; copy what must outlive it.

/** One packet as the capture (file or live) hands it over. */
export interface CapturedPacket {
  /** Seconds since the Unix epoch. */
  tsSec: number;
  /** Nanoseconds within the second (0..999,999,999), whatever the source resolution. */
  tsNsec: number;
  /** LINKTYPE_* value (tcpdump.org/linktypes.html). */
  linkType: number;
  /** Captured bytes (caplen). */
  data: Uint8Array;
  /** Length on the wire. */
  origLen: number;
  /** pcapng interface index (0 for classic pcap and live capture). */
  interfaceId: number;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** A UDP datagram or TCP segment, IP fragments already reassembled. */
export interface L4Packet {
  tsSec: number;
  tsNsec: number;
  ipVersion: 4 | 6;
  /** 4 or 16 bytes. */
  src: Uint8Array;
  dst: Uint8Array;
  transport: 'udp' | 'tcp';
  srcPort: number;
  dstPort: number;
  /** TCP only (0 for UDP): sequence and acknowledgement numbers, flag bits (TCP_*). */
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
  /** The buffer holding the transport header and payload (the capture buffer, or the
   *  reassembled datagram), its bounds, and whether the segment was captured whole:
   *  what a checksum check needs (decode/checksum.ts), without another allocation. */
  raw?: Uint8Array;
  l4Start?: number;
  l4End?: number;
  l4Complete?: boolean;
}
