// The shipped catalog (signatures/data) against the reference lists in
// test/fixtures/reference (copies of ../shared/reference, collected from public
// block/route lists): what it includes must match, what is shared
// infrastructure or a lookalike must not, and it must validate cleanly.
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { loadCatalog, shippedDataDir, type Catalog } from '../../signatures/loader.js';
import { parsePattern, patternMatches, type ParsedPattern } from '../../signatures/pattern.js';
import { DENIED_PARENTS, SHARED_INFRA } from '../../signatures/shared-infra.js';
import { ENDPOINT_KINDS, type Service } from '../../signatures/types.js';
import { formatIssue, validateDirs } from '../../signatures/validate.js';
import { fixture } from '../helpers/root.js';

function tsv(file: string): Record<string, string>[] {
  const [head, ...rows] = readFileSync(fixture('reference', file), 'utf8').split('\n').filter((l) => l.length > 0);
  const cols = head!.split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i]!, v])));
}

interface Site { p: ParsedPattern; service: Service }
function sitesOf(c: Catalog): Site[] {
  const out: Site[] = [];
  for (const service of c.services) for (const k of ENDPOINT_KINDS) for (const w of service.endpoints[k] ?? []) {
    const r = parsePattern(w);
    if (r.ok) out.push({ p: r.pattern, service });
  }
  return out;
}

