import { expect } from 'chai';
import fc from 'fast-check';
import { DecodeError } from '../../../agent/decode/decode-error.js';
import {
  QUIC_V1,
  QUIC_V2,
  clearInitialKeyCache,
  clientInitialKeys,
  decodeLongHeader,
  decodePacketNumber,
  decodeQuicInitial,
  deriveInitialSecrets,
  hkdfExtract,
  initialKeyCacheStats,
  initialKeys,
} from '../../../agent/decode/quic-initial.js';
import { decodeInitialFrames } from '../../../agent/decode/quic-frames.js';
import { rfcVectors } from './rfc-vectors.js';
import { reasonOf } from '../../helpers/decode-reason.js';

const DCID = Buffer.from('8394c8f03e515708', 'hex');


for (const [name, file, version, salt] of [
  ['QUIC v1 (RFC 9001 Appendix A)', 'rfc9001-appendix-a.txt', QUIC_V1, '38762cf7f55934b34d179ae6a4c80cadccbb7f0a'],
  ['QUIC v2 (RFC 9369 Appendix A)', 'rfc9369-appendix-a.txt', QUIC_V2, '0dede3def700a6db819381be6e269dcbf9bd2ed9'],
] as const) {
  describe(`quic-initial: ${name}`, () => {
    const v = rfcVectors(file);

    it('A.1: initial secret, client and server secrets, keys, IVs and hp keys', () => {
      expect(hkdfExtract(Buffer.from(salt, 'hex'), DCID).toString('hex')).to.equal(v.key('initial_secret').toString('hex'));
      const c = deriveInitialSecrets(version, DCID, 'client');
      expect(c.initialSecret.toString('hex')).to.equal(v.key('initial_secret').toString('hex'));
      expect(c.secret.toString('hex')).to.equal(v.key('client_initial_secret').toString('hex'));
      expect(c.key.toString('hex')).to.equal(v.key('client key').toString('hex'));
      expect(c.iv.toString('hex')).to.equal(v.key('client iv').toString('hex'));
      expect(c.hp.toString('hex')).to.equal(v.key('client hp').toString('hex'));
      const s = deriveInitialSecrets(version, DCID, 'server');
      expect(s.secret.toString('hex')).to.equal(v.key('server_initial_secret').toString('hex'));
      expect(s.key.toString('hex')).to.equal(v.key('server key').toString('hex'));
      expect(s.iv.toString('hex')).to.equal(v.key('server iv').toString('hex'));
      expect(s.hp.toString('hex')).to.equal(v.key('server hp').toString('hex'));
    });

    it('A.2: the protected client Initial opens to exactly the CRYPTO frame plus PADDING to 1162 bytes', () => {
      const packet = v.block('A.2 client protected packet');
      expect(packet.length).to.equal(1200);
      const { value, bytes } = decodeQuicInitial(packet, 0);
      expect(bytes).to.equal(1200);
      expect(value.version).to.equal(version);
      expect(Buffer.from(value.dcid).toString('hex')).to.equal('8394c8f03e515708');
      expect(value.scid.length).to.equal(0);
      expect(value.token.length).to.equal(0);
      expect(value.pn).to.equal(2);
      const crypto = v.block('A.2 client CRYPTO frame (then PADDING to a 1162-byte payload)');
      const expected = Buffer.concat([crypto, Buffer.alloc(1162 - crypto.length)]);
      expect(Buffer.from(value.payload).toString('hex')).to.equal(expected.toString('hex'));
    });

    it('A.2: the frames are one CRYPTO frame at offset 0 (a 245-byte ClientHello naming example.com) and PADDING', () => {
      const { value } = decodeQuicInitial(v.block('A.2 client protected packet'), 0);
      const frames = decodeInitialFrames(value.payload, 0).value;
      expect(frames.map((f) => f.type)).to.deep.equal(['crypto', 'padding']);
      const c = frames[0]!;
      if (c.type !== 'crypto') throw new Error('not crypto');
      expect(c.offset).to.equal(0);
      expect(c.data.length).to.equal(0xf1);
      expect(c.data[0]).to.equal(0x01); // ClientHello
      expect(Buffer.from(c.data).includes(Buffer.from('example.com'))).to.equal(true);
    });

    it('A.3: the server Initial does not open with client keys, and opens with the server keys of the client DCID', () => {
      const packet = v.block('A.3 server protected packet');
      clearInitialKeyCache();
      expect(reasonOf(() => decodeQuicInitial(packet, 0))).to.equal('quic.undecryptable');
      const { value } = decodeQuicInitial(packet, 0, initialKeys(version, DCID, 'server'));
      expect(value.pn).to.equal(1);
      expect(Buffer.from(value.payload).toString('hex')).to.equal(v.block('A.3 server payload').toString('hex'));
      const frames = decodeInitialFrames(value.payload, 0).value;
      expect(frames.map((f) => f.type)).to.deep.equal(['ack', 'crypto']);
    });

    it('A.4: a Retry packet is recognised and runs to the datagram end', () => {
      const retry = v.block('A.4 retry');
      const { value, bytes } = decodeLongHeader(retry, 0);
      expect(value.type).to.equal('retry');
      expect(bytes).to.equal(retry.length);
      expect(reasonOf(() => decodeQuicInitial(retry, 0))).to.equal('quic.not_initial');
    });

    it('coalesced: a client Initial followed by another long-header packet is walked by its Length', () => {
      const packet = v.block('A.2 client protected packet');
      const retry = v.block('A.4 retry');
      const datagram = Buffer.concat([packet, retry]);
      const first = decodeQuicInitial(datagram, 0);
      expect(first.bytes).to.equal(packet.length);
      expect(decodeLongHeader(datagram, first.bytes).value.type).to.equal('retry');
    });

    it('a flipped ciphertext, tag or header bit makes the packet undecryptable', () => {
      const packet = v.block('A.2 client protected packet');
      for (const at of [0, 1 + 4 + 3, 30, 600, 1199]) {
        const bad = Buffer.from(packet);
        bad[at] ^= 0x01;
        const r = reasonOf(() => decodeQuicInitial(bad, 0));
        expect(r, `byte ${at}`).to.match(/^quic\./);
        expect(r, `byte ${at}`).to.not.equal('no error');
      }
    });
  });
}

