// Link, IPv4, IPv6, UDP and TCP decoders: hand-built headers for the corners the
// fixtures do not reach, and fuzzing (random, truncated, bit-flipped) that must
// only ever raise DecodeError.
import { expect } from 'chai';
import fc from 'fast-check';
import { DecodeError } from '../../../agent/decode/decode-error.js';
import * as link from '../../../agent/decode/link.js';
import * as ipv4 from '../../../agent/decode/ipv4.js';
import * as ipv6 from '../../../agent/decode/ipv6.js';
import * as udp from '../../../agent/decode/udp.js';
import * as tcp from '../../../agent/decode/tcp.js';
import { formatIPv4, formatIPv6 } from '../../../agent/decode/ip-address.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const IPV4_UDP = '45000020 00010000 40110000 0a000001 0a000002 3039 0035 000c 0000 61626364';

function onlyDecodeError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    expect(e.reason).to.match(/^[a-z0-9]+\.[a-z_]+$/);
  }
}

describe('link decoder', () => {
  it('BSD null in either byte order and loopback: AF_INET 2, AF_INET6 24/28/30', () => {
    for (const [lt, af, et] of [
      [0, '02000000', 0x0800], [0, '00000002', 0x0800], [0, '18000000', 0x86dd], [0, '0000001c', 0x86dd],
      [0, '1e000000', 0x86dd], [108, '00000002', 0x0800], [108, '0000001e', 0x86dd], [0, '07000000', 0],
    ] as const) {
      const r = link.decodeLink(lt, hex(af + '45'), 0);
      expect([r.value.etherType, r.value.offset], `${lt} ${af}`).to.deep.equal([et, 4]);
    }
  });
  it('Ethernet with 802.1ad + 802.1Q tags, SLL2 with a tag, raw IP under 12/14/101/228/229', () => {
    const qinq = link.decodeLink(1, hex('ffffffffffff 020000000001 88a8 00c8 8100 012c 86dd 60'), 0).value;
    expect(qinq).to.deep.equal({ etherType: 0x86dd, offset: 22, vlanTags: 2 });
    const sll2 = link.decodeLink(276, hex('8100 0000 00000002 0001 00 06 020000000001 0000 0064 0800 45'), 0).value;
    expect(sll2).to.deep.equal({ etherType: 0x0800, offset: 24, vlanTags: 1 });
    for (const lt of [12, 14, 101, 228, 229]) expect(link.decodeLink(lt, hex('60'), 0).value.etherType).to.equal(0x86dd);
  });
  it('more than MAX_VLAN_TAGS tags, a short frame, an unknown type: DecodeError', () => {
    const tags = '8100 0001 '.repeat(link.MAX_VLAN_TAGS + 1);
    expect(() => link.decodeLink(1, hex('ffffffffffff 020000000001 ' + tags + '0800 45'), 0)).to.throw(DecodeError, 'link.too_many_vlan_tags');
    expect(() => link.decodeLink(1, hex('ffffffffffff'), 0)).to.throw(DecodeError, 'link.truncated');
    expect(() => link.decodeLink(147, hex('00'), 0)).to.throw(DecodeError, 'link.unknown_type');
  });
});

