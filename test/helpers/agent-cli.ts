// Test-only: a real collector on loopback and what `umbra agent` needs to ship to
// it (a token file, the collector's CA), made readable for an agent that drops to
// nobody, for the tests that start the agent command as a child process.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startCollector, type RunningCollector } from '../../collector/ingest/server.js';
import { AGENT_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../collector/helpers.js';

export interface AgentCliWorld {
  /** A temp directory (0755) for spools and files of the test. */
  dir: string;
  /** The agent's token (AGENT_TOKEN), 0600, owned by nobody when the tests run as root. */
  tokenFile: string;
  tls: TempDir;
  collector: RunningCollector;
  /** Stops the collector and removes every file. */
  remove(): Promise<void>;
}

export async function agentCliWorld(prefix: string): Promise<AgentCliWorld> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const tokenFile = join(dir, 'token');
  // 0600, owned by nobody when we are root: the agent reads it as root or as nobody, and a
  // token file others may read is warned of (common/bounded-file.ts secretFileExposure).
  writeFileSync(tokenFile, AGENT_TOKEN + '\n', { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const [uid, gid] = ['-u', '-g'].map((o) => Number(execFileSync('id', [o, 'nobody']).toString().trim()));
    chownSync(tokenFile, uid!, gid!);
  }
  const tls = await tempDirWithCert();
  chmodSync(dirname(tls.cert.certFile), 0o755);
  chmodSync(tls.dir, 0o755);
  const collector = await startCollector(testConfig(tls), { log: () => {} });
  return {
    dir, tokenFile, tls, collector,
    remove: async () => {
      await collector.close();
      tls.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
