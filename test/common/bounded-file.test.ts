import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundedFileError, readBoundedFile, secretFileExposure } from '../../common/bounded-file.js';

describe('common/bounded-file: readBoundedFile', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-bounded-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const reasonOf = (f: string, max: number): string => {
    try {
      readBoundedFile(f, max);
    } catch (e) {
      expect(e).to.be.instanceOf(BoundedFileError);
      return (e as BoundedFileError).reason;
    }
    return 'read';
  };

  it('reads a regular file of at most maxBytes, exactly', () => {
    const f = join(dir, 'token');
    writeFileSync(f, 'abc\n');
    expect(readBoundedFile(f, 4).toString()).to.equal('abc\n');
    expect(reasonOf(f, 3)).to.equal('too_large');
  });

  it('gives the mode it read the file with; secretFileExposure names who else may read or change it', () => {
    const f = join(dir, 'token');
    writeFileSync(f, 'abc\n');
    chmodSync(f, 0o604);
    const stat = { mode: 0 };
    readBoundedFile(f, 4, stat);
    expect(stat.mode & 0o777).to.equal(0o604);
    expect(secretFileExposure(stat.mode)).to.equal('readable by every user (mode 0604)');
    expect(secretFileExposure(0o100600)).to.equal(null);
    expect(secretFileExposure(0o100640)).to.equal(null);
    expect(secretFileExposure(0o100400)).to.equal(null);
    expect(secretFileExposure(0o100644)).to.equal('readable by every user (mode 0644)');
    expect(secretFileExposure(0o100660)).to.equal('writable by its group (mode 0660)');
    expect(secretFileExposure(0o100666)).to.equal('writable by every user (mode 0666)');
    expect(secretFileExposure(0o100602)).to.equal('writable by every user (mode 0602)');
  });

  it('a huge file is refused from its size', () => {
    const f = join(dir, 'huge');
    writeFileSync(f, '');
    truncateSync(f, 8 * 1024 ** 3); // sparse 8 GiB: reading it would take memory and time
    expect(reasonOf(f, 4096)).to.equal('too_large');
  });

  it('a FIFO, a device or a directory is refused without blocking; a missing file names its errno', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(reasonOf(fifo, 4096)).to.equal('not_regular');
    expect(reasonOf('/dev/zero', 4096)).to.equal('not_regular');
    expect(reasonOf(dir, 4096)).to.equal('not_regular');
    expect(reasonOf(join(dir, 'nope'), 4096)).to.equal('ENOENT');
  });
});
