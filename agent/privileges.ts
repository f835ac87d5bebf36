// Privilege drop for the live agent: capture sockets are opened as root, then the
// process becomes an unprivileged user for the rest of its life (decoding
// attacker-controlled packets is the riskiest thing it does).
//
// Order (runner.ts): read secrets (token, CA) and open every capture as root →
// prepareOwnedDir(spool dir) → dropPrivileges() → open the spool, ship.
//
// - setgroups([]) first (while still allowed), then setgid, then setuid: after
//   setuid the others are refused. Both real and effective ids change (Node's
//   process.setuid is setuid(2)), so root cannot be regained; checked afterwards.
// - No capability survives: Node cannot keep CAP_NET_RAW across setuid (that needs
//   prctl(PR_SET_KEEPCAPS) + capset, which Node does not expose). The capture
//   sockets already open keep working; opening a capture again (an interface that
//   disappeared and came back) needs a restart of the agent — run it under systemd
//   with Restart=on-failure. `keepRoot` (`--keep-root`) skips the drop entirely
//   and must be asked for explicitly, together with `allowRoot`.
// - The user is never created: it must exist (default `nobody`).
// - Started as non-root (e.g. node with file capabilities, or a file replay), there
//   is nothing to drop and nothing is changed.
import { execFileSync } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UmbraError } from '../common/errors.js';

export const DEFAULT_AGENT_USER = 'nobody';

export interface PrivilegeOptions {
  /** User to become after start-up (default DEFAULT_AGENT_USER). */
  user?: string;
  /** Keep running as root (no drop at all); requires allowRoot too. */
  keepRoot?: boolean;
  /** Allow the process to be root after start-up. */
  allowRoot?: boolean;
}

export interface UserIds {
  name: string;
  uid: number;
  gid: number;
}

/** uid and primary gid of a user, through the system's name service (`id`). */
export function lookupUser(name: string): UserIds {
  const id = (flag: string): number => {
    let out: string;
    try {
      out = execFileSync('id', [flag, '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch {
      throw new UmbraError('UMBRA_E_USAGE', `--user ${name}: no such user (create it, or choose another with --user)`);
    }
    const n = Number(out);
    if (!Number.isInteger(n) || n < 0) throw new UmbraError('UMBRA_E_USAGE', `--user ${name}: 'id ${flag}' answered '${out}'`);
    return n;
  };
  return { name, uid: id('-u'), gid: id('-g') };
}

export function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/**
 * Creates `dir` if needed and gives it (and everything in it: an existing spool)
 * to the user, so the agent can still write there after the drop. Only when root.
 */
export function prepareOwnedDir(dir: string, ids: UserIds): void {
  const fail = (what: string, p: string, e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UmbraError('UMBRA_E_USAGE', `spool directory ${dir}: cannot ${what} ${p} (${code})${code === 'EACCES' || code === 'EPERM' ? `; the agent needs to run as root (with CAP_CHOWN and CAP_DAC_READ_SEARCH) to hand it to user ${ids.name}` : ''}`);
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (e) {
    fail('create', dir, e);
  }
  if (!isRoot()) return;
  // Children are listed before their directory changes owner: root needs no
  // CAP_DAC_READ_SEARCH for a directory it still owns.
  const walk = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      return fail('inspect', p, e);
    }
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      let entries: string[] = [];
      try {
        entries = readdirSync(p);
      } catch (e) {
        fail('list', p, e);
      }
      for (const e of entries) walk(join(p, e));
    }
    if (st.uid !== ids.uid || st.gid !== ids.gid) {
      try {
        chownSync(p, ids.uid, ids.gid);
      } catch (e) {
        fail(`give to user ${ids.name}`, p, e);
      }
    }
  };
  walk(dir);
}

export interface DropResult {
  /** What happened, for the start-up log line. */
  action: 'dropped' | 'kept-root' | 'not-root';
  uid: number;
  gid: number;
}

/** Drops root for good (see the file header); throws UmbraError if it cannot or if root would remain unasked. */
export function dropPrivileges(opts: PrivilegeOptions, ids?: UserIds): DropResult {
  if (!isRoot()) return { action: 'not-root', uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 };
  if (opts.keepRoot) {
    if (!opts.allowRoot) throw new UmbraError('UMBRA_E_USAGE', '--keep-root needs --allow-root as well (the agent would stay root)');
    return { action: 'kept-root', uid: 0, gid: process.getegid!() };
  }
  const u = ids ?? lookupUser(opts.user ?? DEFAULT_AGENT_USER);
  if (u.uid === 0 && !opts.allowRoot) throw new UmbraError('UMBRA_E_USAGE', `--user ${u.name} is root; choose an unprivileged user or give --allow-root`);
  try {
    process.setgroups!([]);
    process.setgid!(u.gid);
    process.setuid!(u.uid);
  } catch (e) {
    throw new UmbraError('UMBRA_E_INTERNAL', `cannot become user ${u.name} (uid ${u.uid}, gid ${u.gid}): ${(e as Error).message}`);
  }
  if (process.geteuid!() !== u.uid || process.getuid!() !== u.uid || process.getegid!() !== u.gid) {
    throw new UmbraError('UMBRA_E_INTERNAL', `privilege drop to ${u.name} did not take effect`);
  }
  if (u.uid !== 0) {
    let regained = false;
    try {
      process.setuid!(0);
      regained = true;
    } catch {
      /* expected: root is gone */
    }
    if (regained) throw new UmbraError('UMBRA_E_INTERNAL', 'root could be regained after the privilege drop; refusing to run');
  }
  return { action: 'dropped', uid: u.uid, gid: u.gid };
}

/** After start-up: refuses root unless allowed. */
export function assertNotRootUnlessAllowed(opts: PrivilegeOptions): void {
  if (isRoot() && !opts.allowRoot) {
    throw new UmbraError('UMBRA_E_USAGE', 'still running as root after start-up; give --allow-root to accept that');
  }
}
