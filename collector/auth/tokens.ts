// Bearer tokens of agents and admins. Only SHA-256 digests are kept (in the
// config, or hashed at load from a file or an environment variable); a presented
// token is hashed and compared with every known digest by crypto.timingSafeEqual,
// without stopping at the first match, so timing says nothing about which or
// how many digests were close.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Random bytes in a generated token (256 bits). */
export const TOKEN_BYTES = 32;
/** Longest Authorization header value looked at; longer is refused unread. */
export const MAX_AUTHORIZATION_CHARS = 1024;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** 64 hex digits → 32 bytes (the caller has checked the pattern). */
export function parseSha256Hex(hex: string): Buffer {
  const b = Buffer.from(hex, 'hex');
  if (b.length !== 32) throw new Error(`not a SHA-256 hex digest: ${hex}`);
  return b;
}

/** A new random token (base64url, no padding) and its SHA-256 in hex, for `umbra.yaml`. */
export function generateToken(): { token: string; sha256: string } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, sha256: hashToken(token).toString('hex') };
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header || header.length > MAX_AUTHORIZATION_CHARS) return null;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** Maps tokens to the id of their holder. */
export class TokenTable {
  private readonly ids: string[];
  private readonly digests: Buffer[];

  constructor(entries: readonly { id: string; tokenSha256: Buffer }[]) {
    this.ids = entries.map((e) => e.id);
    this.digests = entries.map((e) => e.tokenSha256);
  }

  get size(): number {
    return this.ids.length;
  }

  /** The id holding this token, or null. Compares with every digest in constant time. */
  lookup(token: string | null): string | null {
    if (token === null) return null;
    const d = hashToken(token);
    let found = -1;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(d, this.digests[i]!) && found < 0) found = i;
    }
    return found < 0 ? null : this.ids[found]!;
  }
}
