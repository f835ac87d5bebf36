import { expect } from 'chai';
import fc from 'fast-check';
import { domainToASCII } from 'node:url';
import { MAX_LABEL_LENGTH, MAX_NAME_LENGTH, normalizeName } from '../../signatures/normalize.js';

describe('signatures/normalize', () => {
  it('lower-cases and strips one trailing dot', () => {
    expect(normalizeName('ChatGPT.com')).to.equal('chatgpt.com');
    expect(normalizeName('chatgpt.com.')).to.equal('chatgpt.com');
    expect(normalizeName('OpenAI.Com.Evil.Example.')).to.equal('openai.com.evil.example');
  });

  it('returns a canonical ASCII name unchanged (the same string)', () => {
    const n = 'a-b_c.example.com';
    expect(normalizeName(n)).to.equal(n);
  });

  it('rejects names that are not host names', () => {
    for (const bad of ['', '.', '..', 'a..b', '.a.b', 'a.b..', 'a b.com', 'a/b.com', 'a:443', 'host:443', '*.example.com', 'a@b.com', '\u0000.com', 'a.com\n']) {
      expect(normalizeName(bad), JSON.stringify(bad)).to.equal(null);
    }
  });

  it('enforces 63 characters per label and 253 per name (RFC 1035)', () => {
    const l63 = 'a'.repeat(MAX_LABEL_LENGTH);
    expect(normalizeName(`${l63}.com`)).to.equal(`${l63}.com`);
    expect(normalizeName(`${l63}a.com`)).to.equal(null);
    // 4 × 63 + 3 dots = 255 > 253; 3 × 63 + 61 + 3 = 253
    const name253 = `${l63}.${l63}.${l63}.${'b'.repeat(61)}`;
    expect(name253.length).to.equal(MAX_NAME_LENGTH);
    expect(normalizeName(name253)).to.equal(name253);
    expect(normalizeName(name253 + '.')).to.equal(name253); // the trailing dot does not count
    expect(normalizeName(`c${name253}`)).to.equal(null);
  });

  it('maps Unicode through IDNA: a Cyrillic homograph becomes a different punycode name', () => {
    // "оpenai.com" with U+043E CYRILLIC SMALL LETTER O; lookalikes.tsv has the same label under .example
    expect(normalizeName('\u043epenai.com')).to.equal('xn--penai-iye.com');
    expect(normalizeName('\u043epenai.example')).to.equal('xn--penai-iye.example');
    expect(normalizeName('Bücher.Example')).to.equal('xn--bcher-kva.example');
  });

  it('follows UTS #46 mapping for compatibility forms, as a browser resolves them', () => {
    // Full-width letters are the same name under IDNA (the browser would go to openai.com).
    expect(normalizeName('\uff4f\uff50\uff45\uff4e\uff41\uff49.com')).to.equal('openai.com');
  });

  it('rejects Unicode that IDNA rejects, and lone surrogates, without throwing', () => {
    expect(normalizeName('\ud800.com')).to.equal(null);
    expect(normalizeName('a\u0000b.com')).to.equal(null);
  });

  it('property: never throws, and any result is a valid lower-case host name of at most 253 characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.domain()), (s) => {
        const n = normalizeName(s);
        if (n === null) return;
        expect(n.length).to.be.at.most(MAX_NAME_LENGTH);
        expect(n).to.match(/^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/);
        expect(normalizeName(n)).to.equal(n); // idempotent
      }),
      { numRuns: 1000 },
    );
  });

  it('property: agrees with node:url domainToASCII on generated domain names', () => {
    fc.assert(
      fc.property(fc.domain(), (d) => {
        expect(normalizeName(d)).to.equal(domainToASCII(d).toLowerCase());
      }),
      { numRuns: 1000 },
    );
  });
});