describe('IPv4 / IPv6 / UDP / TCP decoders', () => {
  it('IPv4 with options, fragment fields, UDP trimmed to its length (link padding)', () => {
    const b = hex('46000024 abcd2001 40110000 0a000001 0a000002 07040000 3039 0035 000c 0000 61626364 0000');
    const h = ipv4.decode(b, 0).value;
    expect([h.headerLength, h.id, h.moreFragments, h.fragmentOffset, h.protocol, h.end]).to.deep.equal([24, 0xabcd, true, 8, 17, 36]);
    const u = udp.newUdpHeader();
    udp.parseUdp(b, 24, h.end, u);
    expect([u.srcPort, u.dstPort, u.payloadEnd - u.payloadStart]).to.deep.equal([12345, 53, 4]);
  });
  it('IPv6 walks hop-by-hop, routing, destination options and AH to TCP; stops at a fragment header', () => {
    const hbh = '2b00 010400000000'; // next: routing
    const rt = '3c02 0000 00000000' + '00'.repeat(16); // next: dest opts, 24 bytes
    const dst = '3300 010400000000'; // next: AH
    const ah = '0601 0000 00000001 00000001'.replace(/ /g, ''); // next: TCP, (1+2)*4 = 12 bytes
    const tcpH = '3039 01bb 00000001 00000000 5002 ffff 0000 0000';
    const ext = hbh + rt + dst + ah;
    const plen = (ext.replace(/ /g, '').length + tcpH.replace(/ /g, '').length) / 2;
    const b = hex('60000000' + plen.toString(16).padStart(4, '0') + '0040' + '20010db8' + '00'.repeat(11) + '01' + '20010db8' + '00'.repeat(11) + '02' + ext + tcpH);
    const h = ipv6.decode(b, 0).value;
    expect([h.protocol, h.extHeaders, h.payloadOffset, h.fragment]).to.deep.equal([6, 4, 40 + 8 + 24 + 8 + 12, false]);
    const t = tcp.decode(b, h.payloadOffset).value;
    expect([t.srcPort, t.dstPort, t.seq, t.flags]).to.deep.equal([12345, 443, 1, 2]);
    const frag = hex('60000000 0010 2c40' + '00'.repeat(32) + '1100 0009 12345678' + '00'.repeat(8));
    const f = ipv6.decode(frag, 0).value;
    expect([f.fragment, f.fragmentOffset, f.moreFragments, f.fragmentId, f.protocol]).to.deep.equal([true, 8, true, 0x12345678, 17]);
  });
  it('more than MAX_IPV6_EXT_HEADERS extension headers: DecodeError', () => {
    const n = ipv6.MAX_IPV6_EXT_HEADERS + 1;
    const ext = '3c00 000000000000'.repeat(n);
    const b = hex('60000000' + (n * 8).toString(16).padStart(4, '0') + '3c40' + '00'.repeat(32) + ext);
    expect(() => ipv6.decode(b, 0)).to.throw(DecodeError, 'ipv6.too_many_ext_headers');
  });
  it('random, truncated and bit-flipped bytes raise only DecodeError', () => {
    const decoders: ((b: Uint8Array) => unknown)[] = [
      (b) => ipv4.decode(b, 0), (b) => ipv6.decode(b, 0), (b) => udp.decode(b, 0), (b) => tcp.decode(b, 0),
      ...[0, 1, 101, 108, 113, 276].map((lt) => (b: Uint8Array) => link.decodeLink(lt, b, 0)),
    ];
    const seed = hex(IPV4_UDP);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(), fc.nat(), (rand, cut, flip) => {
        const flipped = seed.slice(0, cut % (seed.length + 1));
        if (flipped.length) flipped[flip % flipped.length] ^= 1 << (flip % 8);
        for (const d of decoders) {
          onlyDecodeError(() => d(rand));
          onlyDecodeError(() => d(flipped));
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('IP address text', () => {
  it('RFC 5952 examples', () => {
    const cases: [string, string][] = [
      ['20010db8000000000000000000000001', '2001:db8::1'],
      ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // first of two equal runs
      ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // one zero group is not shortened
      ['20010db8000000000001000000000000', '2001:db8:0:0:1::'], // the longer run wins
      ['00000000000000000000000000000001', '::1'],
      ['00000000000000000000000000000000', '::'],
      ['00000000000000000000ffffc0000280', '::ffff:192.0.2.128'],
      ['20010DB800AB00000000000000000CD0'.toLowerCase(), '2001:db8:ab::cd0'],
    ];
    for (const [h, text] of cases) expect(formatIPv6(hex(h))).to.equal(text);
    expect(formatIPv4(hex('c0000201'))).to.equal('192.0.2.1');
  });
  it('matches the WHATWG URL serializer (also RFC 5952 compression) on random addresses', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }), (groups) => {
        const b = new Uint8Array(16);
        groups.forEach((g, i) => { b[2 * i] = g >> 8; b[2 * i + 1] = g & 0xff; });
        const ours = formatIPv6(b);
        if (ours.startsWith('::ffff:') && ours.includes('.')) return; // URL spells mapped addresses in hex
        const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
        expect(ours).to.equal(new URL(`http://[${full}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 5000 },
    );
  });
});
