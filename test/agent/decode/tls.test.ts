import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DecodeError } from '../../../agent/decode/decode-error.js';
import {
  assembleHandshake,
  clientHelloInfo,
  decodeClientHello,
  decodeTlsRecordHeader,
  findServerNameInFragment,
  partialClientHelloInfo,
} from '../../../agent/decode/tls.js';
import { extensionName, GREASE_VALUES, isGrease } from '../../../agent/decode/tls-tables.js';
import { fixture } from '../../helpers/root.js';
import { readPcapL4 } from '../../helpers/pcap-l4.js';
import { alpnExt, buildClientHello, bytes, opaqueExt, sigAlgsExt, sniExt, supportedVersionsExt, toRecords } from '../../helpers/tls-builder.js';

const TLS_DIR = fixture('captures', 'tls');

function tsv(file: string): Record<string, string>[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const head = lines[0].split('\t');
  return lines.slice(1).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [head[i], v])));
}

/** The client's byte stream of one connection, segments put in sequence order (test-only; no overlap handling). */
function clientStream(capture: string, clientPort: number): Uint8Array {
  const segs = readPcapL4(`${TLS_DIR}/${capture}`).filter((p) => p.transport === 'tcp' && p.srcPort === clientPort && p.payload.length > 0);
  const seen = new Set<number>();
  const uniq = segs.filter((s) => (seen.has(s.seq) ? false : (seen.add(s.seq), true))).sort((a, b) => a.seq - b.seq);
  return bytes(...uniq.map((s) => s.payload));
}

function expectOnlyDecodeError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    expect(e.reason).to.match(/^tls\./);
  }
}

