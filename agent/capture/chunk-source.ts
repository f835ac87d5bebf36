// Streams a file (or stdin) through one reused buffer, in large reads: memory stays
// at the buffer size whatever the file size. Parsers look at buf[start, end) and
// ask fill(n) for more when a record is not whole yet.

import { open, read, close } from 'node:fs';
import { UmbraError } from '../../common/errors.js';

/** Bytes asked of the OS per read. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** The largest record (pcap packet record or pcapng block) we accept; libpcap's pcapng cap too. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Room kept in front of a prefetched chunk for the partial record left over from the previous one. */
export const PREFETCH_HEADROOM_BYTES = 256 * 1024;
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

  /** The next chunk, read into `spare` at PREFETCH_HEADROOM_BYTES while the parser works on `buf`
   *  (the read runs on libuv's thread pool: on a busy file this overlaps I/O with parsing). */
  private spare: Uint8Array | null = null;
  private pending: Promise<number> | null = null;
  private pendingError: unknown = null;

  private constructor(
    readonly path: string,
    private fd: number,
    private readonly ownsFd: boolean,
    chunkBytes: number,
  ) {
    this.buf = new Uint8Array(chunkBytes + PREFETCH_HEADROOM_BYTES);
    this.view = new DataView(this.buf.buffer);
  }

  private prefetch(): void {
    if (this.eof || this.pending || this.fd < 0) return;
    const spare = (this.spare ??= new Uint8Array(this.buf.length));
    this.pending = readAsync(this.fd, spare, PREFETCH_HEADROOM_BYTES, spare.length - PREFETCH_HEADROOM_BYTES).catch((e) => {
      this.pendingError = e;
      return -1;
    });
  }

  /** Takes the prefetched chunk if the leftover fits in front of it; false if there was none to take. */
  private async takePrefetched(): Promise<boolean> {
    if (!this.pending) return false;
    const leftover = this.end - this.start;
    if (leftover > PREFETCH_HEADROOM_BYTES) return false;
    const got = await this.pending;
    this.pending = null;
    if (got < 0) {
      const e = this.pendingError;
      this.pendingError = null;
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return false;
      throw new UmbraError('UMBRA_E_CAPTURE_OPEN', this.path, errText(e));
    }
    const next = this.spare!;
    const at = PREFETCH_HEADROOM_BYTES - leftover;
    next.set(this.buf.subarray(this.start, this.end), at);
    this.base += this.start - at;
    this.spare = this.buf;
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.start = at;
    this.end = PREFETCH_HEADROOM_BYTES + got;
    if (got === 0) this.eof = true;
    return true;
  }

  /** '-' reads standard input. Throws UmbraError(UMBRA_E_CAPTURE_OPEN). */
  static async open(path: string, chunkBytes = READ_CHUNK_BYTES): Promise<ChunkSource> {
    if (path === '-') return new ChunkSource(path, 0, false, chunkBytes);
    const fd = await new Promise<number>((resolve, reject) => {
      open(path, 'r', (err, fd) => (err ? reject(new UmbraError('UMBRA_E_CAPTURE_OPEN', path, errText(err))) : resolve(fd)));
    });
    return new ChunkSource(path, fd, true, chunkBytes);
  }

  /** Bytes of buffer held: the read buffer and the prefetch buffer. */
  get capacity(): number {
    return this.buf.length + (this.spare?.length ?? 0);
  }

  get available(): number {
    return this.end - this.start;
  }

  /** Buffers at least n bytes from start, unless the input ends first. */
  async fill(n: number): Promise<void> {
    if (this.end - this.start >= n || this.eof) return;
    while (this.end - this.start < n && !this.eof && (await this.takePrefetched())) this.prefetch();
    if (this.end - this.start >= n || this.eof) return;
    if (this.pending) {
      // a record larger than the headroom: append the prefetched bytes the slow way
      const got = await this.pending;
      this.pending = null;
      if (got < 0) throw new UmbraError('UMBRA_E_CAPTURE_OPEN', this.path, errText(this.pendingError));
      const chunk = this.spare!.slice(PREFETCH_HEADROOM_BYTES, PREFETCH_HEADROOM_BYTES + got);
      if (got === 0) this.eof = true;
      await this.fillFrom(chunk, n);
      return;
    }
    await this.fillFrom(null, n);
  }

  private async fillFrom(first: Uint8Array | null, n: number): Promise<void> {
    const need = Math.max(n, first ? this.end - this.start + first.length : 0);
    if (need > this.buf.length) {
      const bigger = new Uint8Array(Math.max(need, Math.min(this.buf.length * 2, MAX_RECORD_BYTES + 64)));
      bigger.set(this.buf.subarray(this.start, this.end));
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
      this.spare = null; // sizes differ now: a fresh spare is made at the next prefetch
    } else if (this.start + need > this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (first) {
      this.buf.set(first, this.end);
      this.end += first.length;
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
    this.prefetch();
  }

  close(): void {
    if (this.ownsFd && this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      // never close under a read still in flight (the descriptor number could be reused)
      const p = this.pending;
      this.pending = null;
      if (p) void p.then(() => close(fd, () => undefined));
      else close(fd, () => undefined);
    }
  }
}
