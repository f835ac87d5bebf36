// TCP/UDP checksum verdicts against tshark's own verification (checksum checks
// switched on), packet by packet, on every fixture; and any flipped byte of a
// good segment is caught.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import fc from 'fast-check';
import { readCapture } from '../../../agent/capture/read-captures.js';
import { PacketDecoder } from '../../../agent/decode/packet.js';
import { checkL4 } from '../../../agent/decode/checksum.js';
import { Counters } from '../../../agent/stats.js';
import type { L4Packet } from '../../../agent/packet.js';
import { captureFiles } from '../../helpers/captures.js';

const HAVE_TSHARK = spawnSync('tshark', ['--version']).status === 0;

async function l4Packets(file: string): Promise<(L4Packet | null)[]> {
  const dec = new PacketDecoder(new Counters());
  const out: (L4Packet | null)[] = [];
  await readCapture(file, (p) => {
    const l4 = dec.decode(p);
    // copy what the verdict reads: the capture buffer is reused after the callback
    out.push(l4 && l4.raw ? { ...l4, src: l4.src.slice(), dst: l4.dst.slice(), raw: l4.raw.slice() } : null);
  }, new Counters());
  return out;
}

describe('TCP/UDP checksums', () => {
  describe('agree with tshark (tcp/udp.check_checksum on)', function () {
    before(function () {
      if (!HAVE_TSHARK) this.skip();
    });
    for (const file of captureFiles()) {
      if (/frag|truncated-tail|unknown-linktype/.test(basename(file))) continue;
      it(basename(file), async () => {
        const r = spawnSync('tshark', ['-r', file, '-n', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
          '-T', 'fields', '-E', 'separator=\t', '-e', 'tcp.checksum.status', '-e', 'udp.checksum.status'], { encoding: 'utf8' });
        const rows = r.stdout.split('\n').slice(0, -1);
        const ours = await l4Packets(file);
        expect(ours.length).to.equal(rows.length);
        let compared = 0;
        ours.forEach((l4, i) => {
          const [t, u] = rows[i]!.split('\t');
          // ICMP errors quote a UDP/TCP header: tshark reports that inner checksum too
          const status = (l4?.transport === 'tcp' ? t : u)?.split(',')[0];
          if (!l4 || !status || status === '2') return; // not UDP/TCP, or tshark could not verify
          const v = checkL4(l4);
          if (v === 'unverifiable') return;
          compared++;
          if (status === '1') expect(v, `packet ${i + 1}`).to.equal('ok');
          else expect(v, `packet ${i + 1}`).to.be.oneOf(['bad', 'offloaded']);
        });
        expect(compared).to.be.greaterThan(0);
      });
    }
  });

  it('property: flipping any byte of a good segment makes it not ok', async () => {
    const goods: L4Packet[] = [];
    for (const file of captureFiles().filter((f) => /clients\//.test(f))) {
      for (const l4 of await l4Packets(file)) if (l4 && checkL4(l4) === 'ok') goods.push(l4);
    }
    expect(goods.length).to.be.greaterThan(50);
    fc.assert(fc.property(fc.nat(goods.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), (gi, pos, x) => {
      const g = goods[gi]!;
      const raw = g.raw!.slice();
      const at = g.l4Start! + (pos % (g.l4End! - g.l4Start!));
      raw[at]! ^= x;
      // one changed byte changes its 16-bit word by x or x·256, never by a multiple of 0xffff
      return checkL4({ ...g, raw }) !== 'ok';
    }), { numRuns: 2000 });
  });
});