describe('signatures: the shipped catalog', () => {
  it('validates with zero errors (schema, ids, patterns, shared infrastructure)', () => {
    const { issues } = validateDirs([shippedDataDir()]);
    const errors = issues.filter((i) => i.severity === 'error');
    expect(errors.map(formatIssue), 'umbra signatures validate').to.deep.equal([]);
  });

  describe('against the reference lists', () => {
    let catalog: Catalog;
    let sites: Site[];
    before(function () {
      try {
        catalog = loadCatalog();
      } catch (e) {
        // The validation test above lists the errors.
        this.skip();
      }
      sites = sitesOf(catalog);
    });

    it('every ai-domains.tsv row the catalog includes matches the service that holds it', () => {
      const rows = tsv('ai-domains.tsv');
      let included = 0;
      for (const row of rows) {
        const d = row.domain!;
        const written = row.match === 'exact' ? `=${d}` : d;
        // included: the catalog has the row's rule (or the suffix form of an exact row)
        const site = sites.find((s) => s.p.source === written) ?? sites.find((s) => s.p.type === 'suffix' && s.p.host === d);
        if (!site) continue;
        included++;
        const exactSibling = sites.find((s) => s.p.type === 'exact' && s.p.host === d);
        const want = exactSibling ?? site;
        const got = catalog.matcher.match(d);
        expect(got, `${d} (${row.service})`).to.not.equal(null);
        expect(got!.service.id, `${d} (${row.service})`).to.equal(want.service.id);
        expect(got!.rule, d).to.equal(want.p.source);
        if (site.p.type === 'suffix') {
          // a subdomain goes to the same service unless the catalog names a more specific pattern for it
          const sub = `umbra-test-7f3a.${d}`;
          expect(catalog.matcher.match(sub)?.service.id, sub).to.equal(site.service.id);
        }
      }
      expect(included, 'ai-domains.tsv rows in the catalog').to.be.greaterThan(0);
    });

    it('every redundant subdomain listed in ai-domains-notes.md matches the same service as its parent row', () => {
      // ai-domains-notes.md section 4: host → the suffix row that covers it (same service).
      const pairs: [string, string][] = [
        ['alkali.generativelanguage.googleapis.com', 'generativelanguage.googleapis.com'], ['api.cohere.ai', 'cohere.ai'],
        ['api.groq.com', 'groq.com'], ['api.jetbrains.ai', 'jetbrains.ai'], ['api.minimax.io', 'minimax.io'],
        ['api.minimaxi.com', 'minimaxi.com'], ['api.together.ai', 'together.ai'], ['api.together.xyz', 'together.xyz'],
        ['api2.cursor.sh', 'cursor.sh'], ['app.devin.ai', 'devin.ai'], ['auth.openai.com', 'openai.com'],
        ['auth0.openai.com', 'openai.com'], ['chat.deepseek.com', 'deepseek.com'], ['chat.qwen.ai', 'qwen.ai'],
        ['chat.together.ai', 'together.ai'], ['console.groq.com', 'groq.com'], ['ios.chat.openai.com', 'chat.openai.com'],
        ['pro.gemini.google.com', 'gemini.google.com'],
      ];
      for (const [host, parent] of pairs) {
        const p = catalog.matcher.match(parent);
        if (!p || (p.rule !== parent && p.rule !== `=${parent}`)) continue; // parent not in the catalog as written
        const h = catalog.matcher.match(host);
        expect(h, host).to.not.equal(null);
        if (p.rule === parent) expect(h!.service.id, host).to.equal(p.service.id);
      }
    });

    it('the examples of issue 4: label boundaries and shared-infrastructure precision', () => {
      const match = (n: string): string | null => catalog.matcher.match(n)?.service.id ?? null;
      for (const n of ['notopenai.com', 'openai.com.evil.example', 'myclaude.ai.example.com', 'googleapis.com', 'storage.googleapis.com',
        'www.google.com', 's3.us-east-1.amazonaws.com', 's3.eu-west-1.amazonaws.com', 'github.com']) {
        expect(match(n), n).to.equal(null);
      }
      expect(match('a.b.chatgpt.com')).to.equal(match('chatgpt.com')).and.to.not.equal(null);
      for (const n of ['generativelanguage.googleapis.com', 'aiplatform.googleapis.com', 'gemini.google.com', 'copilot.microsoft.com',
        'myresource.openai.azure.com', 'bedrock-runtime.us-east-1.amazonaws.com', 'api.githubcopilot.com']) {
        expect(match(n), n).to.not.equal(null);
      }
    });

    for (const file of ['lookalikes.tsv', 'shared-infra.tsv']) {
      it(`no name in ${file} matches anything`, () => {
        const hits = tsv(file).map((r) => r.domain!).filter((d) => catalog.matcher.match(d) !== null)
          .map((d) => `${d} → ${catalog.matcher.match(d)!.service.id} (${catalog.matcher.match(d)!.rule})`);
        expect(hits).to.deep.equal([]);
      });
    }

    it('no pattern equals or covers a shared-infra.tsv name', () => {
      const shared = tsv('shared-infra.tsv').map((r) => r.domain!);
      const bad: string[] = [];
      for (const s of sites) for (const d of shared) if (patternMatches(s.p, d)) bad.push(`${s.p.source} (${s.service.id}) covers ${d}`);
      expect(bad).to.deep.equal([]);
    });

    it('property: for every suffix pattern S, x+S never matches S and label.S always does', () => {
      const suffixes = sites.filter((s) => s.p.type === 'suffix');
      expect(suffixes.length).to.be.greaterThan(0);
      const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/);
      fc.assert(
        fc.property(fc.constantFrom(...suffixes), label, (s, l) => {
          expect(catalog.matcher.match(l + s.p.host)?.rule, l + s.p.host).to.not.equal(s.p.source);
          const n = `${l}.${s.p.host}`;
          const got = catalog.matcher.match(n);
          expect(got, n).to.not.equal(null);
          if (got!.rule !== s.p.source) {
            // only a more specific pattern under S may take it
            const winner = parsePattern(got!.rule);
            expect(winner.ok && winner.pattern.type !== 'wildcard' && winner.pattern.host.endsWith('.' + s.p.host), `${n} → ${got!.rule}`).to.equal(true);
          }
        }),
        { numRuns: 5000 },
      );
      // and every one of them, once, with a fixed label
      for (const s of suffixes) {
        expect(catalog.matcher.match('x' + s.p.host)?.rule, 'x' + s.p.host).to.not.equal(s.p.source);
        expect(catalog.matcher.match('umbra-test-7f3a.' + s.p.host), s.p.host).to.not.equal(null);
      }
    });

    it('property: a Unicode lookalike of a catalog host never matches that host\'s rule', () => {
      // Latin letters and their Cyrillic/Greek homographs.
      const HOMO: Record<string, string> = { a: '\u0430', c: '\u0441', e: '\u0435', o: '\u043e', p: '\u0440', x: '\u0445', y: '\u0443', i: '\u0456', s: '\u0455', j: '\u0458', k: '\u03ba', n: '\u03b7' };
      const hosts = sites.filter((s) => s.p.type !== 'wildcard' && /[acepxyiosjkn]/.test(s.p.host.split('.')[0]!));
      fc.assert(
        fc.property(fc.constantFrom(...hosts), fc.nat(), (s, k) => {
          const [first, ...rest] = s.p.host.split('.');
          const idx = [...first!].map((ch, i) => (HOMO[ch] ? i : -1)).filter((i) => i >= 0);
          const at = idx[k % idx.length]!;
          const fake = [first!.slice(0, at) + HOMO[first![at]!]! + first!.slice(at + 1), ...rest].join('.');
          const got = catalog.matcher.match(fake);
          expect(got?.rule, fake).to.not.equal(s.p.source);
        }),
        { numRuns: 3000 },
      );
    });
  });

  it('signatures/shared-infra.ts holds every name of shared-infra.tsv', () => {
    expect([...SHARED_INFRA].sort()).to.deep.equal(tsv('shared-infra.tsv').map((r) => r.domain!).sort());
    for (const d of SHARED_INFRA) expect(DENIED_PARENTS.has(d)).to.equal(true);
  });
});
