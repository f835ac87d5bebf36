// Test-only: builds TLS ClientHello bytes field by field (RFC 8446 4.1.2), so tests
// can put exactly the values a published vector lists on the wire.

export interface Ext {
  type: number;
  data: Uint8Array;
}

export interface HelloSpec {
  legacyVersion?: number;
  sessionId?: Uint8Array;
  ciphers: number[];
  extensions?: Ext[];
  /** Omit the extensions block altogether (pre-TLS-1.2 clients). */
  noExtensionBlock?: boolean;
}

const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];

export function bytes(...parts: (number[] | Uint8Array)[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The ClientHello handshake message (type byte first). */
export function buildClientHello(spec: HelloSpec): Uint8Array {
  const random = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
  const sid = spec.sessionId ?? new Uint8Array(32).map((_, i) => (i * 13 + 1) & 0xff);
  const cs = spec.ciphers.flatMap(u16);
  const exts = (spec.extensions ?? []).map((e) => bytes(u16(e.type), u16(e.data.length), e.data));
  const extBlock = spec.noExtensionBlock ? new Uint8Array(0) : bytes(u16(exts.reduce((s, e) => s + e.length, 0)), ...exts);
  const body = bytes(u16(spec.legacyVersion ?? 0x0303), random, [sid.length], sid, u16(cs.length), cs, [1, 0], extBlock);
  return bytes([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff], body);
}

export function sniExt(name: string | Uint8Array): Ext {
  const n = typeof name === 'string' ? new TextEncoder().encode(name) : name;
  return { type: 0x0000, data: bytes(u16(n.length + 3), [0], u16(n.length), n) };
}

export function alpnExt(protos: (string | Uint8Array)[]): Ext {
  const items = protos.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p)).map((p) => bytes([p.length], p));
  const list = bytes(...items);
  return { type: 0x0010, data: bytes(u16(list.length), list) };
}

export function supportedVersionsExt(versions: number[]): Ext {
  return { type: 0x002b, data: bytes([versions.length * 2], versions.flatMap(u16)) };
}

export function sigAlgsExt(algs: number[]): Ext {
  return { type: 0x000d, data: bytes(u16(algs.length * 2), algs.flatMap(u16)) };
}

export function opaqueExt(type: number, len = 0): Ext {
  return { type, data: new Uint8Array(len).map((_, i) => (i * 31 + type) & 0xff) };
}

/** Frames a handshake stream into TLS records of the given body sizes (the rest in one last record). */
export function toRecords(hs: Uint8Array, sizes: number[] = []): Uint8Array {
  const recs: Uint8Array[] = [];
  let at = 0;
  for (const s of sizes) {
    if (at >= hs.length) break;
    const body = hs.subarray(at, Math.min(at + s, hs.length));
    recs.push(bytes([0x16, 0x03, 0x01], u16(body.length), body));
    at += body.length;
  }
  if (at < hs.length) {
    const body = hs.subarray(at);
    recs.push(bytes([0x16, 0x03, 0x01], u16(body.length), body));
  }
  return bytes(...recs);
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}
