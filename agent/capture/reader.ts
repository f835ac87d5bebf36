// Capture files to packets: classic pcap and pcapng, from a path or '-' (stdin),
// streamed through one reused buffer per file (constant memory), and several files
// merged in timestamp order. The pure TypeScript reader; libpcap-reader.ts is the
// reference it is tested against.
//
// Errors for people (UmbraError): a file that cannot be opened, is not a capture,
// or ends inside its header. Inside the file nothing throws: a record cut short at
// the end is counted (`capture.truncated_record`), an absurd record length stops
// that file (`capture.bad_record_length`) keeping what was read before it.

import type { CapturedPacket } from '../packet.js';
import type { Counters } from '../stats.js';
import { UmbraError } from '../../common/errors.js';
import { ChunkSource, MAX_RECORD_BYTES, READ_CHUNK_BYTES } from './chunk-source.js';
import { ADV_END, ADV_NEED, ADV_PACKET, ClassicParser, PCAP_FILE_HEADER_BYTES, classicMagic, type FormatParser } from './pcap-classic.js';
import { PCAPNG_MIN_SHB_BYTES, PCAPNG_SHB, PcapngParser } from './pcapng.js';

export type OnPacket = (p: CapturedPacket) => void;

export interface ReadOptions {
  /** Called before each read of more input: a promise returned is awaited first
   *  (backpressure, e.g. stdout full); null to go on at once. */
  pause?: () => Promise<void> | null;
}

export interface CaptureSummary {
  path: string;
  format: 'pcap' | 'pcapng';
  /** Link types declared by the file (classic: one; pcapng: one per interface, in order). */
  linkTypes: number[];
  packets: number;
  /** Captured bytes handed over (sum of caplen). */
  bytes: number;
}

/** Total buffer budget when merging many files: each file gets a share (at least MIN_MERGE_CHUNK_BYTES). */
export const MERGE_BUFFER_BUDGET_BYTES = 64 * 1024 * 1024;
export const MIN_MERGE_CHUNK_BYTES = 256 * 1024;

/** One open capture file, pulled packet by packet. */
export class CaptureFileReader {
  packets = 0;
  bytes = 0;
  private constructor(
    readonly path: string,
    private readonly src: ChunkSource,
    private readonly parser: FormatParser,
  ) {}

