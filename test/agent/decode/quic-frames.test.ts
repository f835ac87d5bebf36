import { expect } from 'chai';
import fc from 'fast-check';
import { DecodeError } from '../../../agent/decode/decode-error.js';
import { MAX_ACK_RANGES, cryptoFrames, decodeInitialFrame, decodeInitialFrames } from '../../../agent/decode/quic-frames.js';
import { decodeQuicInitial, initialKeys, QUIC_V1 } from '../../../agent/decode/quic-initial.js';
import { rfcVectors } from './rfc-vectors.js';
import { reasonOf } from '../../helpers/decode-reason.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');


describe('quic-frames', () => {
  it('RFC 9001 A.3 server payload: ACK of packet 0 (no delay, no ranges), then CRYPTO offset 0 length 90 (ServerHello)', () => {
    const v = rfcVectors('rfc9001-appendix-a.txt');
    const payload = v.block('A.3 server payload');
    const frames = decodeInitialFrames(payload, 0).value;
    expect(frames[0]).to.deep.equal({ type: 'ack', largest: 0, delay: 0, firstRange: 0, ranges: [], ecn: null });
    const c = frames[1]!;
    if (c.type !== 'crypto') throw new Error('crypto expected');
    expect(c.offset).to.equal(0);
    expect(c.data.length).to.equal(0x5a);
    expect(c.data[0]).to.equal(0x02); // ServerHello
    // and the same bytes come out of the protected server packet
    const pkt = decodeQuicInitial(v.block('A.3 server protected packet'), 0, initialKeys(QUIC_V1, hex('8394c8f03e515708'), 'server')).value;
    expect(Buffer.from(pkt.payload).equals(payload)).to.equal(true);
  });

  it('PADDING runs are one frame; PING; CONNECTION_CLOSE with a reason', () => {
    const frames = decodeInitialFrames(hex('00000000 01 1c 0a 06 03 616263 00'), 0).value;
    expect(frames.map((f) => f.type)).to.deep.equal(['padding', 'ping', 'connection-close', 'padding']);
    expect(frames[0]).to.deep.equal({ type: 'padding', length: 4 });
    const cc = frames[2]!;
    if (cc.type !== 'connection-close') throw new Error();
    expect(cc.errorCode).to.equal(0x0a);
    expect(cc.frameType).to.equal(0x06);
    expect(Buffer.from(cc.reason).toString()).to.equal('abc');
  });

  it('ACK with ranges and ECN counts (RFC 9000 19.3)', () => {
    // largest 100, delay 0x40 (2-byte varint), 2 ranges, first range 3 (97..100),
    // gap 1 length 2 (→ 91..93), gap 0 length 0 (→ 89), ECN 5, 6, 7
    const f = decodeInitialFrame(hex('03 4064 4040 02 03 01 02 00 00 05 06 07'), 0);
    expect(f.bytes).to.equal(14);
    expect(f.value).to.deep.equal({
      type: 'ack',
      largest: 100,
      delay: 64,
      firstRange: 3,
      ranges: [
        { gap: 1, length: 2 },
        { gap: 0, length: 0 },
      ],
      ecn: { ect0: 5, ect1: 6, ce: 7 },
    });
  });

  it('ACK ranges that go below packet 0 or exceed the cap are errors', () => {
    expect(reasonOf(() => decodeInitialFrame(hex('02 05 00 00 06'), 0))).to.equal('quic.bad_ack_range');
    expect(reasonOf(() => decodeInitialFrame(hex('02 05 00 01 01 05 05'), 0))).to.equal('quic.bad_ack_range');
    expect(reasonOf(() => decodeInitialFrame(Buffer.concat([hex('02 05 00'), hex('4101'), hex('00')]), 0))).to.equal('quic.too_many_ack_ranges');
    expect(MAX_ACK_RANGES).to.equal(256);
  });

  it('CRYPTO: 2- and 4-byte varints; data is a view; length past the end is truncated', () => {
    const f = decodeInitialFrame(hex('06 80000400 4003 616263'), 0);
    expect(f.value).to.deep.include({ type: 'crypto', offset: 1024 });
    expect(f.bytes).to.equal(10);
    expect(reasonOf(() => decodeInitialFrame(hex('06 00 05 6162'), 0))).to.equal('quic.frame_truncated');
    expect(cryptoFrames(hex('00 00 06 00 01 61 01 06 01 01 62'), 0).map((c) => [c.offset, Buffer.from(c.data).toString()])).to.deep.equal([
      [0, 'a'],
      [1, 'b'],
    ]);
  });

  it('frames not allowed in Initial packets are errors: STREAM, NEW_TOKEN, HANDSHAKE_DONE, 0x1d, multi-byte types', () => {
    for (const t of ['08', '07', '1e', '1d', '10', '4006']) expect(reasonOf(() => decodeInitialFrames(hex(t + '000000'), 0)), t).to.equal('quic.frame_not_allowed');
  });

  it('property: random payloads only ever raise DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        try {
          decodeInitialFrames(b, 0);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
      { numRuns: 5000 },
    );
  });
});
