// `umbra collector`: run the collector from umbra.yaml (HTTPS ingest into the
// configured store), check a config, or make an agent token. SIGTERM/SIGINT
// close it gracefully: no new batches, in-flight ones finish, the store closes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UmbraError } from '../common/errors.js';
import { generateToken } from '../collector/auth/tokens.js';
import { loadConfig } from '../collector/config.js';
import { startCollectorThread } from '../collector/collector-thread.js';
import type { IngestStats } from '../collector/ingest/server.js';

const USAGE = `usage: umbra collector --config FILE [--check]
       umbra collector token [--agent ID]

Runs the collector: HTTPS ingest of agent batches (POST /api/v1/events),
health (GET /api/v1/health) and the query API (GET /api/v1/events), storing
into the store umbra.yaml names (SQLite by default, under data_dir).
SIGTERM or SIGINT stop it gracefully: batches being received are finished
and acknowledged, then the store is closed.

  --config FILE   the configuration (see deploy/umbra.example.yaml)
  --check         validate the configuration (keys, secrets, files) and exit
  -h, --help      this text

umbra collector token
  Prints a new random token and its SHA-256. Give the token to the agent
  (its --token-file) and put the SHA-256 in umbra.yaml:
    collector.agents: [{ id: ID, token_sha256: <sha256> }]
  --agent ID      the agent id to show in the printed config line`;

const out = (s: string): void => void process.stdout.write(s + '\n');

function parse(argv: string[], options: ParseArgsConfig['options']): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UmbraError('UMBRA_E_USAGE', `${(e as Error).message}\n${USAGE}`);
  }
}

function token(argv: string[]): number {
  const { values, positionals } = parse(argv, { agent: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return out(USAGE), 0;
  if (positionals.length) throw new UmbraError('UMBRA_E_USAGE', `unexpected argument '${positionals[0]}'\n${USAGE}`);
  const t = generateToken();
  const id = (values.agent as string | undefined) ?? 'AGENT-ID';
  out(`token:  ${t.token}`);
  out(`sha256: ${t.sha256}`);
  out('');
  out('umbra.yaml, under collector.agents:');
  out(`  - id: ${id}`);
  out(`    token_sha256: ${t.sha256}`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'token') return token(argv.slice(1));
  const { values, positionals } = parse(argv, { config: { type: 'string', short: 'c' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return out(USAGE), 0;
  if (positionals.length) throw new UmbraError('UMBRA_E_USAGE', `unknown command '${positionals[0]}'\n${USAGE}`);
  const file = values.config as string | undefined;
  if (!file) throw new UmbraError('UMBRA_E_USAGE', `--config FILE is required\n${USAGE}`);
  const config = loadConfig(file);
  for (const w of config.warnings) process.stderr.write(`umbra collector: warning: ${file}: ${w}\n`);
  if (values.check) {
    out(`${file}: ok (${config.collector.agents.length} agent(s), ${config.collector.adminTokens.length} admin token(s), store ${config.store.type})`);
    return 0;
  }
  // Signals are taken from now on: one during start-up closes the collector as soon as it is up.
  let signalled: ((sig: string) => void) | null = null;
  let early: string | null = null;
  const onSignal = (sig: string): void => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    if (signalled) signalled(sig);
    else early = sig;
  };
  const onTerm = (): void => onSignal('SIGTERM');
  const onInt = (): void => onSignal('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  if (config.collector.agents.length === 0) process.stderr.write(`umbra collector: warning: ${file}: /collector/agents is empty, no agent can send events\n`);
  let c;
  try {
    c = await startCollectorThread(file);
  } catch (e) {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    throw e;
  }
  const where = config.store.type === 'sqlite' ? config.store.sqlite.path : config.store.elasticsearch.node;
  process.stderr.write(`${new Date().toISOString()} collector: listening on ${c.url} (${config.collector.agents.length} agent(s), store ${config.store.type} ${where})\n`);
  const running = c;
  const stats = await Promise.race([running.died, new Promise<IngestStats>((resolve) => {
    signalled = (sig: string): void => {
      process.stderr.write(`${new Date().toISOString()} collector: ${sig}, finishing in-flight batches\n`);
      resolve(running.close());
    };
    if (early) signalled(early);
  })]);
  process.stderr.write(`${new Date().toISOString()} collector: stopped (${stats.batches} batches, ${stats.accepted} events stored, ${stats.duplicates} duplicates, ${stats.deadLettered} dead-lettered)\n`);
  return 0;
}
