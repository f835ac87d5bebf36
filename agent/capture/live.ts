// Live capture through libpcap (the npm `pcap` package's native binding, used
// directly: its JavaScript wrapper allocates an object and emits an event per
// packet). One session per interface, non-blocking, polled by libuv; each packet
// is copied by the binding into one reused buffer per interface and handed over
// as a CapturedPacket valid only during the callback, as with capture files.
//
// - The kernel BPF filter (bpf.ts) is compiled and attached at open, so filtered
//   packets never leave the kernel.
// - Not promiscuous by default: an agent on a gateway sees the traffic it routes.
// - Kernel statistics (pcap_stats) are cumulative per session; `stats()` adds
//   their growth since the last call to the counters `capture.kernel_received`,
//   `capture.kernel_dropped` (ring buffer full: the agent was too slow) and
//   `capture.if_dropped` (dropped by the interface/driver).
// - Opening needs CAP_NET_RAW (root): open every interface first, then drop
//   privileges (privileges.ts). A closed session cannot be reopened without them.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import type { CapturedPacket } from '../packet.js';
import type { Counters } from '../stats.js';
import { UmbraError } from '../../common/errors.js';
import { linkTypeFromBinding } from './libpcap-reader.js';
import { DEFAULT_BPF_FILTER, DEFAULT_BPF_FILTER_NO_VLAN } from './bpf.js';

/** Default bytes kept of each packet (a whole Ethernet frame, or a GRO super-packet). */
export const DEFAULT_SNAP_BYTES = 65535;
/** Default kernel ring buffer per interface (mapped into the process: it counts in its RSS). */
export const DEFAULT_RING_BYTES = 16 * 1024 * 1024;
/** Default longest wait before the kernel hands over a partly filled block (ms). */
export const DEFAULT_BUFFER_TIMEOUT_MS = 100;
/** Smallest snap length accepted (Ethernet + IPv6 + TCP headers and a record header). */
export const MIN_SNAP_BYTES = 128;

export interface LiveCaptureOptions {
  /** Interface names (`any` is libpcap's Linux pseudo-interface). */
  interfaces: string[];
  /** BPF filter expression ('' captures everything). */
  filter: string;
  snapBytes?: number;
  ringBytes?: number;
  bufferTimeoutMs?: number;
  promiscuous?: boolean;
  /** A libpcap warning (e.g. promiscuous mode not supported). */
  onWarning?: (message: string) => void;
}

interface BindingSession {
  open_live(device: string, filter: string, bufferSize: number, snapLength: number, outfile: string, onPacket: () => void, monitor: boolean, timeoutMs: number, warn: (m: string) => void, promiscuous: boolean): string;
  dispatch(buf: Buffer, header: Buffer): number;
  start_polling(): void;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
  read_callback?: () => void;
}
interface Binding {
  PcapSession: new () => BindingSession;
}

const require = createRequire(import.meta.url);
let binding: Binding | null = null;
function pcapBinding(): Binding {
  return (binding ??= require('pcap/build/Release/pcap_binding') as Binding);
}

/** The person-facing error for a failed pcap open. */
export function captureOpenError(iface: string, message: string, filter: string): UmbraError {
  const m = message.split('\n')[0]!;
  if (/operation not permitted|permission denied|you don't have permission/i.test(m)) {
    return new UmbraError('UMBRA_E_CAPTURE_OPEN', iface, `permission denied (${m}): run umbra agent as root, or grant node CAP_NET_RAW and CAP_NET_ADMIN`);
  }
  if (/no such device|doesn't exist|SIOCGIFINDEX/i.test(m) || (iface !== 'any' && process.platform === 'linux' && !existsSync(`/sys/class/net/${iface}`))) {
    return new UmbraError('UMBRA_E_CAPTURE_OPEN', iface, `no such interface (${m})`);
  }
  if (/syntax error|can't parse|illegal|expression rejects|not supported|unknown|invalid/i.test(m) && filter !== '') {
    return new UmbraError('UMBRA_E_USAGE', `--filter: libpcap cannot compile the filter on ${iface}: ${m}`);
  }
  if (/is not up|network is down/i.test(m)) return new UmbraError('UMBRA_E_CAPTURE_OPEN', iface, `interface is down (${m})`);
  return new UmbraError('UMBRA_E_CAPTURE_OPEN', iface, m);
}

interface Tap {
  iface: string;
  session: BindingSession;
  buf: Buffer;
  header: Buffer;
  hv: DataView;
  packet: CapturedPacket;
  last: { recv: number; drop: number; ifdrop: number };
  open: boolean;
  /** The binding closed the pcap handle (dispatch returned -2): never call into it again. */
  finalized: boolean;
}

/** Open live sessions on one or more interfaces, delivering to one callback. */
export class LiveCapture {
  private readonly taps: Tap[] = [];
  private started = false;

  private constructor(private readonly counters: Counters) {}

