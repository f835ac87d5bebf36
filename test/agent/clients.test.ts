// Independent check of the client captures: every name a client was told
// (test/fixtures/captures/clients/EXPECTED.tsv, written by the script that ran
// the client) is found, and the catalog's verdict on it is the expected one.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/root.js';
import { analyzeFiles } from '../helpers/analyze.js';

const DIR = join(FIXTURES, 'captures', 'clients');
const rows = readFileSync(join(DIR, 'EXPECTED.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
/** Names in the fixtures that are not AI services: they must be seen but match nothing. */
const NOT_AI = new Set(['example.org']);

describe('client captures: the names each client was told', () => {
  for (const [capture, told, names] of rows) {
    it(`${capture}: ${told}`, async () => {
      const { events } = await analyzeFiles([join(DIR, `${capture}.pcap`)], { all: true });
      const seen = new Map<string, typeof events>();
      for (const e of events) {
        const d = e.destination.domain;
        if (d) seen.set(d, [...(seen.get(d) ?? []), e]);
      }
      for (const name of names!.split(' ')) {
        expect([...seen.keys()], `${name} in ${capture}`).to.include(name);
        for (const e of seen.get(name)!) {
          if (NOT_AI.has(name)) expect(e.umbra?.service, `${name} must not match`).to.equal(undefined);
          else expect(e.umbra?.service?.id, `${name} must match a service`).to.be.a('string');
        }
      }
    });
  }
});
