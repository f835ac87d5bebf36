// The one matcher every decoder calls: a host name in, the catalog service, the
// rule that matched and the endpoint kind out (or null).
//
// A reverse-label trie built once: the root's children are top-level labels,
// theirs second-level labels, and so on. Its edges live in one open-addressing
// hash table keyed by (parent node, label). A lookup walks the name from the
// right one character at a time, hashing each label as it goes, probes the
// table and checks the label in place with startsWith: no substring, no split,
// no allocation. It stops at the first label the trie does not know, so a name
// outside the catalog usually costs two probes (`com`, then `example`).
//
// Precedence (signatures/README.md): an exact pattern for the whole name, then
// the longest suffix pattern, then wildcards (deepest literal tail first, then
// the more specific labels from the right: literal > `x*` > `*`).
import { UmbraError } from '../common/errors.js';
import { normalizeName } from './normalize.js';
import { compareWildcards, parsePattern, type LabelPattern, type ParsedPattern } from './pattern.js';
import type { EndpointKind, MatchResult, Service } from './types.js';
import { ENDPOINT_KINDS } from './types.js';

/** A pattern of one service, ready to be put in the trie. */
export interface MatcherRule {
  pattern: ParsedPattern;
  service: Service;
  kind: EndpointKind;
}

interface WildRule {
  /** Label patterns left of the node's tail, right to left. */
  left: LabelPattern[];
  result: MatchResult;
  pattern: ParsedPattern;
}

/** Most nested wildcard tails a single lookup remembers (deeper ones are ignored). */
export const MAX_WILDCARD_TAILS = 16;

const DOT = 0x2e;
const FNV_PRIME = 0x01000193;
const FNV_OFFSET = 0x811c9dc5 | 0;
const ROOT = 0;

/** Hash seed of a node's children: the label hash starts from it. */
function seedOf(node: number): number {
  return Math.imul(node + 1, 0x9e3779b1) ^ FNV_OFFSET;
}

/** Hash of name[start, end) as a child label of node, characters taken right to left (as lookups do). */
function labelHash(node: number, name: string, start: number, end: number): number {
  let h = seedOf(node);
  for (let i = end - 1; i >= start; i--) h = Math.imul(h ^ name.charCodeAt(i), FNV_PRIME);
  return h;
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  return h ^ (h >>> 16);
}

export class Matcher {
  /** Number of rules in the trie. */
  readonly size: number;

  // Nodes, by index (0 = root).
  private readonly label: string[] = [''];
  private readonly exact: (MatchResult | null)[] = [null];
  private readonly suffix: (MatchResult | null)[] = [null];
  private readonly wild: (WildRule[] | null)[] = [null];
  private hasChildren: Uint8Array = new Uint8Array(1);

  // Edge table: slot → child node (0 = empty), its parent and full hash.
  private edgeChild: Int32Array = new Int32Array(0);
  private edgeParent: Int32Array = new Int32Array(0);
  private edgeHash: Int32Array = new Int32Array(0);
  private mask = 0;

  // Scratch stack for wildcard candidates (JS runs one lookup at a time).
  private readonly wildNodes = new Int32Array(MAX_WILDCARD_TAILS);
  private readonly wildEnds = new Int32Array(MAX_WILDCARD_TAILS);

  /** Builds the trie. A pattern given twice keeps its first service (validation reports the clash). */
  constructor(rules: Iterable<MatcherRule>) {
    // First a plain trie of Maps, then packed into the hash table.
    const kids: Map<string, number>[] = [new Map()];
    const parent: number[] = [-1];
    const insert = (host: string): number => {
      let node = ROOT;
      let end = host.length;
      for (;;) {
        const dot = host.lastIndexOf('.', end - 1);
        const lbl = host.substring(dot + 1, end);
        let child = kids[node]!.get(lbl);
        if (child === undefined) {
          child = this.label.length;
          this.label.push(lbl);
          this.exact.push(null);
          this.suffix.push(null);
          this.wild.push(null);
          kids.push(new Map());
          parent.push(node);
          kids[node]!.set(lbl, child);
        }
        node = child;
        if (dot < 0) return node;
        end = dot;
      }
    };
    let size = 0;
    const wildNodes = new Set<number>();
    for (const r of rules) {
      const p = r.pattern;
      const result: MatchResult = Object.freeze({ service: r.service, rule: p.source, kind: r.kind });
      if (p.type === 'wildcard') {
        const node = insert(p.tail);
        const leftCount = p.labels.length - p.tail.split('.').length;
        const left = p.labels.slice(0, leftCount).reverse();
        const list = (this.wild[node] ??= []);
        if (list.some((w) => w.pattern.host === p.host)) continue;
        list.push({ left, result, pattern: p });
        wildNodes.add(node);
      } else {
        const node = insert(p.host);
        const slot = p.type === 'exact' ? this.exact : this.suffix;
        if (slot[node]) continue;
        slot[node] = result;
      }
      size++;
    }
    for (const node of wildNodes) this.wild[node]!.sort((a, b) => compareWildcards(b.pattern, a.pattern));
    this.size = size;

    const nodes = this.label.length;
    let cap = 16;
    while (cap < nodes * 2) cap *= 2;
    this.mask = cap - 1;
    this.edgeChild = new Int32Array(cap);
    this.edgeParent = new Int32Array(cap);
    this.edgeHash = new Int32Array(cap);
    this.hasChildren = new Uint8Array(nodes);
    for (let child = 1; child < nodes; child++) {
      const par = parent[child]!;
      const lbl = this.label[child]!;
      const h = labelHash(par, lbl, 0, lbl.length);
      let i = mix(h) & this.mask;
      while (this.edgeChild[i] !== 0) i = (i + 1) & this.mask;
      this.edgeChild[i] = child;
      this.edgeParent[i] = par;
      this.edgeHash[i] = h;
      this.hasChildren[par] = 1;
    }
  }

