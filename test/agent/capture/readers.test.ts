// The TypeScript reader against tshark's view of every format fixture, and against
// libpcap (the npm `pcap` package) on every fixture capture of the repository.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { fixture } from '../../helpers/root.js';
import { Counters } from '../../../agent/stats.js';
import type { CapturedPacket } from '../../../agent/packet.js';
import { readCapture, readCaptures } from '../../../agent/capture/reader.js';
import { readCaptureLibpcap, readCapturesLibpcap } from '../../../agent/capture/libpcap-reader.js';
import { EXPECTED, allCaptures, type ExpectedPacket } from './fixtures.js';

interface Got {
  tsSec: number;
  tsNsec: number;
  linkType: number;
  data: Buffer;
  origLen: number;
  interfaceId: number;
}

type Reader = (path: string, on: (p: CapturedPacket) => void, c: Counters) => Promise<unknown>;
type MultiReader = (paths: string[], on: (p: CapturedPacket) => void, c: Counters) => Promise<unknown>;

async function collect(read: Reader, path: string, counters = new Counters()): Promise<Got[]> {
  return collectMany((paths, on, c) => read(paths[0], on, c), [path], counters);
}

async function collectMany(read: MultiReader, paths: string[], counters = new Counters()): Promise<Got[]> {
  const out: Got[] = [];
  await read(paths, (p: CapturedPacket) => out.push({ ...p, data: Buffer.from(p.data) }), counters);
  return out;
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
/** DLT_RAW as written by some systems and LINKTYPE_RAW are one link type (libpcap reports DLT_RAW). */
const normLink = (lt: number): number => (lt === 12 || lt === 14 ? 101 : lt);

describe('capture readers', () => {
  describe('TypeScript reader = tshark on the format fixtures', () => {
    for (const [name, exp] of Object.entries(EXPECTED)) {
      it(`${name}: ${exp.packets.length} packets, timestamps, lengths, interfaces, link types, bytes`, async () => {
        const counters = new Counters();
        const got = await collect(readCapture, fixture('captures', 'format', name), counters);
        expect(got.length, 'packet count').to.equal(exp.packets.length);
        if (exp.capinfosPackets !== null) expect(got.length, 'capinfos count').to.equal(exp.capinfosPackets);
        const mine: ExpectedPacket[] = got.map((p) => [p.tsSec, p.tsNsec, p.data.length, p.origLen, p.interfaceId, md5(p.data), p.linkType]);
        expect(mine).to.deep.equal(exp.packets);
        if (exp.first) expect([got[0].tsSec, got[0].tsNsec]).to.deep.equal(exp.first);
        if (exp.last) expect([got[got.length - 1].tsSec, got[got.length - 1].tsNsec]).to.deep.equal(exp.last);
        if (name === 'truncated-tail.pcap') expect(counters.get('capture.truncated_record')).to.equal(1);
        else expect(counters.toJSON()).to.deep.equal({});
      });
    }
  });

  describe('TypeScript reader = libpcap on every fixture capture', () => {
    for (const rel of allCaptures()) {
      const name = rel.split('/').pop()!;
      const exp = rel.startsWith('captures/format/') ? EXPECTED[name] : undefined;
      it(rel, async () => {
        const path = fixture(rel);
        const ts = await collect(readCapture, path);
        const lp = await collect(readCaptureLibpcap, path);
        if (exp && !exp.libpcapReads) {
          // libpcap stops (see libpcap-reader.ts); what it reads must be our first packets
          expect(lp.length, exp.libpcapMessage).to.equal(exp.libpcapPackets);
        } else {
          expect(lp.length).to.equal(ts.length);
        }
        expect(ts.length).to.be.at.least(lp.length);
        for (let i = 0; i < lp.length; i++) {
          const a = ts[i];
          const b = lp[i];
          const where = `packet ${i + 1}`;
          expect(a.tsSec, where).to.equal(b.tsSec);
          expect(Math.floor(a.tsNsec / 1000) * 1000, where).to.equal(b.tsNsec);
          expect(normLink(a.linkType), where).to.equal(normLink(b.linkType));
          expect(a.origLen, where).to.equal(b.origLen);
          expect(a.data.equals(b.data), where).to.equal(true);
        }
      });
    }
  });

  describe('several files merged in timestamp order', () => {
    const files = ['eth.pcap', 'raw.pcap', 'vlan-8021q.pcap', 'frag-ipv6.pcap'].map((f) => fixture('captures', 'format', f));

    it('yields every packet once, in timestamp order, each file in its own order', async () => {
      const perFile = await Promise.all(files.map((f) => collect(readCapture, f)));
      const notBefore = (a: Got, b: Got): boolean => a.tsSec < b.tsSec || (a.tsSec === b.tsSec && a.tsNsec <= b.tsNsec);
      for (const list of perFile) for (let i = 1; i < list.length; i++) expect(notBefore(list[i - 1], list[i]), 'input monotonic').to.equal(true);
      const merged = await collectMany(readCaptures, files);
      expect(merged.length).to.equal(perFile.reduce((n, l) => n + l.length, 0));
      for (let i = 1; i < merged.length; i++) {
        const a = merged[i - 1];
        const b = merged[i];
        expect(notBefore(a, b), `order at ${i}`).to.equal(true);
      }
      // each file's packets appear as a subsequence in the file's order
      for (const list of perFile) {
        let j = 0;
        for (const p of merged) if (j < list.length && p.data.equals(list[j].data) && p.tsSec === list[j].tsSec && p.tsNsec === list[j].tsNsec) j++;
        expect(j).to.equal(list.length);
      }
    });

    it('keeps a file\'s own order when its timestamps go backwards (SPBs have none)', async () => {
      const sections = fixture('captures', 'format', 'sections.pcapng');
      const alone = await collect(readCapture, sections);
      const merged = await collectMany(readCaptures, [sections, files[0]]);
      expect(merged.filter((p) => alone.some((q) => q.data.equals(p.data) && q.tsSec === p.tsSec)).map((p) => p.tsSec)).to.deep.equal(alone.map((p) => p.tsSec));
      expect(alone.filter((p) => p.tsSec === 0).length).to.be.greaterThan(0);
    });

    it('is the same merge libpcap gives (µs)', async () => {
      const libpcapable = files.slice(0, 3);
      const ts = await collectMany(readCaptures, libpcapable);
      const lp = await collectMany(readCapturesLibpcap, libpcapable);
      expect(ts.map((p) => [p.tsSec, Math.floor(p.tsNsec / 1000), md5(p.data)])).to.deep.equal(lp.map((p) => [p.tsSec, p.tsNsec / 1000, md5(p.data)]));
    });
  });
});
