// pcapng timestamps: a 64-bit count of units (if_tsresol: 10^-k or 2^-k seconds)
// split into seconds and nanoseconds exactly, with double arithmetic that never
// exceeds 2^53 and no allocation; resolutions finer than 2^-32 s (or 10^-9 s
// beyond what fits) take a BigInt path.

export interface TsResolution {
  /** Units per second when it fits in 32 bits (fast path), else 0. */
  div: number;
  /** 10^k: k; 2^k: -1. */
  decimalExp: number;
  /** 2^k: k; 10^k: -1. */
  binaryExp: number;
  /** Units per second as BigInt (slow path). */
  big: bigint;
}

/** Parses the if_tsresol byte (default 6: microseconds). */
export function tsResolution(byte: number): TsResolution {
  const exp = byte & 0x7f;
  const binary = (byte & 0x80) !== 0;
  const big = binary ? 1n << BigInt(exp) : 10n ** BigInt(exp);
  const fits = big <= 0x1_0000_0000n;
  return { div: fits ? Number(big) : 0, decimalExp: binary ? -1 : exp, binaryExp: binary ? exp : -1, big };
}

export const RES_MICRO = tsResolution(6);

/** Writes seconds and nanoseconds of (hi·2^32 + lo) units into out. */
export function splitTimestamp(hi: number, lo: number, r: TsResolution, out: { tsSec: number; tsNsec: number }): void {
  const div = r.div;
  if (div === 0) return splitBig(hi, lo, r, out);
  // long division by 16-bit digits: every intermediate < div·2^16 <= 2^48
  const qHi = Math.floor(hi / div);
  let rem = hi - qHi * div;
  let cur = rem * 65536 + (lo >>> 16);
  const q1 = Math.floor(cur / div);
  rem = cur - q1 * div;
  cur = rem * 65536 + (lo & 0xffff);
  const q2 = Math.floor(cur / div);
  rem = cur - q2 * div;
  out.tsSec = qHi * 4294967296 + q1 * 65536 + q2;
  if (r.decimalExp >= 0) {
    // 10^k, k <= 9 here (div fits 32 bits): exact multiply
    out.tsNsec = rem * 10 ** (9 - r.decimalExp);
  } else {
    const k = r.binaryExp;
    // rem < 2^k; rem·10^9/2^k = rem·5^9·2^9/2^k, and rem·5^9 < 2^53 for k <= 32
    out.tsNsec = k >= 9 ? Math.floor((rem * 1953125) / 2 ** (k - 9)) : Math.floor((rem * 1e9) / 2 ** k);
  }
}

function splitBig(hi: number, lo: number, r: TsResolution, out: { tsSec: number; tsNsec: number }): void {
  const t = (BigInt(hi) << 32n) | BigInt(lo);
  out.tsSec = Number(t / r.big);
  out.tsNsec = Number(((t % r.big) * 1_000_000_000n) / r.big);
}