  /** Builds a matcher from services whose patterns are valid (throws UMBRA_E_SIGNATURES otherwise). */
  static fromServices(services: Iterable<Service>): Matcher {
    const rules: MatcherRule[] = [];
    for (const service of services) {
      for (const kind of ENDPOINT_KINDS) {
        for (const written of service.endpoints[kind] ?? []) {
          const r = parsePattern(written);
          if (!r.ok) throw new UmbraError('UMBRA_E_SIGNATURES', `${service.file}: service ${service.id}: ${kind} pattern '${written}': ${r.reason}`);
          rules.push({ pattern: r.pattern, service, kind });
        }
      }
    }
    return new Matcher(rules);
  }

  /**
   * The service a host name belongs to, or null. Any string is accepted: it is
   * normalised first (case, trailing dot, IDNA) and an invalid name is null.
   * The result object is shared and frozen: do not modify it.
   */
  match(name: string): MatchResult | null {
    const n = normalizeName(name);
    return n === null ? null : this.matchNormalized(n);
  }

  /** match() for a name already in normalizeName() form (skips that step). */
  matchNormalized(name: string): MatchResult | null {
    const hasChildren = this.hasChildren;
    const edgeChild = this.edgeChild;
    const edgeParent = this.edgeParent;
    const edgeHash = this.edgeHash;
    const labels = this.label;
    const mask = this.mask;
    let node = ROOT;
    let end = name.length;
    let best: MatchResult | null = null;
    let wilds = 0;
    for (;;) {
      if (hasChildren[node] === 0) break;
      // Hash the label ending at `end`, right to left, up to the dot before it.
      let h = seedOf(node);
      let i = end - 1;
      for (; i >= 0; i--) {
        const c = name.charCodeAt(i);
        if (c === DOT) break;
        h = Math.imul(h ^ c, FNV_PRIME);
      }
      const start = i + 1;
      const len = end - start;
      let slot = mix(h) & mask;
      let child = 0;
      for (;;) {
        const c = edgeChild[slot]!;
        if (c === 0) break;
        if (edgeHash[slot] === h && edgeParent[slot] === node) {
          const lbl = labels[c]!;
          if (lbl.length === len && name.startsWith(lbl, start)) {
            child = c;
            break;
          }
        }
        slot = (slot + 1) & mask;
      }
      if (child === 0) break;
      node = child;
      if (i < 0) {
        // The whole name is in the trie.
        const e = this.exact[node]!;
        if (e !== null) return e;
        const s = this.suffix[node]!;
        if (s !== null) return s;
        break;
      }
      const s = this.suffix[node]!;
      if (s !== null) best = s;
      if (this.wild[node] !== null && wilds < MAX_WILDCARD_TAILS) {
        this.wildNodes[wilds] = node;
        this.wildEnds[wilds++] = i;
      }
      end = i;
    }
    if (best !== null) return best;
    // Deepest tail first.
    for (let k = wilds - 1; k >= 0; k--) {
      const list = this.wild[this.wildNodes[k]!]!;
      const leftEnd = this.wildEnds[k]!;
      for (let j = 0; j < list.length; j++) {
        if (leftMatches(list[j]!.left, name, leftEnd)) return list[j]!.result;
      }
    }
    return null;
  }
}

/** Do the labels of name[0, end) match `left` (right to left), with nothing left over? */
function leftMatches(left: LabelPattern[], name: string, end: number): boolean {
  for (let k = 0; k < left.length; k++) {
    if (end <= 0) return false;
    const dot = name.lastIndexOf('.', end - 1);
    const start = dot + 1;
    const len = end - start;
    const p = left[k]!;
    if (p.kind === 'literal') {
      if (len !== p.text.length || !name.startsWith(p.text, start)) return false;
    } else if (p.kind === 'partial') {
      if (len <= p.prefix.length + p.suffix.length || !name.startsWith(p.prefix, start) || !name.endsWith(p.suffix, end)) return false;
    } else if (len === 0) {
      return false;
    }
    end = dot; // -1 when this was the leftmost label
  }
  return end === -1;
}
