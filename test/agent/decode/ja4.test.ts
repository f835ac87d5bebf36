import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { decodeClientHello } from '../../../agent/decode/tls.js';
import { ja4, ja4o, ja4r, ja4ro } from '../../../agent/decode/ja4.js';
import { fixture } from '../../helpers/root.js';
import { alpnExt, buildClientHello, opaqueExt, sigAlgsExt, sniExt, supportedVersionsExt, type Ext } from '../../helpers/tls-builder.js';

interface Vector {
  file: string;
  domain: string;
  ja4: string;
  ja4_o: string;
  ja4_ro: string;
}

const vectors = (JSON.parse(readFileSync(fixture('ja4', 'foxio-vectors.json'), 'utf8')) as { vectors: Vector[] }).vectors;
const hexList = (s: string): number[] => (s === '' ? [] : s.split(',').map((h) => parseInt(h, 16)));

// Rebuilds a ClientHello carrying exactly what FoxIO's JA4_ro lists, in that order,
// with GREASE values sprinkled in the places Chrome puts them (JA4 must skip them).
function helloFromVector(v: Vector, greaseSigalg: boolean): Uint8Array {
  const [a, cs, es, ss] = v.ja4_ro.split('_');
  const alpnCode = a.slice(8, 10);
  const sigs = hexList(ss ?? '');
  const exts: Ext[] = [opaqueExt(0x1a1a, 0)];
  for (const t of hexList(es)) {
    if (t === 0x0000) exts.push(sniExt(v.domain));
    else if (t === 0x0010) exts.push(alpnExt(alpnCode === 'h2' ? ['h2', 'http/1.1'] : alpnCode === 'h1' ? ['http/1.1'] : [alpnCode]));
    else if (t === 0x000d) exts.push(sigAlgsExt(greaseSigalg ? [0x7a7a, ...sigs] : sigs));
    else if (t === 0x002b) exts.push(supportedVersionsExt([0x4a4a, 0x0304, 0x0303]));
    else if (t === 0x0015) {
      exts.push(opaqueExt(0xcaca, 1));
      exts.push({ type: 0x0015, data: new Uint8Array(37) });
    } else exts.push(opaqueExt(t, 3));
  }
  return buildClientHello({ ciphers: [0x2a2a, ...hexList(cs)], extensions: exts });
}

describe('JA4 against FoxIO published vectors', () => {
  for (const v of vectors) {
    it(`${v.file}: ${v.ja4}`, () => {
      const hs = helloFromVector(v, v.file.startsWith('sigalg-grease'));
      const ch = decodeClientHello(hs, 0).value;
      expect(ch.serverName).to.equal(v.domain);
      expect(ja4ro(ch, 'tcp')).to.equal(v.ja4_ro);
      expect(ja4(ch, 'tcp')).to.equal(v.ja4);
      expect(ja4o(ch, 'tcp')).to.equal(v.ja4_o);
    });
  }

  // technical_details/JA4.md "Extension hash": the same extension list without
  // signature algorithms ends without an underscore and hashes to 6d807ffa2a79.
  it('JA4.md: no signature algorithms → c = 6d807ffa2a79', () => {
    const exts = hexList('001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015').map((t) =>
      t === 0 ? sniExt('example.com') : t === 0x10 ? alpnExt(['h2']) : t === 0x0d ? sigAlgsExt([]) : t === 0x2b ? supportedVersionsExt([0x0304]) : opaqueExt(t, 1),
    );
    const ch = decodeClientHello(buildClientHello({ ciphers: hexList('1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035'), extensions: exts }), 0).value;
    expect(ja4r(ch, 'tcp')).to.equal('t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01');
    expect(ja4(ch, 'tcp')).to.equal('t13d1516h2_8daaf6152771_6d807ffa2a79');
  });

  describe('JA4.md "ALPN Extension Value" examples', () => {
    const cases: [number[], string][] = [
      [[0xab], 'ab'],
      [[0xab, 0xcd], 'ad'],
      [[0x30, 0xab], '3b'],
      [[0x30, 0x31, 0xab, 0xcd], '3d'],
      [[0x30, 0xab, 0xcd, 0x31], '01'],
      [[...Buffer.from('http/1.1')], 'h1'],
      [[...Buffer.from('h2')], 'h2'],
      [[...Buffer.from('x')], 'xx'], // "a single character … is treated as both the first and last character"
    ];
    for (const [raw, want] of cases) {
      it(`${Buffer.from(raw).toString('hex')} → ${want}`, () => {
        const ch = decodeClientHello(buildClientHello({ ciphers: [0x1301], extensions: [alpnExt([new Uint8Array(raw)])] }), 0).value;
        expect(ja4(ch, 'tcp').slice(8, 10)).to.equal(want);
      });
    }
    it('no ALPN values / empty first value → 00', () => {
      const none = decodeClientHello(buildClientHello({ ciphers: [0x1301], extensions: [{ type: 0x10, data: new Uint8Array([0, 0]) }] }), 0).value;
      expect(ja4(none, 'tcp').slice(8, 10)).to.equal('00');
      const empty = decodeClientHello(buildClientHello({ ciphers: [0x1301], extensions: [alpnExt([new Uint8Array(0), 'h2'])] }), 0).value;
      expect(ja4(empty, 'tcp').slice(8, 10)).to.equal('00');
    });
  });

  it('QUIC marker, IP destination, no extensions, legacy version, counts capped at 99', () => {
    const ciphers = Array.from({ length: 120 }, (_, i) => 0x0100 + i);
    const ch = decodeClientHello(buildClientHello({ legacyVersion: 0x0301, ciphers, noExtensionBlock: true }), 0).value;
    const fp = ja4(ch, 'quic');
    expect(fp.slice(0, 10)).to.equal('q10i990000');
    expect(fp.endsWith('_000000000000')).to.equal(true);
    const exts = Array.from({ length: 105 }, (_, i) => opaqueExt(0x7000 + i, 0));
    expect(ja4(decodeClientHello(buildClientHello({ ciphers: [0x1301], extensions: exts }), 0).value, 'tcp').slice(0, 10)).to.equal('t12i019900');
  });
});
