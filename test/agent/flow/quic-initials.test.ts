import { expect } from 'chai';
import fc from 'fast-check';
import { CryptoStream, QuicInitialTable, MAX_CONNECTIONS, MIN_CLIENT_INITIAL_DATAGRAM, MAX_CRYPTO_BYTES, MAX_CRYPTO_FRAGMENTS, INITIAL_TIMEOUT_SEC } from '../../../agent/flow/quic-initials.js';
import { Counters } from '../../../agent/stats.js';
import type { Observation } from '../../../agent/observation.js';
import { QUIC_V1, QUIC_V2, decodeQuicInitial } from '../../../agent/decode/quic-initial.js';
import { clientHelloInfo, decodeClientHello } from '../../../agent/decode/tls.js';
import { rfcVectors } from '../decode/rfc-vectors.js';
import { cryptoFrame, protectInitial, udp } from './quic-build.js';

const v1 = rfcVectors('rfc9001-appendix-a.txt');
const v2 = rfcVectors('rfc9369-appendix-a.txt');
// RFC 9001 A.2: CRYPTO frame 06 00 40f1 <241-byte ClientHello naming example.com>
const CH = v1.block('A.2 client CRYPTO frame (then PADDING to a 1162-byte payload)').subarray(4);
const DCID = Buffer.from('8394c8f03e515708', 'hex');

function table(): { t: QuicInitialTable; out: Observation[]; counters: Counters } {
  const counters = new Counters();
  const out: Observation[] = [];
  return { t: new QuicInitialTable(counters, (o) => out.push(o)), out, counters };
}

function hello(o: Observation | undefined) {
  if (!o || o.action !== 'quic-initial') throw new Error(`not a quic-initial: ${JSON.stringify(o)}`);
  return o;
}

/** Sends `chunks` ([offset, end) of CH) as CRYPTO frames, `perPacket` frames per Initial. */
function sendChunks(t: QuicInitialTable, chunks: Array<[number, number]>, perPacket: number, opts: { version?: number; dcid?: Buffer } = {}): void {
  let pn = 0;
  for (let i = 0; i < chunks.length; i += perPacket) {
    const frames = Buffer.concat(chunks.slice(i, i + perPacket).map(([a, b]) => cryptoFrame(a, CH.subarray(a, b))));
    t.onDatagram(udp(protectInitial(frames, { version: opts.version, dcid: opts.dcid ?? DCID, pn: pn++ })));
  }
}

describe('quic-initials: test-side protection matches RFC 9001 A.2 byte for byte', () => {
  it('protectInitial(A.2 payload, pn 2) is the RFC protected packet (v1 and v2)', () => {
    const payload = v1.block('A.2 client CRYPTO frame (then PADDING to a 1162-byte payload)');
    expect(protectInitial(payload, { dcid: DCID, pn: 2 }).toString('hex')).to.equal(v1.block('A.2 client protected packet').toString('hex'));
    expect(protectInitial(payload, { version: QUIC_V2, dcid: DCID, pn: 2 }).toString('hex')).to.equal(v2.block('A.2 client protected packet').toString('hex'));
  });
});