  static async open(path: string, counters: Counters, chunkBytes = READ_CHUNK_BYTES): Promise<CaptureFileReader> {
    const src = await ChunkSource.open(path, chunkBytes);
    try {
      await src.fill(PCAP_FILE_HEADER_BYTES);
      const avail = src.available;
      if (avail === 0) throw new UmbraError('UMBRA_E_CAPTURE_TRUNCATED', path, 'empty file');
      if (avail < 4) throw new UmbraError('UMBRA_E_CAPTURE_TRUNCATED', path, `${avail} bytes, not even a magic number`);
      const v = src.view;
      const le32 = v.getUint32(src.start, true);
      let parser: FormatParser;
      if (classicMagic(le32)) {
        if (avail < PCAP_FILE_HEADER_BYTES) {
          throw new UmbraError('UMBRA_E_CAPTURE_TRUNCATED', path, `pcap file header is ${avail} of ${PCAP_FILE_HEADER_BYTES} bytes`);
        }
        parser = new ClassicParser(src, counters);
      } else if (le32 === PCAPNG_SHB) {
        if (avail < 12) throw new UmbraError('UMBRA_E_CAPTURE_TRUNCATED', path, `pcapng section header is ${avail} of at least ${PCAPNG_MIN_SHB_BYTES} bytes`);
        const bom = v.getUint32(src.start + 8, true);
        if (bom !== 0x1a2b3c4d && bom !== 0x4d3c2b1a) {
          throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', path, `pcapng section header with bad byte-order magic 0x${bom.toString(16)}`);
        }
        const bomLe = bom === 0x1a2b3c4d;
        const blen = v.getUint32(src.start + 4, bomLe);
        if (blen < PCAPNG_MIN_SHB_BYTES || blen % 4 !== 0 || blen > MAX_RECORD_BYTES) {
          throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', path, `pcapng section header with bad length ${blen}`);
        }
        await src.fill(Math.min(Math.max(blen, PCAPNG_MIN_SHB_BYTES), 1 << 20));
        if (src.available < Math.max(blen, PCAPNG_MIN_SHB_BYTES) && src.eof) {
          throw new UmbraError('UMBRA_E_CAPTURE_TRUNCATED', path, `pcapng section header is ${src.available} of ${Math.max(blen, PCAPNG_MIN_SHB_BYTES)} bytes`);
        }
        parser = new PcapngParser(src, counters);
      } else {
        const be = v.getUint32(src.start, false);
        throw new UmbraError('UMBRA_E_CAPTURE_FORMAT', path, `unknown magic 0x${be.toString(16).padStart(8, '0')}`);
      }
      return new CaptureFileReader(path, src, parser);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  /** The current packet after next() returned ADV_PACKET; valid until the next call. */
  get packet(): CapturedPacket {
    return this.parser.packet;
  }

  /** Synchronous step: ADV_PACKET (1), ADV_END (0) or ADV_NEED (-1: await more()). */
  next(): number {
    const r = this.parser.advance();
    if (r === ADV_PACKET) {
      this.packets++;
      this.bytes += this.parser.packet.data.length;
    }
    return r;
  }

  more(): Promise<void> {
    return this.src.fill(this.parser.need);
  }

  /** Pulls the next packet, awaiting I/O only when the buffer runs dry; false at the end. */
  async advance(): Promise<boolean> {
    for (;;) {
      const r = this.next();
      if (r === ADV_PACKET) return true;
      if (r === ADV_END) return false;
      await this.more();
    }
  }

  summary(): CaptureSummary {
    return { path: this.path, format: this.parser.format, linkTypes: this.parser.linkTypes(), packets: this.packets, bytes: this.bytes };
  }

  /** Size of the read and prefetch buffers (constant unless one record is larger than the headroom). */
  get bufferBytes(): number {
    return this.src.capacity;
  }

  close(): void {
    this.src.close();
  }
}

/** Reads one capture ('-' = stdin); onPacket runs synchronously, p.data is valid only during the call. */
export async function readCapture(path: string, onPacket: OnPacket, counters: Counters, opts: ReadOptions = {}): Promise<CaptureSummary> {
  const r = await CaptureFileReader.open(path, counters);
  try {
    for (;;) {
      const s = r.next();
      if (s === ADV_PACKET) onPacket(r.packet);
      else if (s === ADV_END) break;
      else {
        const wait = opts.pause?.();
        if (wait) await wait;
        await r.more();
      }
    }
    return r.summary();
  } finally {
    r.close();
  }
}

/**
 * Reads several captures merged in timestamp order (k-way merge on a binary heap;
 * ties and equal timestamps keep file order, packets of one file keep their order
 * even if its own timestamps go backwards). All files are opened first, so a bad
 * file fails before any packet is delivered.
 */
export async function readCaptures(paths: string[], onPacket: OnPacket, counters: Counters, opts: ReadOptions = {}): Promise<CaptureSummary[]> {
  if (paths.length === 1) return [await readCapture(paths[0], onPacket, counters, opts)];
  const chunk = Math.max(MIN_MERGE_CHUNK_BYTES, Math.min(READ_CHUNK_BYTES, Math.floor(MERGE_BUFFER_BUDGET_BYTES / Math.max(1, paths.length))));
  const readers: CaptureFileReader[] = [];
  try {
    for (const p of paths) readers.push(await CaptureFileReader.open(p, counters, chunk));
    const heap: number[] = [];
    const before = (a: number, b: number): boolean => {
      const pa = readers[a].packet;
      const pb = readers[b].packet;
      if (pa.tsSec !== pb.tsSec) return pa.tsSec < pb.tsSec;
      if (pa.tsNsec !== pb.tsNsec) return pa.tsNsec < pb.tsNsec;
      return a < b;
    };
    const push = (i: number): void => {
      let k = heap.length;
      heap.push(i);
      while (k > 0) {
        const parent = (k - 1) >> 1;
        if (!before(heap[k], heap[parent])) break;
        [heap[k], heap[parent]] = [heap[parent], heap[k]];
        k = parent;
      }
    };
    const siftDown = (): void => {
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === k) return;
        [heap[k], heap[m]] = [heap[m], heap[k]];
        k = m;
      }
    };
    for (let i = 0; i < readers.length; i++) if (await readers[i].advance()) push(i);
    while (heap.length > 0) {
      const i = heap[0];
      onPacket(readers[i].packet);
      const r = readers[i];
      let s = r.next();
      while (s === ADV_NEED) {
        const wait = opts.pause?.();
        if (wait) await wait;
        await r.more();
        s = r.next();
      }
      if (s === ADV_PACKET) siftDown();
      else {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          siftDown();
        }
      }
    }
    return readers.map((r) => r.summary());
  } finally {
    for (const r of readers) r.close();
  }
}
