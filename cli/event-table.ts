// One aligned line per event for people reading a terminal.
import type { UmbraEvent } from '../agent/event.js';

const COLS: [string, number][] = [['TIME', 27], ['SOURCE', 22], ['DESTINATION', 24], ['PROTO', 5], ['ACTION', 16], ['NAME', 34], ['SERVICE', 28], ['VIA', 9]];

export const TABLE_HEADER = COLS.map(([h, w]) => h.padEnd(w)).join(' ').trimEnd();

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Control characters from the wire are shown escaped, never sent to the terminal. */
function safe(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function formatTableRow(e: UmbraEvent): string {
  const cells = [
    e['@timestamp'],
    endpoint(e.source.ip, e.source.port),
    endpoint(e.destination.ip, e.destination.port),
    e.network.protocol ?? e.network.transport,
    e.event.action,
    safe(e.destination.domain ?? '-'),
    e.umbra?.service ? safe(e.umbra.service.name) : '-',
    e.umbra?.match?.via ?? '-',
  ];
  return cells.map((c, i) => c.padEnd(COLS[i]![1])).join(' ').trimEnd();
}