describe('quic-initial: header checks', () => {
  const v1 = rfcVectors('rfc9001-appendix-a.txt');
  const packet = v1.block('A.2 client protected packet');

  it('truncation anywhere yields quic.truncated (or quic.bad_length), never another error', () => {
    for (let n = 0; n < packet.length; n += 7) {
      const r = reasonOf(() => decodeQuicInitial(packet.subarray(0, n), 0));
      expect(['quic.truncated', 'quic.bad_length']).to.include(r);
    }
  });

  it('short header, unknown version, version negotiation, bad CID length', () => {
    const p = Buffer.from(packet);
    p[0] = 0x40;
    expect(reasonOf(() => decodeLongHeader(p, 0))).to.equal('quic.not_long_header');
    const u = Buffer.from(packet);
    u.writeUInt32BE(0xff00001d, 1);
    expect(reasonOf(() => decodeLongHeader(u, 0))).to.equal('quic.unknown_version');
    const vn = Buffer.from(packet);
    vn.writeUInt32BE(0, 1);
    expect(reasonOf(() => decodeLongHeader(vn, 0))).to.equal('quic.version_negotiation');
    const c = Buffer.from(packet);
    c[5] = 21;
    expect(reasonOf(() => decodeLongHeader(c, 0))).to.equal('quic.bad_cid_length');
    const f = Buffer.from(packet);
    f[0] = f[0]! & ~0x40;
    expect(reasonOf(() => decodeLongHeader(f, 0))).to.equal('quic.no_fixed_bit');
  });

  it('RFC 9000 A.3 packet number decoding example', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).to.equal(0xa82f9b32);
    expect(decodePacketNumber(-1, 2, 32)).to.equal(2);
  });

  it('client keys are cached per DCID: the second decode of the same DCID is a cache hit', () => {
    clearInitialKeyCache();
    decodeQuicInitial(packet, 0);
    decodeQuicInitial(packet, 0);
    expect(initialKeyCacheStats()).to.deep.equal({ size: 1, hits: 1, misses: 1 });
    expect(clientInitialKeys(QUIC_V1, DCID)).to.equal(clientInitialKeys(QUIC_V1, Buffer.from(DCID)));
  });

  it('property: random and bit-flipped input never throws anything but DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1300 }), fc.nat(), (bytes, off) => {
        const view = Buffer.from(bytes);
        try {
          decodeQuicInitial(view, view.length ? off % view.length : 0);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1199), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
        const view = Buffer.from(packet);
        for (const [at, x] of flips) view[at] ^= x;
        try {
          const r = decodeQuicInitial(view, 0);
          decodeInitialFrames(r.value.payload, 0);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
