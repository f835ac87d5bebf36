// Real client captures (test/fixtures/captures/quic, see its README): what the
// QuicInitialTable reports must be what each client was told, and where tshark
// can read the ClientHello, the SNI and JA4 it dissected (EXPECTED.tsv).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { CryptoStream, QuicInitialTable } from '../../../agent/flow/quic-initials.js';
import { cryptoFrame, protectInitial, udp } from './quic-build.js';
import { Counters } from '../../../agent/stats.js';
import type { Observation } from '../../../agent/observation.js';
import { decodeQuicInitial } from '../../../agent/decode/quic-initial.js';
import { cryptoFrames, decodeInitialFrames } from '../../../agent/decode/quic-frames.js';
import { readPcapL4 } from '../../helpers/pcap-l4.js';
import { fixture } from '../../helpers/root.js';

const DIR = fixture('captures', 'quic');
const rows = readFileSync(`${DIR}/EXPECTED.tsv`, 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#') && !l.startsWith('capture\t'))
  .map((l) => {
    const [capture, port, version, sni, complete, ja4] = l.split('\t');
    return { capture: capture!, port: Number(port), version: parseInt(version!, 16), sni: sni!, complete: complete === 'true', ja4: ja4 === '-' ? null : ja4! };
  });
const captures = [...new Set(rows.map((r) => r.capture))];

function run(capture: string): { out: Array<Extract<Observation, { action: 'quic-initial' }>>; counters: Counters; emittedAt: number[] } {
  const counters = new Counters();
  const out: Array<Extract<Observation, { action: 'quic-initial' }>> = [];
  const t = new QuicInitialTable(counters, (o) => {
    if (o.action === 'quic-initial') out.push(o);
  });
  const emittedAt: number[] = [];
  readPcapL4(`${DIR}/${capture}`).forEach((p, i) => {
    const n = out.length;
    t.onDatagram(p);
    if (out.length > n) emittedAt.push(i);
  });
  t.flush();
  return { out, counters, emittedAt };
}

function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('quic captures: real clients', () => {
  it('EXPECTED.tsv covers the five captures', () => {
    expect(captures).to.have.members(['ngtcp2-v1-handshake.pcap', 'chromium-v1-split.pcap', 'chromium-v2-split.pcap', 'chromium-v1-gap-icmp.pcap', 'chromium-v1-dropped.pcap']);
  });

  for (const capture of captures) {
    it(`${capture}: one observation per client connection, with the name, version and JA4 expected`, () => {
      const { out } = run(capture);
      const want = rows.filter((r) => r.capture === capture);
      expect(out.map((o) => o.at.srcPort).sort()).to.deep.equal(want.map((r) => r.port).sort());
      for (const r of want) {
        const o = out.find((x) => x.at.srcPort === r.port)!;
        expect(o.quicVersion, `${r.port}`).to.equal(r.version);
        expect(o.at).to.include({ srcIp: '10.77.0.1', dstIp: '10.77.0.2', dstPort: 443, transport: 'udp' });
        expect(o.hello?.serverName, `${r.port}`).to.equal(r.sni);
        expect(o.hello?.complete, `${r.port}`).to.equal(r.complete);
        expect(o.hello?.ja4 ?? null, `${r.port}`).to.equal(r.ja4);
        if (r.complete) expect(o.hello?.alpn).to.deep.equal(['h3']);
      }
    });
  }

  it('chromium-v1-split: the ClientHello spans two Initials with CRYPTO frames out of order; reported once, after the second', () => {
    const packets = readPcapL4(`${DIR}/chromium-v1-split.pcap`);
    const clientInitials = packets
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => p.dstPort === 443 && p.payload.length >= 1200 && (p.payload[0]! & 0xf0) === 0xc0);
    const offsets = clientInitials.slice(0, 2).map(({ p }) => cryptoFrames(decodeQuicInitial(p.payload, 0).value.payload, 0).map((c) => c.offset));
    expect(offsets[0]!.length + offsets[1]!.length).to.be.greaterThan(4);
    const all = [...offsets[0]!, ...offsets[1]!];
    expect(all).to.not.deep.equal([...all].sort((a, b) => a - b)); // shuffled
    const { emittedAt, counters } = run('chromium-v1-split.pcap');
    expect(emittedAt).to.deep.equal([clientInitials[1]!.i]);
    expect(counters.get('quic.server_initial')).to.be.greaterThan(0); // the server's Initials are told apart, not decrypted
    expect(counters.get('quic.undecryptable')).to.equal(0);
  });

  it('chromium-v1-gap-icmp: one Initial per connection, the SNI found after the CRYPTO gap', () => {
    const { counters } = run('chromium-v1-gap-icmp.pcap');
    expect(counters.get('quic.initial')).to.equal(3);
    expect(counters.get('quic.hello_partial_named_after_gap')).to.equal(3);
    expect(counters.get('quic.undecryptable')).to.equal(0);
  });

  it('chromium-v1-dropped: retransmissions cut at new, overlapping offsets; any covering subset, in any order, gives the same hello', () => {
    const want = rows.find((r) => r.capture === 'chromium-v1-dropped.pcap')!;
    const initials = readPcapL4(`${DIR}/chromium-v1-dropped.pcap`).filter((p) => p.dstPort === 443);
    const cuts = initials.map((p) => cryptoFrames(decodeQuicInitial(p.payload, 0).value.payload, 0).map((c) => `${c.offset}+${c.data.length}`).sort().join());
    expect(new Set(cuts.filter((c) => c)).size).to.equal(5); // every (re)transmission cuts the stream differently
    const lastIsClose = decodeInitialFrames(decodeQuicInitial(initials[initials.length - 1]!.payload, 0).value.payload, 0).value.some((f) => f.type === 'connection-close');
    expect(lastIsClose).to.equal(true);
    const covering: number[][] = [];
    const n = initials.length;
    for (let mask = 1; mask < 1 << n; mask++) {
      const pick = [...Array(n).keys()].filter((i) => mask & (1 << i));
      const counters = new Counters();
      const out: Observation[] = [];
      const t = new QuicInitialTable(counters, (o) => out.push(o));
      // reversed order as well as capture order
      for (const i of mask % 2 ? pick : [...pick].reverse()) t.onDatagram(initials[i]!);
      t.flush();
      const o = out[0];
      if (o?.action !== 'quic-initial') throw new Error('no observation');
      if (o.hello?.complete) {
        covering.push(pick);
        expect(o.hello.serverName).to.equal(want.sni);
        expect(o.hello.ja4).to.equal(want.ja4);
      } else expect([want.sni, null]).to.include(o.hello?.serverName ?? null); // a partial hello never names anything else
    }
    // e.g. {pn 1, pn 6}, {pn 4, pn 6}, {pn 2, pn 8}: halves from different transmissions
    expect(covering.some((c) => c.length === 2 && !(c[0] === 0 && c[1] === 1))).to.equal(true);
  });

  it('chromium-v2-split: the server\'s Version Negotiation packets are counted, not taken', () => {
    const { counters } = run('chromium-v2-split.pcap');
    expect(counters.get('quic.version_negotiation')).to.be.greaterThan(0);
    expect(counters.get('quic.hello_complete')).to.equal(2);
  });

  it('property: Chromium\'s real ClientHello (claude.ai), CRYPTO frames split anywhere, duplicated and shuffled over any number of Initials → tshark\'s SNI and JA4', () => {
    const want = rows.find((r) => r.capture === 'chromium-v1-split.pcap')!;
    const initials = readPcapL4(`${DIR}/chromium-v1-split.pcap`).filter((p) => p.dstPort === 443 && p.payload.length >= 1200 && (p.payload[0]! & 0xf0) === 0xc0);
    const stream = new CryptoStream();
    for (const p of initials.slice(0, 2)) for (const c of cryptoFrames(decodeQuicInitial(p.payload, 0).value.payload, 0)) stream.add(c.offset, c.data);
    const ch = Buffer.from(stream.prefix());
    expect(ch.length).to.equal(4 + ch.readUIntBE(1, 3)); // whole ClientHello
    const dcid = Buffer.from('00112233445566778899', 'hex');
    fc.assert(
      fc.property(
        fc.array(fc.nat(ch.length), { maxLength: 25 }),
        fc.array(fc.tuple(fc.nat(ch.length - 1), fc.integer({ min: 1, max: 400 })), { maxLength: 4 }),
        fc.infiniteStream(fc.nat()),
        fc.integer({ min: 300, max: 1100 }),
        (cuts, dups, rnd, perPacket) => {
          const points = [0, ...[...new Set(cuts)].filter((c) => c > 0 && c < ch.length).sort((a, b) => a - b), ch.length];
          const chunks: Array<[number, number]> = [];
          for (let i = 0; i + 1 < points.length; i++) {
            // a frame never larger than a packet holds
            for (let a = points[i]!; a < points[i + 1]!; a += 1000) chunks.push([a, Math.min(points[i + 1]!, a + 1000)]);
          }
          for (const [a, l] of dups) chunks.push([a, Math.min(ch.length, a + l)]);
          const it = rnd[Symbol.iterator]();
          for (let i = chunks.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1);
            [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
          }
          const out: Observation[] = [];
          const t = new QuicInitialTable(new Counters(), (o) => out.push(o));
          let frames: Buffer[] = [];
          let size = 0;
          let pn = 0;
          const send = () => {
            if (frames.length) t.onDatagram(udp(protectInitial(Buffer.concat(frames), { dcid, pn: pn++ })));
            frames = [];
            size = 0;
          };
          for (const [a, b] of chunks) {
            const f = cryptoFrame(a, ch.subarray(a, b));
            if (size + f.length > Math.max(perPacket, f.length)) send();
            frames.push(f);
            size += f.length;
          }
          send();
          t.flush();
          expect(out).to.have.length(1);
          const o = out[0]!;
          if (o.action !== 'quic-initial') throw new Error('not quic');
          expect(o.hello?.serverName).to.equal(want.sni);
          expect(o.hello?.ja4).to.equal(want.ja4);
        },
      ),
      { numRuns: 150 },
    );
  });

  (tsharkAvailable() ? it : it.skip)('cross-check: the SNIs tshark dissects equal ours (complete ClientHellos)', () => {
    for (const capture of captures.filter((c) => !c.includes('gap'))) {
      const text = execFileSync('tshark', ['-r', `${DIR}/${capture}`, '-Y', 'tls.handshake.type==1', '-T', 'fields', '-e', 'udp.srcport', '-e', 'tls.handshake.extensions_server_name'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const theirs = text.trim().split('\n').map((l) => l.split('\t').join(' ')).sort();
      const ours = run(capture).out.map((o) => `${o.at.srcPort} ${o.hello?.serverName}`).sort();
      expect(ours, capture).to.deep.equal(theirs);
    }
  });
});
