// Helpers for the shipping tests: events, temporary directories, a self-signed
// certificate made by openssl, and a real HTTPS collector stand-in on loopback.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { UmbraEvent } from '../../agent/event.js';

const run = promisify(execFile);

/** A DNS-query event whose question name carries `tag` (so each event is recognisable). */
export function mkEvent(tag: string | number, pad = 0): UmbraEvent {
  return {
    '@timestamp': '2026-11-25T21:00:00.000000Z',
    event: { kind: 'event', category: ['network'], type: ['protocol'], action: 'dns-query', dataset: 'umbra.dns' },
    source: { ip: '10.0.0.7', port: 53000 },
    destination: { ip: '10.0.0.1', port: 53 },
    network: { transport: 'udp', protocol: 'dns', type: 'ipv4' },
    dns: { type: 'query', question: { name: `q${tag}.example${pad ? '.' + 'x'.repeat(pad) : ''}`, type: 'A' } },
  };
}

export function tempDir(prefix = 'umbra-ship-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A self-signed certificate for 127.0.0.1 / localhost, made by `openssl req`. */
export async function selfSigned(dir: string): Promise<{ cert: string; key: string; certFile: string; keyFile: string }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=umbra-test-collector',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A minimal collector stand-in over real HTTPS: checks the token, decodes gzip NDJSON,
 * stores events by event.id (duplicates counted, never stored twice) and answers like the
 * collector. `script` may answer a request differently (503, 413 …) before it is stored.
 */
export class TestCollector {
  readonly events = new Map<string, UmbraEvent>();
  duplicates = 0;
  requests = 0;
  batchSizes: number[] = [];
  /** Called for each POST with the body as received, before anything else; return a Reply to answer with it. */
  onRaw: ((body: Buffer, req: IncomingMessage) => Reply | undefined) | undefined;
  /** Called for each POST with the parsed lines; return a Reply to answer instead of storing. */
  script: ((lines: UmbraEvent[], req: IncomingMessage) => Reply | undefined) | undefined;
  /** This many requests are stored, then their connection is cut before the answer (a lost response). */
  cutAfterStore = 0;
  /** Each request is handled this long after its body arrived (requests then overlap). */
  delayMs = 0;
  /** Requests received and not yet answered, and the most seen at once. */
  open = 0;
  maxOpen = 0;
  private server: Server | undefined;
  port = 0;

  constructor(private readonly tls: { cert: string; key: string }, readonly token: string) {}

  async start(port = 0): Promise<void> {
    const server = createServer({ cert: this.tls.cert, key: this.tls.key, keepAliveTimeout: 5000 }, (req, res) => this.handle(req, res));
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => ok());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every open connection (a collector going down). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((ok) => s.close(() => ok()));
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    this.maxOpen = Math.max(this.maxOpen, ++this.open);
    res.on('close', () => this.open--);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => (this.delayMs > 0 ? setTimeout(() => this.answer(req, res, chunks), this.delayMs) : this.answer(req, res, chunks)));
  }

  private answer(req: IncomingMessage, res: ServerResponse, chunks: Buffer[]): void {
    {
      const send = (r: Reply): void => {
        res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
        res.end(r.body ?? '{}');
      };
      if (req.method !== 'POST' || req.url !== '/api/v1/events') return send({ status: 404 });
      if (req.headers.authorization !== `Bearer ${this.token}`) return send({ status: 401, body: '{"error":"bad token"}' });
      this.requests++;
      let body = Buffer.concat(chunks);
      const raw = this.onRaw?.(body, req);
      if (raw) return send(raw);
      let lines: UmbraEvent[];
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        lines = body.toString('utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as UmbraEvent);
      } catch (e) {
        return send({ status: 400, body: JSON.stringify({ error: (e as Error).message }) });
      }
      const scripted = this.script?.(lines, req);
      if (scripted) return send(scripted);
      this.batchSizes.push(lines.length);
      let accepted = 0;
      let duplicates = 0;
      for (const e of lines) {
        const id = e.event.id!;
        if (this.events.has(id)) duplicates++;
        else {
          this.events.set(id, e);
          accepted++;
        }
      }
      this.duplicates += duplicates;
      if (this.cutAfterStore > 0) {
        this.cutAfterStore--;
        req.socket.destroy();
        return;
      }
      send({ status: 200, body: JSON.stringify({ accepted, duplicates, dead_lettered: 0 }) });
    }
  }
}

/** Resolves when `cond()` holds; rejects after `ms` with `what`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