/** Chunks [a, b) covering [0, len) cut at `cuts`, plus duplicates, shuffled by `rnd`. */
function shuffledChunks(len: number, cuts: number[], dups: Array<[number, number]>, rnd: Iterable<number>): Array<[number, number]> {
  const points = [0, ...[...new Set(cuts)].filter((c) => c > 0 && c < len).sort((a, b) => a - b), len];
  const chunks: Array<[number, number]> = [];
  for (let i = 0; i + 1 < points.length; i++) chunks.push([points[i]!, points[i + 1]!]);
  for (const [a, l] of dups) chunks.push([a % len, Math.min(len, (a % len) + l)]);
  const it = rnd[Symbol.iterator]();
  for (let i = chunks.length - 1; i > 0; i--) {
    const j = (it.next().value as number) % (i + 1);
    [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
  }
  return chunks;
}

describe('quic-initials: CryptoStream', () => {
  it('property: any permutation, split and duplication of the frames gives back exactly the stream', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.array(fc.nat(3000), { maxLength: 30 }),
        fc.array(fc.tuple(fc.nat(3000), fc.integer({ min: 1, max: 500 })), { maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        (bytes, cuts, dups, rnd) => {
          const s = new CryptoStream();
          for (const [a, b] of shuffledChunks(bytes.length, cuts, dups, rnd)) s.add(a, bytes.subarray(a, b));
          expect(Buffer.from(s.prefix()).equals(Buffer.from(bytes))).to.equal(true);
          expect(s.pieces()).to.have.length(1);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: with a gap, the pieces are exactly the byte ranges delivered', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 50, maxLength: 2000 }),
        fc.nat(),
        fc.nat(),
        fc.array(fc.nat(2000), { maxLength: 20 }),
        fc.infiniteStream(fc.nat()),
        (bytes, g1, g2, cuts, rnd) => {
          const a = g1 % (bytes.length - 1);
          const b = a + 1 + (g2 % (bytes.length - a - 1));
          const s = new CryptoStream();
          for (const [x, y] of shuffledChunks(bytes.length, cuts, [], rnd)) {
            // drop [a, b): keep what lies outside
            if (x < a) s.add(x, bytes.subarray(x, Math.min(y, a)));
            if (y > b) s.add(Math.max(x, b), bytes.subarray(Math.max(x, b), y));
          }
          const want = [
            ...(a > 0 ? [{ start: 0, hex: Buffer.from(bytes.subarray(0, a)).toString('hex') }] : []),
            ...(b < bytes.length ? [{ start: b, hex: Buffer.from(bytes.subarray(b)).toString('hex') }] : []),
          ];
          expect(s.pieces().map((p) => ({ start: p.start, hex: Buffer.from(p.data).toString('hex') }))).to.deep.equal(want);
          expect(s.prefix().length).to.equal(a);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('bounds: bytes past MAX_CRYPTO_BYTES are dropped; at most MAX_CRYPTO_FRAGMENTS ranges', () => {
    const s = new CryptoStream();
    expect(s.add(MAX_CRYPTO_BYTES - 2, Buffer.from('abcd'))).to.equal(2);
    expect(s.capacity).to.equal(MAX_CRYPTO_BYTES);
    expect(s.add(MAX_CRYPTO_BYTES + 10, Buffer.from('x'))).to.equal(0);
    const f = new CryptoStream();
    for (let i = 0; i < MAX_CRYPTO_FRAGMENTS; i++) expect(f.add(i * 10, Buffer.from('x'))).to.equal(1);
    expect(f.add(MAX_CRYPTO_FRAGMENTS * 10, Buffer.from('x'))).to.equal(-1);
    expect(f.add(1, Buffer.from('y'))).to.equal(1); // joins an existing range: accepted
    expect(f.pieces()).to.have.length(MAX_CRYPTO_FRAGMENTS);
  });
});

describe('quic-initials: QuicInitialTable', () => {
  const expected = clientHelloInfo(decodeClientHello(CH, 0).value, 'quic');

  it('the RFC 9001 A.2 datagram yields one observation naming example.com, JA4 with protocol q', () => {
    const { t, out, counters } = table();
    expect(t.onDatagram(udp(v1.block('A.2 client protected packet')))).to.equal(true);
    expect(out).to.have.length(1);
    const o = hello(out[0]);
    expect(o.quicVersion).to.equal(QUIC_V1);
    expect(o.hello?.serverName).to.equal('example.com');
    expect(o.hello?.complete).to.equal(true);
    expect(o.hello?.ja4).to.match(/^q13d/);
    expect(o.at).to.deep.include({ srcIp: '10.0.0.2', srcPort: 50000, dstIp: '192.0.2.7', dstPort: 443, transport: 'udp', ipVersion: 4 });
    expect(counters.get('quic.initial')).to.equal(1);
    // A retransmission of the same Initial is not reported again.
    t.onDatagram(udp(v1.block('A.2 client protected packet')));
    expect(out).to.have.length(1);
    expect(counters.get('quic.initial_after_hello')).to.equal(1);
  });

  it('the RFC 9369 A.2 datagram (QUIC v2) names example.com too', () => {
    const { t, out } = table();
    t.onDatagram(udp(v2.block('A.2 client protected packet')));
    const o = hello(out[0]);
    expect(o.quicVersion).to.equal(QUIC_V2);
    expect(o.hello?.serverName).to.equal('example.com');
  });

  it('Firefox order (end, start, middle) over three Initials', () => {
    const { t, out } = table();
    sendChunks(t, [[160, 241], [0, 80], [80, 160]], 1);
    expect(out).to.have.length(1);
    expect(hello(out[0]).hello).to.deep.equal(expected);
  });

  it('Chromium style: shuffled, split, retransmitted at new overlapping offsets', () => {
    const { t, out } = table();
    sendChunks(t, [[120, 200], [10, 60], [0, 12], [190, 241], [55, 130]], 2);
    expect(out).to.have.length(1);
    expect(hello(out[0]).hello).to.deep.equal(expected);
  });

  it('property: CRYPTO frames in any permutation, split at random points, with duplicates → the same hello', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: CH.length - 1 }), { maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(CH.length - 1), fc.integer({ min: 1, max: 80 })), { maxLength: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.infiniteStream(fc.nat()),
        (cuts, dups, perPacket, rnd) => {
          const points = [0, ...cuts.sort((a, b) => a - b), CH.length];
          const chunks: Array<[number, number]> = [];
          for (let i = 0; i + 1 < points.length; i++) chunks.push([points[i]!, points[i + 1]!]);
          for (const [a, len] of dups) chunks.push([a, Math.min(CH.length, a + len)]);
          // Fisher–Yates with fast-check's stream so failures shrink and replay
          const it = rnd[Symbol.iterator]();
          for (let i = chunks.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1);
            [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
          }
          const { t, out } = table();
          sendChunks(t, chunks, perPacket);
          t.flush();
          expect(out).to.have.length(1);
          expect(hello(out[0]).hello).to.deep.equal(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  describe('gaps (the rest of the ClientHello never sent)', () => {
    const sniExt = CH.indexOf(Buffer.from('00000010000e00000b6578616d706c652e636f6d', 'hex'));
    it('the ClientHello holds the SNI extension where the RFC puts it', () => {
      expect(sniExt).to.be.greaterThan(40);
    });

    it('a prefix holding the SNI: named from partialClientHelloInfo, complete false, at flush', () => {
      const { t, out, counters } = table();
      sendChunks(t, [[0, sniExt + 20 + 10]], 1);
      expect(out).to.have.length(0);
      t.flush();
      const o = hello(out[0]);
      expect(o.hello).to.include({ serverName: 'example.com', complete: false, ja4: null });
      expect(counters.get('quic.hello_partial_named')).to.equal(1);
    });

    it('the SNI after a gap: named from findServerNameInFragment, at the timeout', () => {
      const { t, out, counters } = table();
      sendChunks(t, [[0, 20], [sniExt - 3, 200]], 2);
      t.expire(1700000000 + INITIAL_TIMEOUT_SEC - 1);
      expect(out).to.have.length(0);
      t.expire(1700000000 + INITIAL_TIMEOUT_SEC);
      expect(hello(out[0]).hello).to.include({ serverName: 'example.com', complete: false });
      expect(counters.get('quic.hello_partial_named_after_gap')).to.equal(1);
      expect(t.size).to.equal(0);
    });

    it('the SNI cut by the gap: reported with serverName null (named later from DNS)', () => {
      const { t, out, counters } = table();
      sendChunks(t, [[0, sniExt + 5], [sniExt + 12, 241]], 1);
      t.flush();
      const o = hello(out[0]);
      expect(o.hello).to.not.equal(null);
      expect(o.hello!.serverName).to.equal(null);
      expect(o.hello!.complete).to.equal(false);
      expect(counters.get('quic.hello_partial_nameless')).to.equal(1);
    });
  });

  it('the server direction of a known client flow is not decrypted', () => {
    const { t, counters } = table();
    sendChunks(t, [[0, 100]], 1);
    const server = udp(v1.block('A.3 server protected packet'), { src: [192, 0, 2, 7], srcPort: 443, dst: [10, 0, 0, 2], dstPort: 50000 });
    expect(t.onDatagram(server)).to.equal(true);
    expect(counters.get('quic.server_initial')).to.equal(1);
    expect(counters.get('quic.undecryptable')).to.equal(0);
  });

  it('a server Initial with no client seen: too short for a client Initial datagram, or (padded) undecryptable', () => {
    const { t, out, counters } = table();
    const server = v1.block('A.3 server protected packet');
    const from = { src: [192, 0, 2, 7], srcPort: 443, dst: [10, 0, 0, 2], dstPort: 50000 };
    t.onDatagram(udp(server, from));
    expect(counters.get('quic.short_initial_datagram')).to.equal(1);
    t.onDatagram(udp(Buffer.concat([server, Buffer.alloc(MIN_CLIENT_INITIAL_DATAGRAM)]), from));
    expect(counters.get('quic.undecryptable')).to.equal(1);
    expect(out).to.have.length(0);
  });

  it('IPv6 client: endpoints in RFC 5952 text', () => {
    const { t, out } = table();
    const src = [0xfd, 0x99, ...Array(13).fill(0), 1];
    const dst = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 7];
    t.onDatagram(udp(v1.block('A.2 client protected packet'), { src, dst }));
    expect(hello(out[0]).at).to.deep.include({ ipVersion: 6, srcIp: 'fd99::1', dstIp: '2001:db8::7' });
  });

  it('a client Initial to the server-chosen DCID opens with the original DCID keys (same connection)', () => {
    const { t, out, counters } = table();
    sendChunks(t, [[0, 100]], 1);
    const serverCid = Buffer.from('f067a5502a4262b5', 'hex');
    t.onDatagram(udp(protectInitial(cryptoFrame(100, CH.subarray(100)), { dcid: serverCid, keyDcid: DCID, pn: 5 })));
    expect(counters.get('quic.undecryptable')).to.equal(0);
    expect(t.size).to.equal(1);
    expect(hello(out[0]).hello).to.deep.equal(expected);
  });

  it('after a Retry, the client Initials to the Retry SCID continue the same connection', () => {
    const { t, out, counters } = table();
    sendChunks(t, [[0, 100]], 1);
    // RFC 9001 A.4 Retry (SCID f067a5502a4262b5), sent by the server to this client
    t.onDatagram(udp(v1.block('A.4 retry'), { src: [192, 0, 2, 7], srcPort: 443, dst: [10, 0, 0, 2], dstPort: 50000 }));
    expect(counters.get('quic.retry')).to.equal(1);
    const retryScid = Buffer.from('f067a5502a4262b5', 'hex');
    t.onDatagram(udp(protectInitial(cryptoFrame(100, CH.subarray(100, 180)), { dcid: retryScid, pn: 1, token: Buffer.from('token') })));
    expect(t.size).to.equal(1);
    expect(out).to.have.length(0);
    // a late copy protected with the original DCID's keys still opens, for the same connection
    t.onDatagram(udp(protectInitial(cryptoFrame(180, CH.subarray(180)), { dcid: DCID, pn: 2 })));
    expect(counters.get('quic.undecryptable')).to.equal(0);
    expect(t.size).to.equal(1);
    expect(out).to.have.length(1);
    expect(hello(out[0]).hello).to.deep.equal(expected);
  });

  it('coalesced: an Initial followed by a 0-RTT packet; the 0-RTT one is skipped and counted', () => {
    const { t, out, counters } = table();
    const initial = protectInitial(cryptoFrame(0, CH), { dcid: DCID, pn: 0, minSize: 0 });
    // 0-RTT long header: type bits 01 (v1), DCID, empty SCID, Length 40, 40 bytes
    const zeroRtt = Buffer.concat([Buffer.from([0xd1, 0, 0, 0, 1, 8]), DCID, Buffer.from([0, 0x40, 40]), Buffer.alloc(40, 0xaa)]);
    expect(t.onDatagram(udp(Buffer.concat([initial, zeroRtt, Buffer.alloc(1200)])))).to.equal(true);
    expect(counters.get('quic.skipped_0rtt')).to.equal(1);
    expect(hello(out[0]).hello?.serverName).to.equal('example.com');
  });

  it('other UDP is left alone; unknown versions that look like QUIC are counted', () => {
    const { t, counters } = table();
    expect(t.onDatagram(udp(Buffer.from('0102010000010000000000000377777706676f6f676c6503636f6d0000010001', 'hex'), { dstPort: 53 }))).to.equal(false);
    const draft29 = Buffer.from(v1.block('A.2 client protected packet'));
    draft29.writeUInt32BE(0xff00001d, 1);
    expect(t.onDatagram(udp(draft29))).to.equal(false);
    expect(counters.get('quic.unknown_version')).to.equal(1);
    const tcp = { ...udp(v1.block('A.2 client protected packet')), transport: 'tcp' as const };
    expect(t.onDatagram(tcp)).to.equal(false);
    // A DNS query with ID 0xc300, flags 0 (RD clear), one question: bytes 1–4 read as version 0.
    const dns = Buffer.from('c30000000001000000000000076578616d706c6503636f6d0000010001', 'hex');
    expect(t.onDatagram(udp(dns, { dstPort: 53 }))).to.equal(false);
    // A DNS response with ID 0xc0de: random-looking "version" 0xde818000, not a QUIC family.
    const resp = Buffer.from('c0de81800001000100000000076578616d706c6503636f6d0000010001c00c000100010000012c00045db8d822', 'hex');
    expect(t.onDatagram(udp(resp, { srcPort: 53 }))).to.equal(false);
    expect(counters.get('quic.unknown_version')).to.equal(1);
    expect(counters.get('quic.version_negotiation')).to.equal(0);
  });

  it('a non-ClientHello CRYPTO stream is reported without hello', () => {
    const { t, out, counters } = table();
    const notHello = Buffer.from([0x02, 0, 0, 4, 1, 2, 3, 4]);
    t.onDatagram(udp(protectInitial(cryptoFrame(0, notHello), { dcid: DCID, pn: 0 })));
    expect(counters.get('quic.not_client_hello')).to.equal(1);
    expect(hello(out[0]).hello).to.equal(null);
  });

  it(`at most MAX_CONNECTIONS (${MAX_CONNECTIONS}) connections: the oldest is reported and evicted`, () => {
    const { t, out, counters } = table();
    const prefix = cryptoFrame(0, CH.subarray(0, 30));
    for (let i = 0; i <= MAX_CONNECTIONS; i++) {
      const dcid = Buffer.alloc(8);
      dcid.writeUInt32BE(i, 4);
      t.onDatagram(udp(protectInitial(prefix, { dcid, pn: 0 }), { srcPort: 1024 + (i % 60000) }));
    }
    expect(t.size).to.equal(MAX_CONNECTIONS);
    expect(counters.get('quic.connection_evicted')).to.equal(1);
    expect(out).to.have.length(1);
    expect(hello(out[0]).at.srcPort).to.equal(1024);
  });

  it('property: random and bit-flipped datagrams never throw; failures are counted DecodeErrors', () => {
    const base = v1.block('A.2 client protected packet');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 1400 }).map((b) => Buffer.from(b)),
          fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }).map((flips) => {
            const b = Buffer.from(base);
            for (const [at, x] of flips) b[at] ^= x;
            return b;
          }),
          fc.nat(base.length).map((n) => base.subarray(0, n)),
        ),
        (datagram) => {
          const { t } = table();
          t.onDatagram(udp(datagram));
          t.flush();
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('quic-initials: decodeQuicInitial round trip with the test builder', () => {
  it('packet numbers of 1–4 bytes and a token survive protection and removal', () => {
    for (const pnLen of [1, 2, 3, 4]) {
      const pkt = protectInitial(cryptoFrame(0, CH), { dcid: DCID, pn: 7, pnLen, token: Buffer.from('abc') });
      const r = decodeQuicInitial(pkt, 0).value;
      expect(r.pn).to.equal(7);
      expect(Buffer.from(r.token).toString()).to.equal('abc');
    }
  });
});
