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

/**
 * What is wrong with who may read or change a secret file (a token, a password, a private
 * key), from its mode: null when only its owner may change it and only its owner and group
 * read it (0600 or 0640 with the service's group, as deploy/ installs them).
 */
export function secretFileExposure(mode: number): string | null {
  const m = mode & 0o777;
  const octal = `0${m.toString(8).padStart(3, '0')}`;
  if (m & 0o002) return `writable by every user (mode ${octal})`;
  if (m & 0o020) return `writable by its group (mode ${octal})`;
  if (m & 0o004) return `readable by every user (mode ${octal})`;
  return null;
}

/** The warning for a secret file whose mode is exposed (secretFileExposure), or null. `group`: whose group may read it. */
export function secretFileWarning(file: string, mode: number, group: string): string | null {
  const exposed = secretFileExposure(mode);
  return exposed && `${file} is ${exposed}; chmod 600 (or 640 with ${group})`;
}

/** The file's bytes, at most `maxBytes`; throws BoundedFileError. `stat.mode` receives the file's mode. */
export function readBoundedFile(file: string, maxBytes: number, stat?: { mode: number }): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BoundedFileError(code, code);
  }
  try {
    const st = fstatSync(fd);
    if (stat) stat.mode = st.mode;
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
