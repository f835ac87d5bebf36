import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundedFileError, readBoundedFile } from '../../common/bounded-file.js';

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
