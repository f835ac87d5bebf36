// Matcher throughput over 1M host names, a realistic egress mix (~2 % AI):
// AI names derived from the catalog's own patterns with random subdomains;
// non-AI names from a word list with common TLDs and subdomains, plus the
// shared-infrastructure and lookalike names (and subdomains of them) that must
// not match. Prints lookups/s on one core and the catalog counts.
// Run: npm run build && node dist/bench/signatures-match.js [names] [ai-share]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCatalog } from '../signatures/loader.js';
import { parsePattern, type ParsedPattern } from '../signatures/pattern.js';
import { ENDPOINT_KINDS, NON_AI_CATEGORIES } from '../signatures/types.js';
import { ROOT } from '../test/helpers/root.js';

const N = Number(process.argv[2] ?? 1_000_000);
const AI_SHARE = Number(process.argv[3] ?? 0.02);
const PASSES = 5;

// Deterministic PRNG (mulberry32) so runs compare.
let seed = 20261125;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;

const WORDS = (
  'apple river stone cloud market news shop bank mail media travel music photo video game sport health ' +
  'energy green blue red solar city metro north south east west data cyber secure fast smart home garden ' +
  'book store coffee pizza auto motor bike ocean mountain forest sky star moon sun light dark code dev ' +
  'app web net link port gate bridge tower castle king queen royal global local express daily weekly ' +
  'times post herald tribune journal review guide wiki learn school college univ press radio tv film ' +
  'cinema art design studio lab works craft maker build tools parts supply logistics cargo freight ' +
  'insure invest capital fund trust credit pay wallet coin trade stock crypto chain block ledger ' +
  'medical clinic care pharma bio gene labs science tech soft hard ware cloudy stack pixel vector ' +
  'alpha beta gamma delta omega nova astro terra aqua ignis ventus fox wolf bear eagle lion tiger'
).split(' ');
const TLDS = ['com', 'com', 'com', 'com', 'net', 'org', 'io', 'de', 'co.uk', 'fr', 'cn', 'ru', 'jp', 'info', 'app', 'dev', 'ai', 'co', 'us', 'nl'];
const SUBS = ['www', 'www', 'api', 'cdn', 'static', 'img', 'mail', 'login', 'auth', 'm', 'app', 'assets', 'edge', 'eu', 'us-east', 'ws'];

function label(): string {
  const len = 3 + Math.floor(rand() * 10);
  let s = '';
  for (let i = 0; i < len; i++) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(rand() * 36)];
  return s;
}

function tsvFirstColumn(file: string): string[] {
  return readFileSync(join(ROOT, 'test', 'fixtures', 'reference', file), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => l.split('\t')[0]!);
}

const t0 = performance.now();
const catalog = loadCatalog();
const loadMs = performance.now() - t0;

// AI names from every pattern of every AI service.
const aiPatterns: ParsedPattern[] = [];
for (const s of catalog.services) {
  if (NON_AI_CATEGORIES.has(s.category)) continue;
  for (const k of ENDPOINT_KINDS) for (const w of s.endpoints[k] ?? []) {
    const r = parsePattern(w);
    if (r.ok) aiPatterns.push(r.pattern);
  }
}
function aiName(): string {
  const p = pick(aiPatterns);
  if (p.type === 'exact') return p.host;
  if (p.type === 'suffix') {
    const r = rand();
    return r < 0.4 ? p.host : r < 0.8 ? `${pick(SUBS)}.${p.host}` : `${label()}.${pick(SUBS)}.${p.host}`;
  }
  return p.labels.map((l) => (l.kind === 'literal' ? l.text : l.kind === 'any' ? label() : l.prefix + label() + l.suffix)).join('.');
}

const shared = tsvFirstColumn('shared-infra.tsv');
const lookalikes = tsvFirstColumn('lookalikes.tsv');
function otherName(): string {
  const r = rand();
  if (r < 0.1) return pick(shared);
  if (r < 0.2) return `${pick(SUBS)}.${label()}.${pick(shared)}`;
  if (r < 0.23) return pick(lookalikes);
  const base = rand() < 0.5 ? `${pick(WORDS)}${pick(WORDS)}.${pick(TLDS)}` : `${pick(WORDS)}-${pick(WORDS)}.${pick(TLDS)}`;
  const r2 = rand();
  return r2 < 0.3 ? base : r2 < 0.8 ? `${pick(SUBS)}.${base}` : `${label()}.${pick(SUBS)}.${base}`;
}

// Fresh flat strings, as a decoder would make from packet bytes.
const names: string[] = new Array(N);
let expectedAi = 0;
for (let i = 0; i < N; i++) {
  const ai = rand() < AI_SHARE;
  if (ai) expectedAi++;
  const n = ai ? aiName() : otherName();
  names[i] = Buffer.from(n, 'latin1').toString('latin1');
}

const m = catalog.matcher;
let hits = 0;
const rates: number[] = [];
const cpuRates: number[] = [];
for (let pass = 0; pass < PASSES; pass++) {
  hits = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) if (m.match(names[i]!) !== null) hits++;
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  rates.push(N / (ns / 1e9));
  // CPU time of this (single-threaded) process: the figure that does not depend on other load on the machine
  cpuRates.push(N / ((cpu.user + cpu.system) / 1e6));
}

const counts = new Map<string, number>();
for (const s of catalog.services) counts.set(s.category, (counts.get(s.category) ?? 0) + 1);
const ai = catalog.services.filter((s) => !NON_AI_CATEGORIES.has(s.category)).length;
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
console.log(`catalog: ${catalog.services.length} services (${ai} AI, ${catalog.services.length - ai} other), ${catalog.matcher.size} patterns, ${catalog.files.length} files, loaded in ${loadMs.toFixed(0)} ms`);
console.log(`by category: ${[...counts].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')}`);
console.log(`names: ${fmt(N)} (${expectedAi} generated from AI patterns, ${(100 * expectedAi / N).toFixed(2)} %); matched: ${hits}`);
console.log(`lookups/s, one core, ${PASSES} passes: ${rates.map(fmt).join(' / ')}`);
console.log(`lookups per CPU second, ${PASSES} passes: ${cpuRates.map(fmt).join(' / ')}`);
console.log(`first pass: ${fmt(rates[0]!)} lookups/s; best: ${fmt(Math.max(...rates))} lookups/s (${(1e9 / Math.max(...rates)).toFixed(0)} ns per lookup); median per CPU second: ${fmt([...cpuRates].sort((a, b) => a - b)[Math.floor(PASSES / 2)]!)}`);
