// Every fixture capture of the repository, and the facts tshark/capinfos/tcpdump
// recorded about the format fixtures (test/tools/format-expected.py).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { FIXTURES, fixture } from '../../helpers/root.js';

export const FORMAT_DIR = fixture('captures', 'format');

/** [sec, nsec, caplen, len, interfaceId (within its section), md5, LINKTYPE] */
export type ExpectedPacket = [number, number, number, number, number, string, number];

export interface ExpectedL4 {
  frame: number;
  src: string;
  dst: string;
  transport: 'udp' | 'tcp';
  srcPort: number;
  dstPort: number;
  payloadLength: number;
  seq: number;
  ack: number;
  flags: number;
}

export interface ExpectedFile {
  capinfosPackets: number | null;
  linkTypes: number[];
  packets: ExpectedPacket[];
  first: [number, number] | null;
  last: [number, number] | null;
  l4: ExpectedL4[];
  libpcapReads: boolean;
  libpcapPackets: number;
  libpcapMessage: string;
}

export const EXPECTED: Record<string, ExpectedFile> = JSON.parse(readFileSync(join(FORMAT_DIR, 'EXPECTED.json'), 'utf8')).files;

/** All *.pcap / *.pcapng under test/fixtures/, relative paths sorted. */
export function allCaptures(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.pcap') || name.endsWith('.pcapng')) out.push(relative(FIXTURES, p));
    }
  };
  walk(FIXTURES);
  return out.sort();
}
