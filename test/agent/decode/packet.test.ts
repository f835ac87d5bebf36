// PacketDecoder on every format fixture against the UDP/TCP packets tshark decodes
// there (addresses, ports, payload length, TCP sequence/ack/flags; tshark
// reassembles IP fragments too), and on mangled copies of every packet.
import { expect } from 'chai';
import fc from 'fast-check';
import { fixture } from '../../helpers/root.js';
import { Counters } from '../../../agent/stats.js';
import type { CapturedPacket, L4Packet } from '../../../agent/packet.js';
import { readCapture } from '../../../agent/capture/reader.js';
import { PacketDecoder } from '../../../agent/decode/packet.js';
import { formatIp } from '../../../agent/decode/ip-address.js';
import { EXPECTED, allCaptures, type ExpectedL4 } from '../capture/fixtures.js';

function summarize(frame: number, l4: L4Packet): ExpectedL4 {
  return {
    frame, src: formatIp(l4.src), dst: formatIp(l4.dst), transport: l4.transport, srcPort: l4.srcPort, dstPort: l4.dstPort,
    payloadLength: l4.payload.length, seq: l4.seq, ack: l4.ack, flags: l4.flags,
  };
}

async function packets(path: string): Promise<CapturedPacket[]> {
  const out: CapturedPacket[] = [];
  await readCapture(path, (p) => out.push({ ...p, data: p.data.slice() }), new Counters());
  return out;
}

describe('PacketDecoder', () => {
  describe('= tshark on the format fixtures', () => {
    for (const [name, exp] of Object.entries(EXPECTED)) {
      it(`${name}: ${exp.l4.length} UDP/TCP packets`, async () => {
        const counters = new Counters();
        const warnings: string[] = [];
        const dec = new PacketDecoder(counters, { onWarning: (m) => warnings.push(m) });
        const got: ExpectedL4[] = [];
        let frame = 0;
        await readCapture(fixture('captures', 'format', name), (p) => {
          frame++;
          const l4 = dec.decode(p);
          if (l4) got.push(summarize(frame, l4));
        }, counters);
        expect(got).to.deep.equal(exp.l4);
        if (name === 'unknown-linktype.pcap') {
          expect(counters.get('link.unknown_type')).to.equal(exp.packets.length);
          expect(warnings).to.have.length(1);
          expect(warnings[0]).to.match(/link type 147/);
        } else expect(warnings).to.deep.equal([]);
      });
    }

    it('reassembles the fragmented UDP datagrams (4000 bytes over IPv4 and IPv6, 3000 behind IPv6 extension headers)', async () => {
      const sizes: number[] = [];
      for (const f of ['frag-ipv4.pcap', 'frag-ipv6.pcap', 'ipv6-ext.pcap']) {
        const dec = new PacketDecoder(new Counters());
        for (const p of await packets(fixture('captures', 'format', f))) {
          const l4 = dec.decode(p);
          if (l4 && l4.transport === 'udp') sizes.push(l4.payload.length);
        }
      }
      expect(sizes).to.deep.equal([4000, 4000, 22, 3000]);
    });

    it('buffers only fragments of UDP/TCP datagrams (the ICMP echo fragments of ping -s 4000 are counted, not kept)', async () => {
      for (const f of ['frag-ipv4.pcap', 'frag-ipv6.pcap']) {
        const c = new Counters();
        const dec = new PacketDecoder(c);
        for (const p of await packets(fixture('captures', 'format', f))) dec.decode(p);
        expect(c.get(f === 'frag-ipv4.pcap' ? 'ipv4.other_protocol' : 'ipv6.other_protocol'), f).to.equal(12);
        expect(dec.fragments.size).to.equal(0);
        expect(dec.fragments.bufferedBytes).to.equal(0);
      }
    });
  });

  describe('hostile input', () => {
    let all: CapturedPacket[] = [];
    before(async () => {
      all = [];
      for (const rel of allCaptures()) all.push(...(await packets(fixture(rel))));
    });

    it('truncated, bit-flipped and length-mangled copies of every fixture packet never throw', () => {
      fc.assert(
        fc.property(fc.nat(), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('cut', 'flip', 'len', 'junk'), (pi, at, cut, byte, how) => {
          const p = all[pi % all.length];
          let data = p.data.slice();
          if (how === 'cut') data = data.subarray(0, cut % (data.length + 1));
          else if (data.length > 0) {
            const i = at % data.length;
            if (how === 'flip') data[i] ^= 1 << (byte & 7);
            else if (how === 'len') { data[i] = 0xff; if (i + 1 < data.length) data[i + 1] = byte; }
            else data[i] = byte;
          }
          const dec = new PacketDecoder(new Counters());
          const l4 = dec.decode({ ...p, data });
          if (l4) expect(l4.payload.length).to.be.at.most(65535);
        }),
        { numRuns: 20000 },
      );
    });

    it('random bytes under every link type never throw', () => {
      fc.assert(
        fc.property(fc.constantFrom(0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147), fc.uint8Array({ maxLength: 200 }), (linkType, data) => {
          new PacketDecoder(new Counters()).decode({ tsSec: 0, tsNsec: 0, linkType, data, origLen: data.length, interfaceId: 0 });
        }),
        { numRuns: 20000 },
      );
    });
  });
});
