// Where the agent's metrics listener binds (`--metrics-listen`, `agent.metrics_listen`).
// Apart from agent/metrics.ts so that the command line and the runner can read the
// setting without loading prom-client, which the agent loads only when metrics are on
// (~5 MB of RSS at import).
import { UmbraError } from '../common/errors.js';

/** Host of a bare `--metrics-listen PORT`: loopback, so nothing is exposed unless asked. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** Where `--metrics-listen` binds. */
export interface MetricsListen {
  host: string;
  port: number;
}

/**
 * `HOST:PORT`, `[IPv6]:PORT` or a bare `PORT` (DEFAULT_METRICS_HOST). `option` names
 * the setting in the error (`--metrics-listen`, `/agent/metrics_listen`).
 */
export function parseMetricsListen(value: string, option = '--metrics-listen'): MetricsListen {
  const bad = (why: string): UmbraError => new UmbraError('UMBRA_E_USAGE', `${option} '${value}': ${why} (HOST:PORT, [IPv6]:PORT or a port for ${DEFAULT_METRICS_HOST})`);
  const v = value.trim();
  let host = DEFAULT_METRICS_HOST;
  let portText = v;
  const m6 = /^\[([0-9A-Fa-f:.]+)\]:([^:]*)$/.exec(v);
  if (m6) {
    host = m6[1]!;
    portText = m6[2]!;
  } else if (v.includes(':')) {
    const i = v.lastIndexOf(':');
    host = v.slice(0, i);
    portText = v.slice(i + 1);
    if (host.includes(':')) throw bad('an IPv6 address goes in brackets');
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw bad('not a host name or address');
  }
  if (!/^\d{1,5}$/.test(portText)) throw bad('the port must be a number');
  const port = Number(portText);
  if (port > 65535) throw bad('the port must be 0-65535');
  return { host, port };
}
