#!/usr/bin/env node
// Thin launcher: the command is compiled to dist/ by `npm run build`.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`umbra: internal error: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
