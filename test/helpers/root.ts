// Locates the repository root from either test/ (tsx) or dist/test/ (compiled).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'signatures'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
}

export const ROOT = findRoot();
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const fixture = (...p: string[]): string => join(FIXTURES, ...p);
