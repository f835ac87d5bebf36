// The one catalogue of errors Umbra reports to people (fastify's FST_ERR_ habit):
// a stable code, a message template and the CLI exit status. Wire decoders do not
// use these: they raise DecodeError (agent/decode/decode-error.ts), which the
// pipeline counts and skips.

export const ERRORS = {
  UMBRA_E_USAGE: { exit: 2, message: '%s' },
  UMBRA_E_CAPTURE_OPEN: { exit: 2, message: '%s: cannot open capture: %s' },
  UMBRA_E_CAPTURE_FORMAT: { exit: 2, message: '%s: not a capture file: %s' },
  UMBRA_E_CAPTURE_TRUNCATED: { exit: 2, message: '%s: truncated capture header: %s' },
  UMBRA_E_CONFIG: { exit: 2, message: '%s: %s' },
  UMBRA_E_SIGNATURES: { exit: 2, message: '%s' },
  UMBRA_E_STORE: { exit: 1, message: '%s: %s' },
  UMBRA_E_TLS: { exit: 2, message: '%s' },
  UMBRA_E_INTERNAL: { exit: 1, message: '%s' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error meant for a person: one line, no stack trace, a stable code. */
export class UmbraError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(code: ErrorCode, ...args: string[]) {
    let i = 0;
    const msg = ERRORS[code].message.replace(/%s/g, () => String(args[i++] ?? ''));
    super(msg);
    this.name = 'UmbraError';
    this.code = code;
    this.exitCode = ERRORS[code].exit;
  }

  /** The same error from its code and final message (after crossing a worker-thread boundary). */
  static rebuilt(code: ErrorCode, message: string): UmbraError {
    const e = new UmbraError(code);
    e.message = message;
    return e;
  }
}
