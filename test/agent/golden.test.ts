// Golden tests: every capture under test/fixtures/captures/ → its events, compared
// with the checked-in `<capture>.ndjson` beside it (all observations, `--all`).
// UMBRA_GOLDEN_UPDATE=1 rewrites the golden files after a reviewed change.
// The golden files are not their own proof: client.test.ts checks the names
// against what each client was told, tshark.test.ts against tshark.
import { expect } from 'chai';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { captureFiles } from '../helpers/captures.js';
import { FIXTURES } from '../helpers/root.js';
import { analyzeFiles } from '../helpers/analyze.js';


const UPDATE = process.env.UMBRA_GOLDEN_UPDATE === '1';

describe('golden events per capture', () => {
  for (const file of captureFiles()) {
    const golden = file.replace(/\.(pcap|pcapng)$/, '.ndjson');
    const rel = file.slice(FIXTURES.length + 1);
    it(rel, async () => {
      const { events } = await analyzeFiles([file], { all: true });
      const text = events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : '');
      if (UPDATE || !existsSync(golden)) {
        if (!UPDATE) throw new Error(`no golden file ${golden}: run with UMBRA_GOLDEN_UPDATE=1 and review it`);
        writeFileSync(golden, text);
        return;
      }
      const want = readFileSync(golden, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(events).to.deep.equal(want);
    });
  }
});
