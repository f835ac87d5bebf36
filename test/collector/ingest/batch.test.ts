// decodeBatch: where each accepted event's line is in the body (EventBytes), which a
// store may keep as the event's document instead of the decoded string.
import { expect } from 'chai';
import { DECODE_SLICE_LINES, decodeBatch, type DecodedBatch } from '../../../collector/ingest/batch.js';
import { AGENT, makeEvent } from '../helpers.js';

const LIMITS = { maxLineBytes: 1 << 20, maxBatchEvents: 1000 };

async function decoded(body: Buffer): Promise<DecodedBatch> {
  const r = await decodeBatch(body, AGENT, LIMITS, '2026-11-26T00:00:00.000Z');
  if ('tooLarge' in r) throw new Error(r.tooLarge);
  return r;
}

describe('decodeBatch: the bytes of each event', async () => {
  it('gives the line of every accepted event, skipping blank lines, CR before LF and dead letters, with multi-byte characters', async () => {
    const a = JSON.stringify({ ...makeEvent(1), note: 'école — 東京 😀' });
    const b = JSON.stringify(makeEvent(2));
    const c = JSON.stringify({ ...makeEvent(3), note: 'шлюз' });
    const parts = ['\n', a, '\r\n', '{"not": "an event"}', '\n', '\n', 'not json', '\n', b, '\n', c];
    const body = Buffer.from(parts.join(''));
    const r = await decoded(body);
    expect(r.events.map((e) => e.id)).to.deep.equal([`${AGENT}:1`, `${AGENT}:2`, `${AGENT}:3`]);
    expect(r.deadLetters.map((d) => d.reason)).to.deep.equal(['field_missing', 'json_invalid']);
    expect(r.bytes).to.not.equal(null);
    const { starts, ends } = r.bytes!;
    expect(r.bytes!.body).to.equal(body);
    expect(starts.length).to.equal(3);
    expect(ends.length).to.equal(3);
    // Offsets counted by hand from the parts above, in bytes.
    const at = (i: number): number => Buffer.byteLength(parts.slice(0, i).join(''));
    expect([...starts]).to.deep.equal([at(1), at(8), at(10)]);
    expect([...ends]).to.deep.equal([at(2), at(9), at(11)]);
    for (let i = 0; i < 3; i++) expect(body.subarray(starts[i], ends[i]).toString('utf8')).to.equal([a, b, c][i]).and.to.equal(r.events[i]!.json);
  });

  it('gives no bytes for a body that is not valid UTF-8: the strings (with U+FFFD) are what is stored', async () => {
    const line = Buffer.from(JSON.stringify({ ...makeEvent(1), note: 'X' }));
    line[line.indexOf('"X"') + 1] = 0xc3; // a lead byte without its continuation
    const r = await decoded(Buffer.concat([line, Buffer.from('\n' + JSON.stringify(makeEvent(2)) + '\n')]));
    expect(r.events).to.have.length(2);
    expect(r.bytes).to.equal(null);
    expect(JSON.parse(r.events[0]!.json).note).to.equal('\ufffd');
  });

  it('yields to the event loop between slices of DECODE_SLICE_LINES lines, and only then', async () => {
    const lines = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => JSON.stringify(makeEvent(i))).join('\n'));
    const turnsDuring = async (body: Buffer): Promise<number> => {
      let turns = 0;
      let done = false;
      const tick = (): void => { if (!done) { turns++; setImmediate(tick); } };
      setImmediate(tick);
      const r = await decoded(body);
      done = true;
      expect(r.events).to.have.length(body.toString().split('\n').length);
      return turns;
    };
    expect(await turnsDuring(lines(DECODE_SLICE_LINES))).to.equal(0);
    expect(await turnsDuring(lines(DECODE_SLICE_LINES * 3 + 1))).to.be.at.least(3);
  });

  it('an empty body and a body of dead letters only give empty offsets', async () => {
    expect([...(await decoded(Buffer.alloc(0))).bytes!.starts]).to.deep.equal([]);
    const r = await decoded(Buffer.from('nope\n[1]\n'));
    expect(r.deadLetters).to.have.length(2);
    expect(r.bytes!.starts.length).to.equal(0);
    expect(r.bytes!.ends.length).to.equal(0);
  });
});
