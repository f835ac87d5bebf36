// `umbra analyze FILE...`: offline analysis of pcap/pcapng files (or `-` for
// stdin) through the same pipeline the live agent runs; AI-use events on stdout.
import { parseArgs } from 'node:util';
import { UmbraError } from '../common/errors.js';
import { Counters } from '../agent/stats.js';
import { Pipeline } from '../agent/pipeline.js';
import { readCaptures } from '../agent/capture/read-captures.js';
import { loadCatalog } from '../signatures/loader.js';
import type { UmbraEvent } from '../agent/event.js';
import { OutputWriter } from './output.js';
import { formatTableRow, TABLE_HEADER } from './event-table.js';

/** Progress line on a TTY at most this often. */
export const PROGRESS_INTERVAL_MS = 500;

const HELP = `usage: umbra analyze [options] FILE...

Reads classic pcap and pcapng captures ('-' reads standard input; several files
are merged in time order) and prints one event per name a client revealed that
matches the AI catalog: DNS questions and answers, TLS and QUIC ClientHello SNI,
HTTP Host and CONNECT, and nameless connections named from the DNS answers seen.

options:
  --format ndjson|table   output format (default: table on a terminal, else ndjson)
  --all                   also print observations that match no catalog entry
  --stats                 print counters (packets, decoders, anomalies, drops) on stderr at the end
  --signatures DIR        an extra signatures directory (repeatable)
  --observer-name NAME    observer.name in the events
  --no-progress           no progress line on stderr
  -h, --help              this help

exit status: 0 when every capture could be read (whatever its packets contain),
2 when a file cannot be opened or is not a capture (one line on stderr).`;

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        all: { type: 'boolean', default: false },
        stats: { type: 'boolean', default: false },
        signatures: { type: 'string', multiple: true },
        'observer-name': { type: 'string' },
        'no-progress': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UmbraError('UMBRA_E_USAGE', `${(e as Error).message}\n${HELP}`);
  }
  const v = args.values;
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (args.positionals.length === 0) throw new UmbraError('UMBRA_E_USAGE', `no capture file given\n${HELP}`);
  const format = v.format ?? (process.stdout.isTTY ? 'table' : 'ndjson');
  if (format !== 'ndjson' && format !== 'table') throw new UmbraError('UMBRA_E_USAGE', `--format must be ndjson or table (got '${format}')`);

  const catalog = loadCatalog({ extraDirs: v.signatures ?? [] });
  const counters = new Counters();
  const out = new OutputWriter(process.stdout);
  if (format === 'table') out.write(TABLE_HEADER + '\n');
  const onEvent = format === 'ndjson'
    ? (e: UmbraEvent) => out.write(JSON.stringify(e) + '\n')
    : (e: UmbraEvent) => out.write(formatTableRow(e) + '\n');
  const pipeline = new Pipeline({
    matcher: catalog.matcher,
    all: v.all,
    observer: v['observer-name'] ? { name: v['observer-name'] } : undefined,
    counters,
    onEvent,
    onWarning: (m) => process.stderr.write(`umbra analyze: warning: ${m}\n`),
  });

  const showProgress = !v['no-progress'] && process.stderr.isTTY === true;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  if (showProgress) {
    timer = setInterval(() => {
      const secs = (Date.now() - started) / 1000;
      const pk = counters.get('packets');
      const mb = counters.get('bytes') / 1e6;
      process.stderr.write(`\r${pk} packets, ${mb.toFixed(1)} MB, ${(pk / secs / 1000).toFixed(0)}k packets/s, ${counters.get('events.matched')} AI events `);
    }, PROGRESS_INTERVAL_MS);
  }
  try {
    await readCaptures(args.positionals, (p) => pipeline.onPacket(p), counters, { pause: () => out.drained() });
    pipeline.finish();
  } finally {
    if (timer) {
      clearInterval(timer);
      process.stderr.write('\r\x1b[K');
    }
    await out.end();
  }
  if (v.stats) process.stderr.write(formatStats(counters, (Date.now() - started) / 1000));
  return 0;
}

function formatStats(c: Counters, secs: number): string {
  const all = c.toJSON();
  const width = Math.max(...Object.keys(all).map((k) => k.length), 10);
  const lines = ['umbra analyze: statistics'];
  for (const [k, n] of Object.entries(all)) lines.push(`  ${k.padEnd(width)}  ${n}`);
  lines.push(`  ${'elapsed_seconds'.padEnd(width)}  ${secs.toFixed(3)}`);
  lines.push(`  ${'peak_rss_mb'.padEnd(width)}  ${(process.resourceUsage().maxRSS / 1024).toFixed(1)}`);
  if (process.env.UMBRA_DEBUG_MEMORY) lines.push(`  memory ${JSON.stringify(process.memoryUsage())}`);
  return lines.join('\n') + '\n';
}
