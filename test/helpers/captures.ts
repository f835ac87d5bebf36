// Every capture fixture under test/fixtures/captures/, in a stable order.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './root.js';

export function captureFiles(dir = join(FIXTURES, 'captures')): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...captureFiles(p));
    else if (/\.(pcap|pcapng)$/.test(name)) out.push(p);
  }
  return out;
}
