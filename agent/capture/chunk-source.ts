// Streams a file (or stdin) through one reused buffer, in large reads: memory stays
// at the buffer size whatever the file size. Parsers look at buf[start, end) and
// ask fill(n) for more when a record is not whole yet.

import { open, read, close } from 'node:fs';
import { UmbraError } from '../../common/errors.js';

/** Bytes asked of the OS per read. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** The largest record (pcap packet record or pcapng block) we accept; libpcap's pcapng cap too. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Delay before retrying a read of a non-blocking stdin that had nothing (EAGAIN). */
const EAGAIN_RETRY_MS = 5;

function readAsync(fd: number, buf: Uint8Array, off: number, len: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, off, len, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && err.code === 'ENOENT') return 'no such file';
  if (err && err.code === 'EACCES') return 'permission denied';
  if (err && err.code === 'EISDIR') return 'is a directory';
  return err && err.message ? err.message.split('\n')[0] : String(e);
}

export class ChunkSource {
  buf: Uint8Array;
  view: DataView;
  /** Next unread byte. */
  start = 0;
  /** End of the valid bytes. */
  end = 0;
  eof = false;
  /** File offset of buf[0] (for messages). */
  base = 0;

  private constructor(
    readonly path: string,
    private fd: number,
    private readonly ownsFd: boolean,
    chunkBytes: number,
  ) {
    this.buf = new Uint8Array(chunkBytes);
    this.view = new DataView(this.buf.buffer);
  }

  /** '-' reads standard input. Throws UmbraError(UMBRA_E_CAPTURE_OPEN). */
  static async open(path: string, chunkBytes = READ_CHUNK_BYTES): Promise<ChunkSource> {
    if (path === '-') return new ChunkSource(path, 0, false, chunkBytes);
    const fd = await new Promise<number>((resolve, reject) => {
      open(path, 'r', (err, fd) => (err ? reject(new UmbraError('UMBRA_E_CAPTURE_OPEN', path, errText(err))) : resolve(fd)));
    });
    return new ChunkSource(path, fd, true, chunkBytes);
  }

  get available(): number {
    return this.end - this.start;
  }

  /** Buffers at least n bytes from start, unless the input ends first. */
  async fill(n: number): Promise<void> {
    if (this.end - this.start >= n || this.eof) return;
    if (n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(n, Math.min(this.buf.length * 2, MAX_RECORD_BYTES + 64)));
      bigger.set(this.buf.subarray(this.start, this.end));
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    } else if (this.start + n > this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    while (this.end - this.start < n && !this.eof) {
      let got: number;
      try {
        got = await readAsync(this.fd, this.buf, this.end, this.buf.length - this.end);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          await new Promise((r) => setTimeout(r, EAGAIN_RETRY_MS));
          continue;
        }
        throw new UmbraError('UMBRA_E_CAPTURE_OPEN', this.path, errText(e));
      }
      if (got === 0) this.eof = true;
      else this.end += got;
    }
  }

  close(): void {
    if (this.ownsFd && this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      close(fd, () => undefined);
    }
  }
}
