// `npm run build` step: validates the shipped catalog and writes its compiled form (compiled.ts).
import { shippedDataDir } from './loader.js';
import { compiledPath, writeCompiled } from './compiled.js';

const r = writeCompiled(shippedDataDir());
process.stdout.write(`signatures: compiled ${r.services} services to ${compiledPath()}\n`);
