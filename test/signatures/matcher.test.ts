import { expect } from 'chai';
import fc from 'fast-check';
import { loadCatalog, type Catalog } from '../../signatures/loader.js';
import { Matcher } from '../../signatures/matcher.js';
import { compareWildcards, parsePattern, patternMatches, type ParsedPattern } from '../../signatures/pattern.js';
import { ENDPOINT_KINDS, type EndpointKind, type Service } from '../../signatures/types.js';
import { fixture } from '../helpers/root.js';

interface Rule { p: ParsedPattern; service: Service; kind: EndpointKind }

function rulesOf(c: Catalog): Rule[] {
  const rules: Rule[] = [];
  for (const service of c.services) for (const kind of ENDPOINT_KINDS) for (const w of service.endpoints[kind] ?? []) {
    const r = parsePattern(w);
    if (r.ok) rules.push({ p: r.pattern, service, kind });
  }
  return rules;
}

/** The README's precedence, by brute force over every rule: exact, longest suffix, then the most specific wildcard. */
function reference(rules: Rule[], name: string): Rule | null {
  const hits = rules.filter((r) => patternMatches(r.p, name));
  const exact = hits.find((r) => r.p.type === 'exact');
  if (exact) return exact;
  const suffixes = hits.filter((r) => r.p.type === 'suffix').sort((a, b) => b.p.host.length - a.p.host.length);
  if (suffixes.length) return suffixes[0]!;
  const wild = hits.filter((r) => r.p.type === 'wildcard').sort((a, b) => b.p.tail.split('.').length - a.p.tail.split('.').length || compareWildcards(b.p, a.p));
  return wild[0] ?? null;
}

