// Runs the umbra command from the source (tsx) or dist/ tree, for tests that
// start it as a child process (signals, exit codes).
import { main } from '../../cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => { process.stderr.write(`umbra: internal error: ${(err as Error)?.stack ?? String(err)}\n`); process.exitCode = 1; },
);