  /**
   * Opens every interface (all or nothing: one failure closes the others and throws
   * an UmbraError naming the interface). Packets flow only after start().
   */
  static open(opts: LiveCaptureOptions, counters: Counters): LiveCapture {
    const lc = new LiveCapture(counters);
    const snap = opts.snapBytes ?? DEFAULT_SNAP_BYTES;
    if (!(snap >= MIN_SNAP_BYTES && snap <= 262144)) throw new UmbraError('UMBRA_E_USAGE', `snap length must be ${MIN_SNAP_BYTES}..262144 bytes (got ${snap})`);
    if (opts.interfaces.length === 0) throw new UmbraError('UMBRA_E_USAGE', 'no interface to capture on');
    const seen = new Set<string>();
    try {
      opts.interfaces.forEach((iface, index) => {
        if (seen.has(iface)) throw new UmbraError('UMBRA_E_USAGE', `interface ${iface} given twice`);
        seen.add(iface);
        let session = new (pcapBinding().PcapSession)();
        const buf = Buffer.alloc(snap);
        const header = Buffer.alloc(16);
        const packet: CapturedPacket = { tsSec: 0, tsNsec: 0, linkType: 1, data: buf, origLen: 0, interfaceId: index };
        const tap: Tap = { iface, session, buf, header, hv: new DataView(header.buffer, header.byteOffset, 16), packet, last: { recv: 0, drop: 0, ifdrop: 0 }, open: false, finalized: false };
        let lt: string;
        const open = (filter: string): string => session.open_live(iface, filter, opts.ringBytes ?? DEFAULT_RING_BYTES, snap, '', () => lc.deliver(tap), false,
            opts.bufferTimeoutMs ?? DEFAULT_BUFFER_TIMEOUT_MS, (m) => {
            // an interface without an IPv4 address is normal for a capture port
            if (!/SIOCGIFADDR/.test(m)) opts.onWarning?.(`${iface}: ${m}`);
          }, opts.promiscuous ?? false);
        try {
          try {
            lt = open(opts.filter);
          } catch (e) {
            // the default prefilter's VLAN branch exists only for Ethernet
            if (opts.filter !== DEFAULT_BPF_FILTER || !/no VLAN support/i.test((e as Error).message)) throw e;
            session.close();
            session = new (pcapBinding().PcapSession)();
            tap.session = session;
            lt = open(DEFAULT_BPF_FILTER_NO_VLAN);
          }
        } catch (e) {
          throw captureOpenError(iface, (e as Error).message, opts.filter);
        }
        tap.open = true;
        lc.taps.push(tap);
        const linkType = linkTypeFromBinding(lt);
        if (linkType < 0) throw new UmbraError('UMBRA_E_CAPTURE_OPEN', iface, `unsupported link type (${lt})`);
        packet.linkType = linkType;
      });
    } catch (e) {
      lc.close();
      throw e;
    }
    return lc;
  }

  /** Interface names and link types, in --interface order. */
  describe(): { iface: string; linkType: number }[] {
    return this.taps.map((t) => ({ iface: t.iface, linkType: t.packet.linkType }));
  }

  private onPacket: (p: CapturedPacket) => void = () => {};

  private deliver(t: Tap): void {
    if (!t.open) return;
    const hv = t.hv;
    const p = t.packet;
    p.tsSec = hv.getUint32(0, true);
    p.tsNsec = hv.getUint32(4, true) * 1000;
    let caplen = hv.getUint32(8, true);
    if (caplen > t.buf.length) caplen = t.buf.length;
    p.origLen = hv.getUint32(12, true);
    p.data = new Uint8Array(t.buf.buffer, t.buf.byteOffset, caplen);
    this.onPacket(p);
  }

  /** Starts delivering packets (from the event loop) to onPacket. */
  start(onPacket: (p: CapturedPacket) => void): void {
    if (this.started) return;
    this.started = true;
    this.onPacket = onPacket;
    for (const t of this.taps) {
      const { session, buf, header } = t;
      // After close() this still runs until the binding finalizes the handle (see close()).
      session.read_callback = () => {
        if (!t.finalized && session.dispatch(buf, header) === -2) t.finalized = true;
      };
      session.start_polling();
      // packets already in the ring before polling started
      setImmediate(() => session.read_callback?.());
    }
  }

  /** Adds the kernel counters' growth since the last call to the counters. */
  stats(): void {
    for (const t of this.taps) {
      if (!t.open) continue;
      let s;
      try {
        s = t.session.stats();
      } catch {
        this.counters.inc('capture.stats_errors');
        continue;
      }
      // u_int counters wrap at 2^32
      const d = (now: number, before: number): number => (now >= before ? now - before : now + 2 ** 32 - before);
      const recv = d(s.ps_recv, t.last.recv);
      const drop = d(s.ps_drop, t.last.drop);
      const ifdrop = d(s.ps_ifdrop, t.last.ifdrop);
      if (recv) this.counters.inc('capture.kernel_received', recv);
      if (drop) this.counters.inc('capture.kernel_dropped', drop);
      if (ifdrop) this.counters.inc('capture.if_dropped', ifdrop);
      t.last = { recv: s.ps_recv, drop: s.ps_drop, ifdrop: s.ps_ifdrop };
    }
  }

  /** Reads what the rings still hold, takes the final statistics and closes every session. */
  close(): void {
    for (const t of this.taps) {
      if (!t.open) continue;
      if (this.started && t.session.dispatch(t.buf, t.header) === -2) t.finalized = true;
    }
    this.stats();
    for (const t of this.taps) {
      if (!t.open) continue;
      t.open = false;
      if (t.finalized) continue;
      t.session.close();
      // close() only breaks libpcap's loop; the binding closes the handle and stops
      // polling in the next dispatch that returns -2, which in non-blocking mode
      // happens only once another packet arrives. Until then the poll handle keeps
      // the event loop alive: a process that wants to end calls process.exit
      // (cli/agent.ts does) — the kernel releases the socket and its ring then.
      if (t.session.dispatch(t.buf, t.header) === -2) t.finalized = true;
    }
  }
}
