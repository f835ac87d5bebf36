// A reader of the Prometheus text exposition format (version 0.0.4), written from
// the format's description (https://prometheus.io/docs/instrumenting/exposition_formats/),
// independent of prom-client: the metrics tests check what a scraper would read.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** `# TYPE` of each metric family. */
  types: Map<string, string>;
  /** The value of the one sample with this name and exactly these labels; undefined if none. */
  get(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of this name. */
  all(name: string): Sample[];
}

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  // as Prometheus reads it (Go's ParseFloat): NaN in any case (prom-client writes 'Nan')
  if (/^nan$/i.test(s)) return NaN;
  const n = Number(s);
  if (s === '' || Number.isNaN(n)) throw new Error(`not a sample value: '${s}'`);
  return n;
}

/** Parses the exposition text; throws on a line that is not in the format. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m) types.set(m[1]!, m[2]!);
      continue;
    }
    const nm = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!nm) throw new Error(`bad sample line: ${line}`);
    const name = nm[1]!;
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
        if (!lm) throw new Error(`bad label at ${i}: ${line}`);
        i += lm[0].length;
        let v = '';
        while (line[i] !== '"') {
          if (i >= line.length) throw new Error(`unterminated label value: ${line}`);
          if (line[i] === '\\') {
            const e = line[i + 1];
            v += e === 'n' ? '\n' : e;
            i += 2;
          } else v += line[i++];
        }
        i++;
        labels[lm[1]!] = v;
        if (line[i] === ',') i++;
      }
      i++;
    }
    const rest = line.slice(i).trim().split(/\s+/);
    samples.push({ name, labels, value: parseValue(rest[0] ?? '') });
  }
  const same = (a: Record<string, string>, b: Record<string, string>): boolean => {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
  };
  return {
    samples,
    types,
    get: (name, labels = {}) => samples.find((s) => s.name === name && same(s.labels, labels))?.value,
    all: (name) => samples.filter((s) => s.name === name),
  };
}

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
}

/** GET url (http or https) with an optional bearer token and CA. */
export function scrape(url: string, opts: { token?: string; ca?: string | Buffer } = {}): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
    const cb = (res: import('node:http').IncomingMessage): void => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    };
    const req = url.startsWith('https:')
      ? httpsRequest(url, { headers, agent: false, ...(opts.ca ? { ca: opts.ca } : {}) }, cb)
      : httpRequest(url, { headers, agent: false }, cb);
    req.on('error', reject);
    req.end();
  });
}
