import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers/root.js';

const UMBRA = join(ROOT, 'bin', 'umbra.js');

describe('umbra command', () => {
  it('--help lists the subcommands and exits 0', () => {
    const r = spawnSync(process.execPath, [UMBRA, '--help'], { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/analyze/).and.match(/signatures/);
  });
  it('an unknown command exits 2 with a one-line reason and the usage', () => {
    const r = spawnSync(process.execPath, [UMBRA, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/unknown command 'frobnicate'/);
    expect(r.stderr).to.not.match(/at .*\.js:\d+/);
  });
});
