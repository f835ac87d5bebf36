// The only error a wire decoder may raise: a reason code that the pipeline counts
// by name (e.g. `tls.truncated_hello`) before skipping the input.

export class DecodeError extends Error {
  /** Counter name, `<decoder>.<reason>`, e.g. `ipv4.bad_header_length`. */
  readonly reason: string;
  constructor(reason: string, detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = 'DecodeError';
    this.reason = reason;
  }
}

/** What every `decode(view, offset)` returns: the value and the bytes consumed. */
export interface Decoded<T> {
  value: T;
  bytes: number;
}

/** Throws DecodeError(reason) unless `need` bytes are available at `offset`. */
export function need(buf: Uint8Array, offset: number, need: number, reason: string): void {
  if (offset < 0 || offset + need > buf.length) throw new DecodeError(reason, `need ${need} bytes at ${offset}, have ${buf.length - offset}`);
}
