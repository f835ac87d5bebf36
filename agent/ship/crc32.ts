// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320: the zlib/PNG/gzip one) for spool
// frames. node:zlib has crc32 since Node 20.15 / 22.2; on an older Node 20 this module falls
// back to a table implementation giving the same values.
import * as zlib from 'node:zlib';

let table: Uint32Array | undefined;

/** Table-driven CRC-32, the fallback (exported for its test). */
export function crc32Table(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `data`: node:zlib's when present, else the table implementation. */
export const crc32: (data: Uint8Array, value?: number) => number = native ?? crc32Table;
