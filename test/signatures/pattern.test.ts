import { expect } from 'chai';
import { parsePattern, patternMatches, type ParsedPattern } from '../../signatures/pattern.js';

function parsed(s: string): ParsedPattern {
  const r = parsePattern(s);
  if (!r.ok) throw new Error(`${s}: ${r.reason}`);
  return r.pattern;
}

describe('signatures/pattern', () => {
  it('reads the four forms of signatures/README.md', () => {
    expect(parsed('openai.com')).to.include({ type: 'suffix', host: 'openai.com', tail: '' });
    expect(parsed('=chat.openai.com')).to.include({ type: 'exact', host: 'chat.openai.com', source: '=chat.openai.com' });
    expect(parsed('*.openai.azure.com')).to.include({ type: 'wildcard', tail: 'openai.azure.com' });
    expect(parsed('bedrock-runtime.*.amazonaws.com')).to.include({ type: 'wildcard', tail: 'amazonaws.com' });
    const vertex = parsed('*-aiplatform.googleapis.com');
    expect(vertex).to.include({ type: 'wildcard', tail: 'googleapis.com' });
    expect(vertex.labels[0]).to.deep.equal({ kind: 'partial', prefix: '', suffix: '-aiplatform' });
  });

  // The README's table, row by row: matches / does not match.
  const TABLE: [string, string[], string[]][] = [
    ['openai.com', ['openai.com', 'a.b.openai.com'], ['notopenai.com', 'openai.com.evil.example', 'penai.com']],
    ['=chat.openai.com', ['chat.openai.com'], ['x.chat.openai.com', 'openai.com', 'xchat.openai.com']],
    ['*.openai.azure.com', ['myres.openai.azure.com'], ['openai.azure.com', 'a.b.openai.azure.com', 'myres.openai.azure.com.evil.example']],
    ['bedrock-runtime.*.amazonaws.com', ['bedrock-runtime.us-east-1.amazonaws.com'], ['bedrock-runtime.amazonaws.com', 'x.bedrock-runtime.us-east-1.amazonaws.com', 'bedrock-runtime.a.b.amazonaws.com', 's3.us-east-1.amazonaws.com']],
    ['*-aiplatform.googleapis.com', ['us-central1-aiplatform.googleapis.com'], ['aiplatform.googleapis.com', '-aiplatform.googleapis.com', 'a.us-central1-aiplatform.googleapis.com', 'us-central1-aiplatformx.googleapis.com']],
  ];
  for (const [pattern, yes, no] of TABLE) {
    it(`${pattern}: ${yes.join(', ')} match; ${no.join(', ')} do not`, () => {
      const p = parsed(pattern);
      for (const n of yes) expect(patternMatches(p, n), n).to.equal(true);
      for (const n of no) expect(patternMatches(p, n), n).to.equal(false);
    });
  }

  it('rejects what can never match, with a reason', () => {
    const bad: [unknown, RegExp][] = [
      ['', /empty/],
      ['=', /empty/],
      [' openai.com', /white space/],
      ['OpenAI.com', /lower case/],
      ['openai.com.', /ends with a dot/],
      ['.openai.com', /starts with a dot/],
      ['a..b.com', /empty label/],
      ['com', /single label/],
      [`${'a'.repeat(64)}.com`, /longer than 63/],
      [`${'a.'.repeat(127)}com`, /longer than 253/],
      ['-a.com', /hyphen/],
      ['a_b!.com', /characters/],
      ['\u043epenai.com', /not ASCII.*xn--penai-iye\.com/],
      ['=*.x.com', /drop the '='/],
      ['a**.x.com', /more than one/],
      ['x.*', /top-level/],
      ['xn--zz.com', /punycode/],
      [42, /not a string/],
    ];
    for (const [p, why] of bad) {
      const r = parsePattern(p);
      expect(r.ok, String(p)).to.equal(false);
      if (!r.ok) expect(r.reason, String(p)).to.match(why);
    }
  });
});
