// QUIC variable-length integers (RFC 9000 section 16): the two top bits of the
// first byte give the length (1, 2, 4 or 8 bytes). Values above 2^53 lose
// precision as JavaScript numbers; every length or offset we act on is checked
// against a buffer size far below that.

import { DecodeError } from './decode-error.js';

/** Bytes taken by the varint whose first byte is `first`. */
export function varintLength(first: number): number {
  return 1 << (first >> 6);
}

/**
 * Reads the varint at `offset`; the caller reads `varintLength(view[offset])`
 * for the bytes consumed. Throws DecodeError(reason) when it runs past `end`.
 */
export function readVarint(view: Uint8Array, offset: number, end: number, reason: string): number {
  if (offset >= end) throw new DecodeError(reason, `varint at ${offset} past ${end}`);
  const first = view[offset]!;
  const len = 1 << (first >> 6);
  if (offset + len > end) throw new DecodeError(reason, `varint of ${len} bytes at ${offset} past ${end}`);
  let v = first & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + view[offset + i]!;
  return v;
}

/** `{value, bytes}` form of readVarint, for callers that want the decoder shape. */
export function decodeVarint(view: Uint8Array, offset: number): { value: number; bytes: number } {
  const value = readVarint(view, offset, view.length, 'quic.truncated');
  return { value, bytes: varintLength(view[offset]!) };
}