describe('signatures/matcher', () => {
  let catalog: Catalog;
  let m: Matcher;
  before(() => {
    catalog = loadCatalog({ dataDir: fixture('signatures', 'good') });
    m = catalog.matcher;
  });
  const id = (name: string): string | null => m.match(name)?.service.id ?? null;

  it('returns the service, the rule as written and the endpoint kind', () => {
    const r = m.match('x.chat.example-ai.test');
    expect(r).to.not.equal(null);
    expect(r!.service.id).to.equal('ex-chat');
    expect(r!.service.name).to.equal('Example Chat');
    expect(r!.rule).to.equal('chat.example-ai.test');
    expect(r!.kind).to.equal('web');
    expect(m.match('doh.example-dns.test')).to.include({ rule: '=doh.example-dns.test', kind: 'resolver' });
    expect(m.match('cdn.exstatic.test')).to.include({ rule: 'exstatic.test', kind: 'static' });
  });

  it('respects label boundaries', () => {
    expect(id('example-ai.test')).to.equal('ex-corp');
    expect(id('a.b.example-ai.test')).to.equal('ex-corp');
    expect(id('notexample-ai.test')).to.equal(null);
    expect(id('example-ai.test.evil.example')).to.equal(null);
    expect(id('mychat.example-ai.test.example.com')).to.equal(null);
    expect(id('n.test')).to.equal('ex-corp');
    expect(id('x.n.test')).to.equal('ex-corp');
    expect(id('nn.test')).to.equal(null);
    expect(id('test')).to.equal(null);
  });

  it('the most specific pattern wins: exact, then the longest suffix, then a wildcard', () => {
    expect(m.match('exact.example-ai.test')!.rule).to.equal('=exact.example-ai.test');
    expect(m.match('x.exact.example-ai.test')!.rule).to.equal('example-ai.test');
    expect(id('api.example-ai.test')).to.equal('ex-api');
    expect(id('v1.api.example-ai.test')).to.equal('ex-api');
    expect(id('xapi.example-ai.test')).to.equal('ex-corp');
    // a suffix beats a wildcard that also matches
    expect(id('special-aiplatform.googleapis.com')).to.equal('cloud-special');
    expect(id('us-central1-aiplatform.googleapis.com')).to.equal('cloud-vertex');
    expect(id('bedrock-runtime.eu-test-1.amazonaws.com')).to.equal('cloud-special');
    expect(id('bedrock-runtime.us-east-1.amazonaws.com')).to.equal('cloud-bedrock');
    // two wildcards: the one with the deeper literal tail wins
    expect(m.match('copilot-proxy.copilot.ghe.com')!.rule).to.equal('*.copilot.ghe.com');
    expect(m.match('copilot-proxy.acme.ghe.com')!.rule).to.equal('copilot-proxy.*.ghe.com');
  });

  it('shared infrastructure: AI hosts under general-purpose parents match, the parents never do', () => {
    for (const [n, want] of [
      ['generativelanguage.googleapis.com', 'cloud-vertex'],
      ['alkali.generativelanguage.googleapis.com', 'cloud-vertex'],
      ['aiplatform.googleapis.com', 'cloud-vertex'],
      ['europe-west4-aiplatform.googleapis.com', 'cloud-vertex'],
      ['gemini.google.com', 'cloud-vertex'],
      ['myresource.openai.azure.com', 'cloud-openai'],
      ['chatgpt-async-webps-prod-eastus-7.webpubsub.azure.com', 'cloud-openai'],
      ['bedrock.eu-west-1.amazonaws.com', 'cloud-bedrock'],
    ] as const) expect(id(n), n).to.equal(want);
    for (const n of ['googleapis.com', 'storage.googleapis.com', 'www.google.com', 'google.com', 's3.us-east-1.amazonaws.com', 'amazonaws.com',
      'github.com', 'openai.azure.com', 'a.b.openai.azure.com', 'azure.com', 'webpubsub.azure.com', 'other.webpubsub.azure.com', 'bedrock-runtime.amazonaws.com',
      'x.bedrock-runtime.us-east-1.amazonaws.com', 'ghe.com', 'acme.ghe.com']) {
      expect(id(n), n).to.equal(null);
    }
  });

  it('normalises before matching: case, trailing dot, IDNA; a homograph does not match', () => {
    expect(id('CHAT.Example-AI.test.')).to.equal('ex-chat');
    expect(id('ch\u0430t.example-ai.test')).to.equal('ex-corp'); // Cyrillic а: a different label under example-ai.test
    expect(id('ex\u0430mple-ai.test')).to.equal(null); // Cyrillic а in the registered label
    expect(id('chat.example-ai.test:443')).to.equal(null);
  });

  it('over-long names and labels never match, even under a catalog suffix', () => {
    expect(id(`${'a'.repeat(64)}.chat.example-ai.test`)).to.equal(null);
    expect(id(`${'a'.repeat(63)}.chat.example-ai.test`)).to.equal('ex-chat');
    const long = `${'abcdefghi.'.repeat(24)}chat.example-ai.test`; // 260 characters
    expect(long.length).to.be.greaterThan(253);
    expect(id(long)).to.equal(null);
  });

  it('property: agrees with a brute-force reference of the precedence rules', () => {
    const rules = rulesOf(catalog);
    const hosts = rules.map((r) => r.p.host);
    const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/);
    // names near the patterns: a pattern host with its `*` filled, some labels added in front or removed
    const name = fc.tuple(fc.constantFrom(...hosts), fc.array(label, { maxLength: 3 }), fc.nat(3), label).map(([h, front, drop, fill]) => {
      const parts = h.replace(/\*/g, fill).split('.').slice(Math.min(drop, 1));
      return [...front, ...parts].join('.');
    });
    fc.assert(
      fc.property(name, (n) => {
        const want = reference(rules, n);
        const got = m.match(n);
        expect(got?.rule ?? null, n).to.equal(want?.p.source ?? null);
        if (want) expect(got!.service).to.equal(want.service);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: for every suffix pattern S, x+S never matches S and label.S always does', () => {
    const rules = rulesOf(catalog).filter((r) => r.p.type === 'suffix');
    const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
    for (const r of rules) {
      fc.assert(
        fc.property(label, (l) => {
          expect(m.match(l + r.p.host)?.rule).to.not.equal(r.p.source);
          const got = m.match(`${l}.${r.p.host}`);
          expect(got, `${l}.${r.p.host}`).to.not.equal(null);
          // S's rule, or a longer pattern under S that also matches
          if (got!.rule !== r.p.source) expect(parsePattern(got!.rule).ok && (got!.rule.replace(/^=/, '').endsWith('.' + r.p.host))).to.equal(true);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('property: random Unicode never throws, and non-ASCII text is no match', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const r = m.match(s);
        if ([...s].every((ch) => ch.codePointAt(0)! > 0x7f)) expect(r).to.equal(null);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: a name over 253 characters or with a label over 63 is no match', () => {
    const host = fc.constantFrom(...rulesOf(catalog).filter((r) => r.p.type !== 'wildcard').map((r) => r.p.host));
    fc.assert(
      fc.property(host, fc.integer({ min: 64, max: 200 }), (h, n) => {
        expect(m.match(`${'a'.repeat(n)}.${h}`)).to.equal(null);
        const filler = 'b'.repeat(60) + '.';
        expect(m.match(filler.repeat(Math.ceil((254 - h.length) / filler.length)) + h)).to.equal(null);
      }),
    );
  });

  it('a pattern given twice keeps its first service', () => {
    const s = catalog.byId.get('ex-chat')!;
    const t = catalog.byId.get('ex-api')!;
    const p = (x: string): ParsedPattern => { const r = parsePattern(x); if (!r.ok) throw new Error(r.reason); return r.pattern; };
    const mm = new Matcher([{ pattern: p('dup.test'), service: s, kind: 'web' }, { pattern: p('dup.test'), service: t, kind: 'api' }]);
    expect(mm.size).to.equal(1);
    expect(mm.match('dup.test')!.service.id).to.equal('ex-chat');
  });
});
