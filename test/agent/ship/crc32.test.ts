import { expect } from 'chai';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32, crc32Table } from '../../../agent/ship/crc32.js';

describe('agent/ship/crc32', () => {
  it('the CRC-32 check value: "123456789" → 0xCBF43926 (both implementations)', () => {
    const data = Buffer.from('123456789');
    expect(crc32Table(data)).to.equal(0xcbf43926);
    expect(crc32(data)).to.equal(0xcbf43926);
    expect(crc32Table(new Uint8Array(0))).to.equal(0);
  });

  it('the table fallback equals node:zlib crc32, also when continued', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
        expect(crc32Table(a)).to.equal(zlibCrc32(a));
        expect(crc32Table(b, crc32Table(a))).to.equal(zlibCrc32(Buffer.concat([a, b])));
      }),
      { numRuns: 300 },
    );
  });
});