const told = new Map(tsv(`${TLS_DIR}/EXPECTED.tsv`).map((r) => [r.capture, r]));
const ja4s = tsv(`${TLS_DIR}/JA4.tsv`);
const realHellos = ja4s.map((r) => {
  const a = assembleHandshake(clientStream(r.capture, Number(r.client_port)));
  return { row: r, hs: a.data, complete: a.complete };
});
const tsharkAvailable = (() => {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('tls tables', () => {
  it('GREASE values per RFC 8701', () => {
    expect(GREASE_VALUES.map((v) => v.toString(16))).to.deep.equal(['a0a', '1a1a', '2a2a', '3a3a', '4a4a', '5a5a', '6a6a', '7a7a', '8a8a', '9a9a', 'aaaa', 'baba', 'caca', 'dada', 'eaea', 'fafa']);
    let n = 0;
    for (let v = 0; v < 0x10000; v++) if (isGrease(v)) n++;
    expect(n).to.equal(16);
    expect(extensionName(0)).to.equal('server_name');
    expect(extensionName(0xfe0d)).to.equal('encrypted_client_hello');
    expect(extensionName(0x2a2a)).to.equal('grease');
    expect(extensionName(0x1234)).to.equal('unknown_0x1234');
  });
});

describe('decodeTlsRecordHeader', () => {
  it('reads type, version, length', () => {
    expect(decodeTlsRecordHeader(new Uint8Array([0x16, 3, 1, 0x02, 0x00]), 0)).to.deep.equal({ value: { contentType: 22, version: 0x0301, length: 512 }, bytes: 5 });
  });
  it('rejects non-TLS and truncated headers by reason', () => {
    const reason = (b: number[]): string => {
      try {
        decodeTlsRecordHeader(new Uint8Array(b), 0);
        return 'ok';
      } catch (e) {
        return (e as DecodeError).reason;
      }
    };
    expect(reason([0x16, 3, 1, 0])).to.equal('tls.truncated_record');
    expect(reason([0x47, 0x45, 0x54, 0x20, 0x2f])).to.equal('tls.bad_record_type');
    expect(reason([0x16, 2, 0, 0, 5])).to.equal('tls.bad_record_version');
    expect(reason([0x16, 3, 3, 0xff, 0xff])).to.equal('tls.bad_record_length');
    expect(reason([0x16, 3, 3, 0, 0])).to.equal('tls.bad_record_length');
  });
});

describe('ClientHellos from real clients (test/fixtures/captures/tls)', () => {
  for (const { row, hs, complete } of realHellos) {
    const expectation = told.get(row.capture.replace(/\.pcap$/, ''))!;
    it(`${row.capture} port ${row.client_port}: SNI/ALPN as the client was told, JA4 as computed from tshark's dissection`, () => {
      expect(complete).to.equal(true);
      const { value: ch, bytes: n } = decodeClientHello(hs, 0);
      expect(n).to.equal(hs.length);
      const info = clientHelloInfo(ch, 'tcp');
      expect(info.serverName ?? '-').to.equal(expectation.sni);
      expect(info.alpn.join(',') || '-').to.equal(expectation.alpn);
      expect(info.ja4).to.equal(row.ja4);
      expect(info.complete).to.equal(true);
      expect(info.ech).to.equal(ch.extensions.some((e) => e.type === 0xfe0d));
      expect(info.supportedVersions[0]).to.equal(row.ja4.startsWith('t13') ? 0x0304 : 0x0303);
    });
  }

  (tsharkAvailable ? it : it.skip)('tshark reads the same SNI, cipher suites and extension types', () => {
    for (const { row, hs } of realHellos) {
      const out = execFileSync('tshark', ['-r', `${TLS_DIR}/${row.capture}`, '-Y', `tls.handshake.type==1 && tcp.srcport==${row.client_port}`, '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,', '-e', 'tls.handshake.extensions_server_name', '-e', 'tls.handshake.ciphersuite', '-e', 'tls.handshake.extension.type'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const [sni, cs, ext] = out.split('|');
      const ch = decodeClientHello(hs, 0).value;
      expect(ch.serverName ?? '', row.capture).to.equal(sni);
      expect(ch.cipherSuites.map((c) => `0x${c.toString(16).padStart(4, '0')}`).join(','), row.capture).to.equal(cs);
      expect(ch.extensions.map((e) => e.type).join(','), row.capture).to.equal(ext);
    }
  });
});

describe('assembleHandshake', () => {
  const hs = buildClientHello({ ciphers: [0x1301, 0x1302], extensions: [sniExt('chatgpt.com'), alpnExt(['h2'])] });
  it('one record: a view, complete', () => {
    const a = assembleHandshake(toRecords(hs));
    expect(a.complete).to.equal(true);
    expect(a.error).to.equal(null);
    expect(Buffer.from(a.data).equals(Buffer.from(hs))).to.equal(true);
  });
  it('spread over many records (1-byte records too) gives the same message', () => {
    for (const sizes of [[1], [1, 1, 1, 1, 1], [3], [4], [10, 20], [hs.length - 1]]) {
      const stream = toRecords(hs, sizes);
      const a = assembleHandshake(stream);
      expect(a.complete, String(sizes)).to.equal(true);
      expect(Buffer.from(a.data).equals(Buffer.from(hs))).to.equal(true);
      // every prefix: never complete, never an error, data is a prefix of the message
      for (let cut = 0; cut < stream.length; cut++) {
        const p = assembleHandshake(stream.subarray(0, cut));
        expect(p.complete).to.equal(false);
        expect(p.error).to.equal(null);
        expect(Buffer.from(hs.subarray(0, p.data.length)).equals(Buffer.from(p.data))).to.equal(true);
      }
    }
  });
  it('ignores what follows the message (e.g. a ChangeCipherSpec record)', () => {
    const a = assembleHandshake(bytes(toRecords(hs), [0x14, 3, 3, 0, 1, 1]));
    expect(a.complete).to.equal(true);
    expect(a.data.length).to.equal(hs.length);
  });
  it('reports why it stopped', () => {
    expect(assembleHandshake(bytes(toRecords(hs, [10]).subarray(0, 15), [0x17, 3, 3, 0, 1, 0])).error).to.equal('tls.unexpected_record');
    expect(assembleHandshake(toRecords(new Uint8Array([2, 0, 0, 1, 0]))).error).to.equal('tls.not_client_hello');
    expect(assembleHandshake(toRecords(new Uint8Array([1, 0x01, 0, 0, 0]))).error).to.equal('tls.hello_too_large');
  });
});

describe('decodeClientHello', () => {
  it('reads every field', () => {
    const hs = buildClientHello({
      ciphers: [0x0a0a, 0x1301, 0xc02b],
      extensions: [opaqueExt(0x2a2a), sniExt('api.openai.com'), alpnExt(['h2', 'http/1.1']), supportedVersionsExt([0x3a3a, 0x0304, 0x0303]), sigAlgsExt([0x0403, 0x0804]), opaqueExt(0xfe0d, 40)],
    });
    const { value: ch, bytes: n } = decodeClientHello(bytes([9, 9], hs), 2);
    expect(n).to.equal(hs.length);
    expect(ch.legacyVersion).to.equal(0x0303);
    expect(ch.random.length).to.equal(32);
    expect(ch.sessionId.length).to.equal(32);
    expect(ch.cipherSuites).to.deep.equal([0x0a0a, 0x1301, 0xc02b]);
    expect(Array.from(ch.compressionMethods)).to.deep.equal([0]);
    expect(ch.extensions.map((e) => e.type)).to.deep.equal([0x2a2a, 0, 0x10, 0x2b, 0x0d, 0xfe0d]);
    expect(ch.serverName).to.equal('api.openai.com');
    expect(ch.serverNameMalformed).to.equal(false);
    expect(ch.alpn).to.deep.equal(['h2', 'http/1.1']);
    expect(ch.supportedVersions).to.deep.equal([0x3a3a, 0x0304, 0x0303]);
    expect(ch.signatureAlgorithms).to.deep.equal([0x0403, 0x0804]);
    expect(ch.ech).to.equal(true);
    const info = clientHelloInfo(ch, 'quic');
    expect(info.supportedVersions).to.deep.equal([0x0304, 0x0303]);
    expect(info.ja4!.startsWith('q13d0205h2_')).to.equal(true);
  });

  it('an SNI with an embedded NUL or non-printable bytes is kept raw and flagged', () => {
    for (const raw of [[...Buffer.from('chatgpt.com'), 0, ...Buffer.from('.evil.example')], [0x63, 0x01, 0x7f, 0xff, 0x20, 0x2e, 0x61]]) {
      const ch = decodeClientHello(buildClientHello({ ciphers: [0x1301], extensions: [sniExt(new Uint8Array(raw))] }), 0).value;
      expect(ch.serverName).to.equal(Buffer.from(raw).toString('latin1'));
      expect(ch.serverName!.length).to.equal(raw.length);
      expect(ch.serverNameMalformed).to.equal(true);
      expect(clientHelloInfo(ch, 'tcp').serverNameMalformed).to.equal(true);
      expect(JSON.parse(JSON.stringify(clientHelloInfo(ch, 'tcp'))).serverName).to.equal(ch.serverName);
    }
    const ok = clientHelloInfo(decodeClientHello(buildClientHello({ ciphers: [0x1301], extensions: [sniExt('_dmarc.x-y.example.')] }), 0).value, 'tcp');
    expect(ok.serverNameMalformed).to.equal(undefined);
  });

  it('a hello without an extensions block (old clients) has no SNI and legacy version', () => {
    const ch = decodeClientHello(buildClientHello({ legacyVersion: 0x0301, ciphers: [0x002f], noExtensionBlock: true }), 0).value;
    expect(ch.extensions).to.deep.equal([]);
    const info = clientHelloInfo(ch, 'tcp');
    expect(info.serverName).to.equal(null);
    expect(info.supportedVersions).to.deep.equal([0x0301]);
  });

  it('inconsistent lengths throw DecodeError by reason', () => {
    const reason = (b: Uint8Array): string => {
      try {
        decodeClientHello(b, 0);
        return 'ok';
      } catch (e) {
        return (e as DecodeError).reason;
      }
    };
    const good = buildClientHello({ ciphers: [0x1301], extensions: [sniExt('a.io')] });
    expect(reason(good)).to.equal('ok');
    expect(reason(good.subarray(0, good.length - 1))).to.equal('tls.truncated_hello');
    expect(reason(bytes([2], good.subarray(1)))).to.equal('tls.not_client_hello');
    const badSni = buildClientHello({ ciphers: [0x1301], extensions: [{ type: 0, data: new Uint8Array([0, 9, 0, 0, 1, 0x61]) }] });
    expect(reason(badSni)).to.equal('tls.bad_server_name');
    const badAlpn = buildClientHello({ ciphers: [0x1301], extensions: [{ type: 0x10, data: new Uint8Array([0, 2, 5, 0x61]) }] });
    expect(reason(badAlpn)).to.equal('tls.bad_alpn');
    const oddCiphers = buildClientHello({ ciphers: [0x1301] });
    oddCiphers[4 + 2 + 32 + 1 + 32 + 1] = 3;
    expect(reason(oddCiphers)).to.equal('tls.bad_cipher_suites');
  });
});

describe('partialClientHelloInfo', () => {
  it('every prefix of a real hello yields no SNI or the right SNI, never a wrong one; the whole SNI extension suffices', () => {
    for (const { row, hs } of realHellos) {
      const full = decodeClientHello(hs, 0).value;
      const sniExt = full.extensions.find((e) => e.type === 0);
      const sniEnd = sniExt ? sniExt.data.byteOffset - hs.byteOffset + sniExt.data.length : -1;
      for (let cut = 0; cut <= hs.length; cut++) {
        const info = partialClientHelloInfo(hs.subarray(0, cut));
        if (cut === 0) {
          expect(info).to.equal(null);
          continue;
        }
        expect(info, `${row.capture} cut ${cut}`).to.not.equal(null);
        expect(info!.complete).to.equal(false);
        expect(info!.ja4).to.equal(null);
        if (sniEnd >= 0 && cut >= sniEnd) expect(info!.serverName, `${row.capture} cut ${cut}`).to.equal(full.serverName);
        else expect(info!.serverName).to.equal(null);
        if (info!.alpn.length > 0) expect(info!.alpn).to.deep.equal(full.alpn);
      }
    }
  });
  it('returns null for bytes that are not a ClientHello', () => {
    expect(partialClientHelloInfo(new Uint8Array([2, 0, 0, 10]))).to.equal(null);
    expect(partialClientHelloInfo(new Uint8Array(0))).to.equal(null);
  });
});

describe('findServerNameInFragment', () => {
  it('finds the SNI in any slice from the middle of a real hello that holds the whole extension', () => {
    for (const { row, hs } of realHellos) {
      const full = decodeClientHello(hs, 0).value;
      const ext = full.extensions.find((e) => e.type === 0);
      if (!ext) {
        expect(findServerNameInFragment(hs.subarray(20)), row.capture).to.equal(null);
        continue;
      }
      const extStart = ext.data.byteOffset - hs.byteOffset - 4;
      const extEnd = extStart + 4 + ext.data.length;
      for (const [a, b] of [[extStart, extEnd], [Math.max(0, extStart - 100), Math.min(hs.length, extEnd + 100)], [50, hs.length]]) {
        expect(findServerNameInFragment(hs.subarray(a, b)), `${row.capture} ${a}-${b}`).to.equal(full.serverName);
      }
      expect(findServerNameInFragment(hs.subarray(extStart + 1, hs.length))).to.not.equal(full.serverName);
      expect(findServerNameInFragment(hs.subarray(0, extEnd - 1))).to.not.equal(full.serverName);
    }
  });
  it('rejects look-alikes whose lengths or characters do not hold together', () => {
    const ext = (name: number[], extDelta = 0, listDelta = 0): Uint8Array =>
      new Uint8Array([0, 0, 0, name.length + 5 + extDelta, 0, name.length + 3 + listDelta, 0, 0, name.length, ...name]);
    const n = [...Buffer.from('claude.ai')];
    expect(findServerNameInFragment(ext(n))).to.equal('claude.ai');
    expect(findServerNameInFragment(ext(n, 1))).to.equal(null);
    expect(findServerNameInFragment(ext(n, 0, 1))).to.equal(null);
    expect(findServerNameInFragment(ext([...Buffer.from('claude'), 0, ...Buffer.from('ai')]))).to.equal(null);
    expect(findServerNameInFragment(ext([...Buffer.from('localhost')]))).to.equal(null);
    expect(findServerNameInFragment(ext([...Buffer.from('a..b.com')]))).to.equal(null);
  });
});

describe('TLS decoders never throw anything but DecodeError (fast-check)', () => {
  const seeds = realHellos.map((h) => h.hs);
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(8), (b, off) => {
        expectOnlyDecodeError(() => decodeClientHello(b, Math.min(off, b.length)));
        expectOnlyDecodeError(() => decodeTlsRecordHeader(b, Math.min(off, b.length)));
        expectOnlyDecodeError(() => decodeClientHello(bytes([1, 0, (b.length >> 8) & 0xff, b.length & 0xff], b), 0));
        assembleHandshake(b);
        partialClientHelloInfo(bytes([1], b));
        const f = findServerNameInFragment(b);
        if (f !== null) expect(f).to.match(/^[A-Za-z0-9._-]+$/);
      }),
      { numRuns: 2000 },
    );
  });
  it('truncated and bit-flipped real hellos', () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }), fc.nat(), (hs, flips, cut) => {
        const m = hs.slice(0, hs.length - (cut % Math.min(hs.length, 64)));
        for (const [at, x] of flips) m[at % m.length] ^= x;
        expectOnlyDecodeError(() => decodeClientHello(m, 0));
        const p = partialClientHelloInfo(m);
        if (p && p.serverName !== null) expect(typeof p.serverName).to.equal('string');
        assembleHandshake(toRecords(m, [100]));
      }),
      { numRuns: 3000 },
    );
  });
  it('absurd length fields', () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.nat(), fc.constantFrom(0x00, 0xff, 0x7f, 0x80), (hs, at, v) => {
        const m = hs.slice();
        const i = at % (m.length - 1);
        m[i] = v;
        m[i + 1] = v;
        expectOnlyDecodeError(() => decodeClientHello(m, 0));
        partialClientHelloInfo(m);
      }),
      { numRuns: 3000 },
    );
  });
});
