// Test-only: whether a process running as nobody can read `file` (every directory
// above it searchable). A checkout under a 0700 directory (mktemp -d, a home
// directory) is not: tests that start umbra as nobody skip there and say why,
// instead of failing with "Cannot find module".
import { spawnSync } from 'node:child_process';

export function nobodyCanRead(file: string): boolean {
  const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'test', '-r', file]);
  return r.status === 0;
}

export const NOBODY_SKIP_REASON = 'the checkout is not readable by nobody (a directory above it is not searchable by others, e.g. mktemp -d)';
