// `umbra`: one executable, one subcommand per job. Each subcommand module
// exports `run(argv)` returning an exit code; errors for people are UmbraError
// (one line, no stack trace).
import { UmbraError } from '../common/errors.js';

interface Subcommand {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  agent: { summary: 'capture live on interfaces and ship AI-use events to the collector', load: () => import('./agent.js') },
  analyze: { summary: 'read pcap/pcapng files and print AI-use events', load: () => import('./analyze.js') },
  demo: { summary: 'everything on this machine: collector, agent replaying a shipped capture, who used which AI service', load: () => import('./demo.js') },
  collector: { summary: 'run the collector: HTTPS ingest from agents into the store (--config umbra.yaml)', load: () => import('./collector.js') },
  signatures: { summary: 'list, test, validate the AI-service catalog', load: () => import('./signatures.js') },
};

function usage(): string {
  const lines = ['usage: umbra <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(SUBCOMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push('', "Run 'umbra <command> --help' for a command's options.");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd ? 0 : 2;
  }
  if (cmd === '--version') {
    process.stdout.write('umbra 0.1.0\n');
    return 0;
  }
  const sub = SUBCOMMANDS[cmd];
  if (!sub) {
    process.stderr.write(`umbra: unknown command '${cmd}'\n${usage()}\n`);
    return 2;
  }
  try {
    const mod = await sub.load();
    return await mod.run(rest);
  } catch (e) {
    if (e instanceof UmbraError) {
      process.stderr.write(`umbra ${cmd}: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
