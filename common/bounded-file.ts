// Reads a small file the configuration names (umbra.yaml, token and secret files)
// without trusting it: a regular file only (a FIFO, a device or a directory is
// refused without blocking), and at most `maxBytes` read (a wrong path to a huge
// file is refused from its size, not read into memory).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Why a file was refused: `too_large` (then `size`), `not_regular`, or the errno code of open/read. */
export class BoundedFileError extends Error {
  constructor(readonly reason: 'too_large' | 'not_regular' | string, message: string) {
    super(message);
    this.name = 'BoundedFileError';
  }
}

/** The file's bytes, at most `maxBytes`; throws BoundedFileError. */
export function readBoundedFile(file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BoundedFileError(code, code);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BoundedFileError('not_regular', 'not a regular file');
    if (st.size > maxBytes) throw new BoundedFileError('too_large', `larger than ${maxBytes} bytes`);
    const buf = Buffer.allocUnsafe(maxBytes + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > maxBytes) throw new BoundedFileError('too_large', `larger than ${maxBytes} bytes`);
    }
    return Buffer.from(buf.subarray(0, n));
  } catch (e) {
    if (e instanceof BoundedFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BoundedFileError(code, code);
  } finally {
    closeSync(fd);
  }
}
