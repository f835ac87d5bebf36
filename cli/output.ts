// Buffered writes to a stream (stdout): one syscall per OUTPUT_BUFFER_BYTES, not
// per event, honouring backpressure; a closed pipe (`| head`) ends quietly.
import type { Writable } from 'node:stream';

export const OUTPUT_BUFFER_BYTES = 64 * 1024;

export class OutputWriter {
  private parts: string[] = [];
  private size = 0;
  private closed = false;

  constructor(private readonly stream: Writable) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  write(s: string): void {
    if (this.closed) return;
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= OUTPUT_BUFFER_BYTES) this.flush();
  }

  flush(): void {
    if (this.size === 0 || this.closed) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.size = 0;
    this.stream.write(chunk);
  }

  /** A promise to await while the stream's buffer is full (backpressure), else null. */
  drained(): Promise<void> | null {
    if (this.closed || !this.stream.writableNeedDrain) return null;
    return new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
  }

  async end(): Promise<void> {
    this.flush();
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      if (this.stream.writableNeedDrain) this.stream.once('drain', () => resolve());
      else resolve();
    });
  }
}
