// Test-only: a real collector on loopback and what `umbra agent` needs to ship to
// it (a token file, the collector's CA), made readable for an agent that drops to
// nobody, for the tests that start the agent command as a child process.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startCollector, type RunningCollector } from '../../collector/ingest/server.js';
import { AGENT_TOKEN, tempDirWithCert, testConfig, type TempDir } from '../collector/helpers.js';

export interface AgentCliWorld {
  /** A temp directory (0755) for spools and files of the test. */
  dir: string;
  /** The agent's token (AGENT_TOKEN), 0644. */
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
  writeFileSync(tokenFile, AGENT_TOKEN + '\n', { mode: 0o644 });
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
