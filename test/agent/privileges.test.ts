import { expect } from 'chai';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, lookupUser, prepareOwnedDir } from '../../agent/privileges.js';
import { UmbraError } from '../../common/errors.js';

describe('agent/privileges: prepareOwnedDir', () => {
  let tmp: string;
  beforeEach(() => { tmp = mkdtempSync(join(tmpdir(), 'umbra-priv-')); });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('as root: hands the spool directory and everything in it to the agent user, leaves symlinks alone', function () {
    if (!isRoot()) this.skip();
    const nobody = lookupUser('nobody');
    const dir = join(tmp, 'spool');
    mkdirSync(join(dir, 'old'), { recursive: true, mode: 0o750 });
    writeFileSync(join(dir, 'segment-1.spool'), 'x');
    writeFileSync(join(dir, 'old', 'ack'), 'y');
    symlinkSync('/etc/hostname', join(dir, 'link'));
    prepareOwnedDir(dir, nobody);
    for (const p of [dir, join(dir, 'old'), join(dir, 'segment-1.spool'), join(dir, 'old', 'ack')]) {
      const st = lstatSync(p);
      expect([st.uid, st.gid], p).to.deep.equal([nobody.uid, nobody.gid]);
    }
    expect(lstatSync(join(dir, 'link')).uid).to.equal(0);
    expect(lstatSync('/etc/hostname').uid).to.equal(0);
    // Again, now that the directory belongs to the user: nothing to change, no error.
    prepareOwnedDir(dir, nobody);
  });

  it('a directory that cannot be created is a clear error naming it, not a stack trace', () => {
    writeFileSync(join(tmp, 'file'), '');
    const dir = join(tmp, 'file', 'spool');
    let err: unknown;
    try {
      prepareOwnedDir(dir, { name: 'nobody', uid: 65534, gid: 65534 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UmbraError);
    expect((err as Error).message).to.include(`cannot create ${dir} (ENOTDIR)`);
  });
});
