// The catalog's domain-pattern syntax (signatures/README.md, "Patterns"):
//   openai.com                      suffix: the domain and every subdomain, on whole labels
//   =chat.openai.com                exact: that host only
//   *.openai.azure.com              wildcard: `*` is exactly one whole label
//   bedrock-runtime.*.amazonaws.com a wildcard label in the middle
//   *-aiplatform.googleapis.com     `*` inside a label: any non-empty text there
// A wildcard pattern matches names with exactly its number of labels.
// parsePattern never throws: it returns the parsed pattern or the reason it is
// invalid (the validator reports that reason with the file and path).
import { domainToASCII } from 'node:url';
import { MAX_LABEL_LENGTH, MAX_NAME_LENGTH } from './normalize.js';

export type PatternType = 'exact' | 'suffix' | 'wildcard';

/** One label of a wildcard pattern. */
export type LabelPattern =
  | { kind: 'literal'; text: string }
  | { kind: 'any' }
  /** `*` inside a label: the label starts with prefix, ends with suffix, and has at least one character between. */
  | { kind: 'partial'; prefix: string; suffix: string };

export interface ParsedPattern {
  /** The pattern as written. */
  source: string;
  type: PatternType;
  /** For exact and suffix: the host name. For wildcard: the pattern without `=`. */
  host: string;
  /** Labels, left to right. */
  labels: LabelPattern[];
  /**
   * For a wildcard: the literal labels to the right of the rightmost label that
   * holds a `*` (e.g. `amazonaws.com` for `bedrock-runtime.*.amazonaws.com`),
   * never empty (a wildcard top-level label is rejected). '' for exact and suffix.
   */
  tail: string;
}

export type ParseResult = { ok: true; pattern: ParsedPattern } | { ok: false; reason: string };

const LABEL_CHARS = /^[a-z0-9_-]+$/;

function checkLiteralLabel(label: string, what: string): string | null {
  if (label.length === 0) return `${what} has an empty label`;
  if (label.length > MAX_LABEL_LENGTH) return `${what} has a label longer than ${MAX_LABEL_LENGTH} characters`;
  if (!LABEL_CHARS.test(label)) {
    if (/[A-Z]/.test(label) && LABEL_CHARS.test(label.toLowerCase())) return `${what} must be lower case`;
    return `${what} has a label with characters a host name cannot hold: '${label}'`;
  }
  if (label.startsWith('-') || label.endsWith('-')) return `${what} has a label that starts or ends with a hyphen: '${label}'`;
  if (label.startsWith('xn--') && domainToASCII(label) !== label) return `${what} has an invalid punycode label: '${label}'`;
  return null;
}

/** Parses one pattern as written in a catalog file. */
export function parsePattern(written: unknown): ParseResult {
  if (typeof written !== 'string') return { ok: false, reason: 'pattern is not a string' };
  const source = written;
  if (source.length === 0) return { ok: false, reason: 'pattern is empty' };
  if (source !== source.trim()) return { ok: false, reason: 'pattern has leading or trailing white space' };
  let body = source;
  const exact = body.startsWith('=');
  if (exact) body = body.slice(1);
  if (body.length === 0) return { ok: false, reason: "pattern is empty after '='" };
  if (body.endsWith('.')) return { ok: false, reason: 'pattern ends with a dot (write the name without it)' };
  if (body.startsWith('.')) return { ok: false, reason: 'pattern starts with a dot (a plain domain already covers its subdomains)' };
  for (let i = 0; i < body.length; i++) {
    if (body.charCodeAt(i) > 0x7f) {
      const puny = domainToASCII(body.replace(/\*/g, 'x'));
      return { ok: false, reason: `pattern is not ASCII (write the IDNA form${puny ? `, e.g. ${puny}` : ''})` };
    }
  }
  if (body.length > MAX_NAME_LENGTH) return { ok: false, reason: `pattern is longer than ${MAX_NAME_LENGTH} characters` };
  const parts = body.split('.');
  if (parts.length < 2) return { ok: false, reason: 'pattern has a single label (a top-level domain covers far too much)' };
  const hasStar = body.includes('*');
  if (exact && hasStar) return { ok: false, reason: "a wildcard pattern already matches whole names only: drop the '='" };
  const labels: LabelPattern[] = [];
  for (const part of parts) {
    if (!part.includes('*')) {
      const bad = checkLiteralLabel(part, 'pattern');
      if (bad) return { ok: false, reason: bad };
      labels.push({ kind: 'literal', text: part });
      continue;
    }
    if (part === '*') {
      labels.push({ kind: 'any' });
      continue;
    }
    const star = part.indexOf('*');
    if (part.indexOf('*', star + 1) >= 0) return { ok: false, reason: `pattern has more than one '*' in the label '${part}'` };
    if (part.length > MAX_LABEL_LENGTH) return { ok: false, reason: `pattern has a label longer than ${MAX_LABEL_LENGTH} characters` };
    const prefix = part.slice(0, star);
    const suffix = part.slice(star + 1);
    const fill = prefix + 'x' + suffix; // a label this piece could match
    const bad = checkLiteralLabel(fill, 'pattern');
    if (bad) return { ok: false, reason: bad };
    labels.push({ kind: 'partial', prefix, suffix });
  }
  let tail = '';
  if (hasStar) {
    if (labels[labels.length - 1]!.kind !== 'literal') return { ok: false, reason: 'pattern has a wildcard in its top-level label' };
    let i = labels.length;
    while (i > 0 && labels[i - 1]!.kind === 'literal') i--;
    tail = parts.slice(i).join('.');
  }
  return { ok: true, pattern: { source, type: hasStar ? 'wildcard' : exact ? 'exact' : 'suffix', host: body, labels, tail } };
}

/** Does one label (already normalised) match one label pattern? */
export function labelMatches(p: LabelPattern, label: string): boolean {
  switch (p.kind) {
    case 'literal':
      return p.text === label;
    case 'any':
      return label.length > 0;
    case 'partial':
      return label.length > p.prefix.length + p.suffix.length && label.startsWith(p.prefix) && label.endsWith(p.suffix);
  }
}

/**
 * Does the pattern match this (normalised) name on its own, without regard to
 * other patterns? The reference semantics that the matcher's trie must agree with.
 */
export function patternMatches(p: ParsedPattern, name: string): boolean {
  switch (p.type) {
    case 'exact':
      return name === p.host;
    case 'suffix':
      return name === p.host || (name.length > p.host.length && name.endsWith(p.host) && name.charCodeAt(name.length - p.host.length - 1) === 0x2e);
    case 'wildcard': {
      const parts = name.split('.');
      if (parts.length !== p.labels.length) return false;
      for (let i = 0; i < parts.length; i++) if (!labelMatches(p.labels[i]!, parts[i]!)) return false;
      return true;
    }
  }
}

/**
 * Specificity of a wildcard pattern, for ordering wildcards that share a tail:
 * compared label by label from the right, a literal label beats a partial one
 * (longer literal text first), which beats `*`. Larger is more specific.
 */
export function compareWildcards(a: ParsedPattern, b: ParsedPattern): number {
  const n = Math.min(a.labels.length, b.labels.length);
  for (let k = 1; k <= n; k++) {
    const x = a.labels[a.labels.length - k]!;
    const y = b.labels[b.labels.length - k]!;
    const d = labelRank(x) - labelRank(y);
    if (d !== 0) return d;
  }
  return a.labels.length - b.labels.length;
}

function labelRank(p: LabelPattern): number {
  if (p.kind === 'literal') return 1000;
  if (p.kind === 'partial') return 1 + p.prefix.length + p.suffix.length;
  return 0;
}
