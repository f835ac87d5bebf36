// Cross-check with tshark where it is installed: the DNS question names and the
// TLS SNIs (TCP and QUIC) that Umbra finds in each capture are exactly the ones
// tshark finds. Captures tshark cannot read fully are listed with the reason.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { analyzeFiles } from '../helpers/analyze.js';
import { captureFiles } from '../helpers/captures.js';

const HAVE_TSHARK = spawnSync('tshark', ['--version'], { encoding: 'utf8' }).status === 0;

/** tshark 4.0 cannot read these fully (CAPTURE-NOTES.md): a QUIC ClientHello whose second half was never sent. */
const TSHARK_BLIND = /gap|one-initial|rejected|icmp/;

function tsharkNames(file: string): { dns: Set<string>; sni: Set<string> } {
  const r = spawnSync('tshark', ['-r', file, '-n', '-T', 'fields', '-E', 'separator=\t', '-e', 'dns.qry.name', '-e', 'tls.handshake.extensions_server_name'], { encoding: 'utf8' });
  // a capture cut in the middle of its last record: tshark says so and exits 2 after printing the rest
  if (r.status !== 0 && !/cut short in the middle of a packet/.test(r.stderr)) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  const dns = new Set<string>();
  const sni = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const [q, s] = line.split('\t');
    for (const n of (q ?? '').split(',').filter(Boolean)) dns.add(n.toLowerCase());
    for (const n of (s ?? '').split(',').filter(Boolean)) sni.add(n.toLowerCase());
  }
  return { dns, sni };
}

describe('cross-check with tshark', function () {
  before(function () {
    if (!HAVE_TSHARK) this.skip();
  });
  for (const file of captureFiles()) {
    if (TSHARK_BLIND.test(basename(file))) continue;
    it(basename(file), async () => {
      const want = tsharkNames(file);
      const { events } = await analyzeFiles([file], { all: true });
      const dns = new Set(events.filter((e) => e.dns).map((e) => e.dns!.question.name.toLowerCase()));
      const sni = new Set(events.filter((e) => e.tls?.client.server_name).map((e) => e.tls!.client.server_name!.toLowerCase()));
      expect([...dns].sort(), 'DNS question names').to.deep.equal([...want.dns].sort());
      expect([...sni].sort(), 'SNIs').to.deep.equal([...want.sni].sort());
    });
  }
});
