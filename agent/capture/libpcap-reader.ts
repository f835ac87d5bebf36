// The reference reader: libpcap's own savefile code through the npm `pcap`
// package's offline session, behind the same API as reader.ts.
//
// What libpcap (1.10) and this binding impose, and the tests account for:
// - timestamps come in microseconds (ns files are cut to µs), so tsNsec is a
//   multiple of 1000;
// - a pcapng file whose interfaces differ in link type or snaplen stops at the
//   first such interface (libpcap's error; the packets before it are delivered);
// - any error inside the file just ends the packets (the binding reports none);
// - the session hands over DLTs, named for five of them: they are mapped back to
//   LINKTYPE values (DLT_RAW -> LINKTYPE_RAW 101);
// - packets are copied into one buffer of LIBPCAP_SNAP_BYTES (libpcap's maximum
//   snapshot length), so p.data is valid only during the callback, as in reader.ts.

import { createRequire } from 'node:module';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { CapturedPacket } from '../packet.js';
import type { Counters } from '../stats.js';
import { UmbraError } from '../../common/errors.js';
import type { CaptureSummary, OnPacket } from './reader.js';

/** libpcap's MAXIMUM_SNAPLEN: the copy buffer the binding fills. */
export const LIBPCAP_SNAP_BYTES = 262144;

interface PcapSessionLike {
  link_type: string;
  on(ev: 'packet', cb: (raw: { buf: Buffer; header: Buffer }) => void): void;
  on(ev: 'complete', cb: () => void): void;
  close(): void;
}
interface PcapModule {
  PcapSession: new (isLive: boolean, path: string, filter: string, bufferSize: number, snapLength: number, outfile: null) => PcapSessionLike;
}

const require = createRequire(import.meta.url);
let pcapModule: PcapModule | null = null;
function pcap(): PcapModule {
  if (!pcapModule) pcapModule = require('pcap') as PcapModule;
  return pcapModule;
}

const NAMED_LINK_TYPES: Record<string, number> = {
  LINKTYPE_NULL: 0,
  LINKTYPE_ETHERNET: 1,
  LINKTYPE_IEEE802_11_RADIO: 127,
  LINKTYPE_RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
};

/** The binding's link_type string ('LINKTYPE_ETHERNET' or 'Unknown linktype 276') as a LINKTYPE number. */
export function linkTypeFromBinding(s: string): number {
  const named = NAMED_LINK_TYPES[s];
  if (named !== undefined) return named;
  const m = /^Unknown linktype (\d+)$/.exec(s);
  return m ? Number(m[1]) : -1;
}

function openError(path: string, e: unknown): UmbraError {
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  if (path !== '-' && !existsSync(path)) return new UmbraError('UMBRA_E_CAPTURE_OPEN', path, 'no such file');
  if (path !== '-' && statSync(path).isDirectory()) return new UmbraError('UMBRA_E_CAPTURE_OPEN', path, 'is a directory');
  if (/truncated/i.test(msg)) return new UmbraError('UMBRA_E_CAPTURE_TRUNCATED', path, msg);
  if (/unknown file format|bad dump file format|version|magic/i.test(msg)) return new UmbraError('UMBRA_E_CAPTURE_FORMAT', path, msg);
  return new UmbraError('UMBRA_E_CAPTURE_OPEN', path, msg);
}

/** pcapng or classic, from the first four bytes (libpcap does not say); stdin is not peeked. */
function formatOf(path: string): 'pcap' | 'pcapng' {
  if (path === '-') return 'pcap';
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === 0x0a0d0d0a ? 'pcapng' : 'pcap';
  } finally {
    closeSync(fd);
  }
}

/** Same contract as reader.ts readCapture, through libpcap. */
export function readCaptureLibpcap(path: string, onPacket: OnPacket, _counters: Counters): Promise<CaptureSummary> {
  let session: PcapSessionLike;
  try {
    session = new (pcap().PcapSession)(false, path, '', 0, LIBPCAP_SNAP_BYTES, null);
  } catch (e) {
    return Promise.reject(openError(path, e));
  }
  const linkType = linkTypeFromBinding(session.link_type);
  const summary: CaptureSummary = { path, format: formatOf(path), linkTypes: [linkType], packets: 0, bytes: 0 };
  const p: CapturedPacket = { tsSec: 0, tsNsec: 0, linkType, data: new Uint8Array(0), origLen: 0, interfaceId: 0 };
  return new Promise((resolve, reject) => {
    session.on('packet', (raw) => {
      const h = raw.header;
      const caplen = h.readUInt32LE(8);
      p.tsSec = h.readUInt32LE(0);
      p.tsNsec = h.readUInt32LE(4) * 1000;
      p.origLen = h.readUInt32LE(12);
      p.data = raw.buf.subarray(0, Math.min(caplen, raw.buf.length));
      summary.packets++;
      summary.bytes += p.data.length;
      try {
        onPacket(p);
      } catch (e) {
        session.close();
        reject(e);
      }
    });
    session.on('complete', () => {
      session.close();
      resolve(summary);
    });
  });
}

/** Same contract as reader.ts readCaptures (timestamp-ordered k-way merge, each file's order kept), through libpcap: files are read whole and merged in memory, so this is for tests, not for large files. */
export async function readCapturesLibpcap(paths: string[], onPacket: OnPacket, counters: Counters): Promise<CaptureSummary[]> {
  const files: CapturedPacket[][] = [];
  const summaries: CaptureSummary[] = [];
  for (const path of paths) {
    const list: CapturedPacket[] = [];
    files.push(list);
    summaries.push(await readCaptureLibpcap(path, (p) => list.push({ ...p, data: new Uint8Array(p.data) }), counters));
  }
  const head = files.map(() => 0);
  for (;;) {
    let best = -1;
    for (let f = 0; f < files.length; f++) {
      if (head[f] >= files[f].length) continue;
      const p = files[f][head[f]];
      if (best < 0) best = f;
      else {
        const q = files[best][head[best]];
        if (p.tsSec < q.tsSec || (p.tsSec === q.tsSec && p.tsNsec < q.tsNsec)) best = f;
      }
    }
    if (best < 0) break;
    onPacket(files[best][head[best]++]);
  }
  return summaries;
}
