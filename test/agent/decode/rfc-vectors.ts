// Reads the RFC appendix excerpts kept in test/fixtures/rfc/: `## name`
// sections of hex blocks, and in `## A.1 Keys` lines `name = hex` (continued
// on indented lines).
import { readFileSync } from 'node:fs';
import { fixture } from '../../helpers/root.js';

export interface RfcVectors {
  block(name: string): Buffer;
  key(name: string): Buffer;
}

export function rfcVectors(file: string): RfcVectors {
  const text = readFileSync(fixture('rfc', file), 'utf8');
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of text.split('\n')) {
    const m = /^## (.*)$/.exec(line);
    if (m) {
      current = [];
      sections.set(m[1]!.trim(), current);
    } else if (current) current.push(line);
  }
  const keys = new Map<string, string>();
  let last: string | null = null;
  for (const line of sections.get('A.1 Keys') ?? []) {
    const kv = /^(\S.*?)\s*=\s*([0-9a-f]+)\s*$/.exec(line);
    if (kv) {
      last = kv[1]!;
      keys.set(last, kv[2]!);
    } else if (last && /^\s+[0-9a-f]+\s*$/.test(line)) keys.set(last, keys.get(last)! + line.trim());
  }
  return {
    block(name) {
      const lines = sections.get(name);
      if (!lines) throw new Error(`no section ${name} in ${file}`);
      return Buffer.from(lines.join('').replace(/\s+/g, ''), 'hex');
    },
    key(name) {
      const hex = keys.get(name);
      if (!hex) throw new Error(`no key ${name} in ${file}`);
      return Buffer.from(hex, 'hex');
    },
  };
}
