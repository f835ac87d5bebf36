// The DecodeError reason a call raises ('no error' when it returns); any other
// exception is rethrown, so a decoder that throws something else fails the test.
import { DecodeError } from '../../agent/decode/decode-error.js';

export function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecodeError) return e.reason;
    throw e;
  }
  return 'no error';
}
