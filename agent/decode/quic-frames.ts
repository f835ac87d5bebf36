// Frames of a decrypted QUIC Initial packet (RFC 9000 12.4, 19). Only the frame
// types allowed in Initial packets are accepted: PADDING, PING, ACK, CRYPTO and
// CONNECTION_CLOSE (transport variant 0x1c); anything else is a DecodeError.
// CRYPTO data is a view into the payload, not a copy.

import { DecodeError, type Decoded } from './decode-error.js';
import { readVarint, varintLength } from './quic-varint.js';

/** ACK ranges beyond the first accepted in one ACK frame. */
export const MAX_ACK_RANGES = 256;
/** Frames accepted in one packet (a PADDING run counts once). */
export const MAX_FRAMES_PER_PACKET = 1024;

export const FRAME_PADDING = 0x00;
export const FRAME_PING = 0x01;
export const FRAME_ACK = 0x02;
export const FRAME_ACK_ECN = 0x03;
export const FRAME_CRYPTO = 0x06;
export const FRAME_CONNECTION_CLOSE = 0x1c;

export interface AckRange {
  gap: number;
  length: number;
}

export type InitialFrame =
  | { type: 'padding'; length: number }
  | { type: 'ping' }
  | {
      type: 'ack';
      largest: number;
      delay: number;
      firstRange: number;
      ranges: AckRange[];
      ecn: { ect0: number; ect1: number; ce: number } | null;
    }
  | { type: 'crypto'; offset: number; data: Uint8Array }
  | { type: 'connection-close'; errorCode: number; frameType: number; reason: Uint8Array };

const T = 'quic.frame_truncated';

/** One frame at `offset` of a decrypted Initial payload (a run of PADDING bytes is one frame). */
export function decodeInitialFrame(view: Uint8Array, offset: number): Decoded<InitialFrame> {
  const end = view.length;
  if (offset >= end) throw new DecodeError(T, 'no frame type');
  const type = view[offset]!;
  let p = offset + 1;
  switch (type) {
    case FRAME_PADDING: {
      while (p < end && view[p] === 0) p++;
      return { value: { type: 'padding', length: p - offset }, bytes: p - offset };
    }
    case FRAME_PING:
      return { value: { type: 'ping' }, bytes: 1 };
    case FRAME_ACK:
    case FRAME_ACK_ECN: {
      const largest = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      const delay = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      const count = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      if (count > MAX_ACK_RANGES) throw new DecodeError('quic.too_many_ack_ranges', `${count}`);
      const firstRange = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      if (firstRange > largest) throw new DecodeError('quic.bad_ack_range', 'first range below 0');
      let smallest = largest - firstRange;
      const ranges: AckRange[] = [];
      for (let i = 0; i < count; i++) {
        const gap = readVarint(view, p, end, T);
        p += varintLength(view[p]!);
        const length = readVarint(view, p, end, T);
        p += varintLength(view[p]!);
        // RFC 9000 19.3.1: next largest = smallest - gap - 2, next smallest = that - length
        const nextLargest = smallest - gap - 2;
        if (nextLargest < 0 || nextLargest - length < 0) throw new DecodeError('quic.bad_ack_range', 'range below 0');
        smallest = nextLargest - length;
        ranges.push({ gap, length });
      }
      let ecn: { ect0: number; ect1: number; ce: number } | null = null;
      if (type === FRAME_ACK_ECN) {
        const ect0 = readVarint(view, p, end, T);
        p += varintLength(view[p]!);
        const ect1 = readVarint(view, p, end, T);
        p += varintLength(view[p]!);
        const ce = readVarint(view, p, end, T);
        p += varintLength(view[p]!);
        ecn = { ect0, ect1, ce };
      }
      return { value: { type: 'ack', largest, delay, firstRange, ranges, ecn }, bytes: p - offset };
    }
    case FRAME_CRYPTO: {
      const cryptoOffset = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      const length = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      if (p + length > end) throw new DecodeError(T, `CRYPTO data of ${length} bytes past payload end`);
      // RFC 9000 19.6: offset + length must stay below 2^62
      if (cryptoOffset + length > 2 ** 62 - 1) throw new DecodeError('quic.bad_crypto_offset');
      return { value: { type: 'crypto', offset: cryptoOffset, data: view.subarray(p, p + length) }, bytes: p + length - offset };
    }
    case FRAME_CONNECTION_CLOSE: {
      const errorCode = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      const frameType = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      const reasonLen = readVarint(view, p, end, T);
      p += varintLength(view[p]!);
      if (p + reasonLen > end) throw new DecodeError(T, 'reason phrase past payload end');
      return { value: { type: 'connection-close', errorCode, frameType, reason: view.subarray(p, p + reasonLen) }, bytes: p + reasonLen - offset };
    }
    default:
      // Multi-byte frame types (first byte ≥ 0x40) are never allowed in Initial packets either.
      throw new DecodeError('quic.frame_not_allowed', `type 0x${type.toString(16)}`);
  }
}

/** Every frame of a decrypted Initial payload from `offset` to the end. */
export function decodeInitialFrames(view: Uint8Array, offset: number): Decoded<InitialFrame[]> {
  const frames: InitialFrame[] = [];
  let p = offset;
  while (p < view.length) {
    if (frames.length >= MAX_FRAMES_PER_PACKET) throw new DecodeError('quic.too_many_frames');
    const f = decodeInitialFrame(view, p);
    frames.push(f.value);
    p += f.bytes;
  }
  return { value: frames, bytes: p - offset };
}

/**
 * The CRYPTO frames only, without allocating the other frames: what the
 * Initial table needs per packet. Validates every frame like decodeInitialFrames.
 */
export function cryptoFrames(view: Uint8Array, offset: number): Array<{ offset: number; data: Uint8Array }> {
  const out: Array<{ offset: number; data: Uint8Array }> = [];
  let p = offset;
  let n = 0;
  while (p < view.length) {
    if (++n > MAX_FRAMES_PER_PACKET) throw new DecodeError('quic.too_many_frames');
    const f = decodeInitialFrame(view, p);
    if (f.value.type === 'crypto') out.push({ offset: f.value.offset, data: f.value.data });
    p += f.bytes;
  }
  return out;
}
