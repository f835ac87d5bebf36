// The one matcher every decoder calls: a host name in, the catalog service, the
// rule that matched and the endpoint kind out (or null).
//
// A reverse-label trie built once: the root's children are top-level labels,
// theirs second-level labels, and so on. A lookup walks the name's labels from
// the right with lastIndexOf and one Map lookup per label, and stops at the
// first label the trie does not know, so a name outside the catalog usually
// costs two lookups (`com`, then `example`). No arrays, no regexes, no split.
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

class Node {
  children: Map<string, Node> | null = null;
  exact: MatchResult | null = null;
  suffix: MatchResult | null = null;
  wild: WildRule[] | null = null;
}

/** Most nested wildcard tails a single lookup remembers (deeper ones are ignored). */
export const MAX_WILDCARD_TAILS = 16;

export class Matcher {
  private readonly root = new Node();
  /** Number of rules in the trie. */
  readonly size: number;
  // Scratch stack for wildcard candidates (JS runs one lookup at a time).
  private readonly wildNodes: Node[] = new Array<Node>(MAX_WILDCARD_TAILS);
  private readonly wildEnds = new Int32Array(MAX_WILDCARD_TAILS);

  /** Builds the trie. A pattern given twice keeps its first service (validation reports the clash). */
  constructor(rules: Iterable<MatcherRule>) {
    let size = 0;
    const wildNodes = new Set<Node>();
    for (const r of rules) {
      const p = r.pattern;
      const result: MatchResult = Object.freeze({ service: r.service, rule: p.source, kind: r.kind });
      if (p.type === 'wildcard') {
        const node = this.insert(p.tail);
        const leftCount = p.labels.length - p.tail.split('.').length;
        const left = p.labels.slice(0, leftCount).reverse();
        const list = (node.wild ??= []);
        if (list.some((w) => w.pattern.host === p.host)) continue;
        list.push({ left, result, pattern: p });
        wildNodes.add(node);
      } else {
        const node = this.insert(p.host);
        if (p.type === 'exact') {
          if (node.exact) continue;
          node.exact = result;
        } else {
          if (node.suffix) continue;
          node.suffix = result;
        }
      }
      size++;
    }
    for (const node of wildNodes) node.wild!.sort((a, b) => compareWildcards(b.pattern, a.pattern));
    this.size = size;
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

  private insert(host: string): Node {
    let node = this.root;
    let end = host.length;
    for (;;) {
      const dot = host.lastIndexOf('.', end - 1);
      const label = host.substring(dot + 1, end);
      const children = (node.children ??= new Map());
      let child = children.get(label);
      if (!child) {
        child = new Node();
        children.set(label, child);
      }
      node = child;
      if (dot < 0) return node;
      end = dot;
    }
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
    let node = this.root;
    let end = name.length;
    let best: MatchResult | null = null;
    let wilds = 0;
    for (;;) {
      const children = node.children;
      if (children === null) break;
      const dot = name.lastIndexOf('.', end - 1);
      const child = children.get(dot < 0 && end === name.length ? name : name.substring(dot + 1, end));
      if (child === undefined) break;
      node = child;
      if (dot < 0) {
        // The whole name is in the trie.
        if (node.exact !== null) return node.exact;
        if (node.suffix !== null) return node.suffix;
        break;
      }
      if (node.suffix !== null) best = node.suffix;
      if (node.wild !== null && wilds < MAX_WILDCARD_TAILS) {
        this.wildNodes[wilds] = node;
        this.wildEnds[wilds++] = dot;
      }
      end = dot;
    }
    if (best !== null) return best;
    // Deepest tail first.
    for (let i = wilds - 1; i >= 0; i--) {
      const list = this.wildNodes[i]!.wild!;
      const leftEnd = this.wildEnds[i]!;
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
