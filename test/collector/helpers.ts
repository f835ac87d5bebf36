// Shared by the collector tests: events as an agent sends them, a temp dir with
// a self-signed certificate, a config for a collector on a loopback port, and
// an HTTPS client that reports the status even when the server stops reading.
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { UmbraEvent } from '../../agent/event.js';
import { parseConfig, type UmbraConfig } from '../../collector/config.js';
import { hashToken } from '../../collector/auth/tokens.js';
import { generateSelfSigned, type SelfSigned } from '../../collector/ingest/self-signed.js';

export const AGENT = 'gw-test-1';
export const AGENT_TOKEN = 'agent-token-0123456789abcdef0123456789';
export const OTHER_AGENT = 'gw-test-2';
export const OTHER_TOKEN = 'other-token-0123456789abcdef0123456789';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef0123456789';

/** An event shaped as the agent emits it (agent/event.ts), sequence `seq`. */
export function makeEvent(seq: number, over: { agent?: string; domain?: string; service?: string; sourceIp?: string; ts?: string } = {}): UmbraEvent {
  const agent = over.agent ?? AGENT;
  const domain = over.domain ?? 'chatgpt.com';
  return {
    '@timestamp': over.ts ?? new Date(Date.UTC(2026, 10, 25, 12, 0, 0) + seq * 1000).toISOString().replace('Z', '123Z'),
    event: { kind: 'event', category: ['network'], type: ['protocol'], action: 'tls-client-hello', dataset: 'umbra.tls', id: `${agent}:${seq}` },
    source: { ip: over.sourceIp ?? `10.0.${(seq >> 8) & 255}.${seq & 255}`, port: 40000 + (seq % 20000) },
    destination: { ip: '104.18.32.47', port: 443, domain },
    network: { transport: 'tcp', protocol: 'tls', type: 'ipv4' },
    tls: { client: { server_name: domain, ja4: 't13d1516h2_8daaf6152771_02713d6af862' }, next_protocol: 'h2' },
    observer: { id: agent, name: agent },
    umbra: {
      service: { id: over.service ?? 'openai-chatgpt', name: 'ChatGPT', vendor: 'OpenAI', category: 'chat-assistant' },
      match: { rule: domain, via: 'sni' },
    },
  };
}

export function ndjson(events: unknown[]): string {
  return events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n';
}

export interface TempDir {
  dir: string;
  cert: SelfSigned;
  remove(): void;
}

export async function tempDirWithCert(): Promise<TempDir> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-collector-test-'));
  const cert = await generateSelfSigned(join(dir, 'tls'));
  return { dir, cert, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A config for a collector on 127.0.0.1, any free port, SQLite in dir, the test agents and admin. */
export function testConfig(t: TempDir, over: { limits?: Record<string, number>; clientCaFile?: string } = {}): UmbraConfig {
  return parseConfig({
    data_dir: t.dir,
    collector: {
      listen: { host: '127.0.0.1', port: 0 },
      tls: { cert_file: t.cert.certFile, key_file: t.cert.keyFile, ...(over.clientCaFile ? { client_ca_file: over.clientCaFile } : {}) },
      agents: [
        { id: AGENT, token_sha256: hashToken(AGENT_TOKEN).toString('hex') },
        { id: OTHER_AGENT, token_env: 'TEST_OTHER_TOKEN' },
      ],
      admin_tokens: [{ name: 'test-admin', token_sha256: hashToken(ADMIN_TOKEN).toString('hex') }],
      ...(over.limits ? { limits: over.limits } : {}),
    },
  }, '(test)', { env: { TEST_OTHER_TOKEN: OTHER_TOKEN } });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: any;
}

export interface PostOptions {
  token?: string | null;
  gzip?: boolean;
  headers?: Record<string, string | number>;
  /** TLS options (ca, cert, key); default trusts `ca`. */
  tls?: RequestOptions;
  method?: string;
  /** Send the body as a stream of these chunks (no Content-Length). */
  chunks?: AsyncIterable<Buffer> | Iterable<Buffer>;
}

/** One HTTPS request; resolves with the response even if writing the body fails afterwards. */
export function call(url: string, path: string, body: Buffer | string | null, opts: PostOptions & { ca?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
    if (opts.token !== null) headers.Authorization = `Bearer ${opts.token ?? AGENT_TOKEN}`;
    let payload: Buffer | null = null;
    if (body !== null) {
      payload = typeof body === 'string' ? Buffer.from(body) : body;
      if (opts.gzip !== false && headers['Content-Encoding'] === undefined) {
        payload = gzipSync(payload);
        headers['Content-Encoding'] = 'gzip';
      }
      headers['Content-Type'] ??= 'application/x-ndjson';
      headers['Content-Length'] ??= payload.length;
    } else if (opts.chunks) {
      headers['Content-Type'] ??= 'application/x-ndjson';
    }
    let answered = false;
    const req = request(url + path, { method: opts.method ?? (body !== null || opts.chunks ? 'POST' : 'GET'), headers, agent: false, ...(opts.tls ?? { ca: opts.ca }) }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', () => {});
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json: unknown = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on('error', (e) => { if (!answered) reject(e); });
    if (payload) req.end(payload);
    else if (opts.chunks) {
      (async () => {
        for await (const c of opts.chunks!) {
          if (answered || req.destroyed) break;
          if (!req.write(c)) {
            await new Promise<void>((r) => {
              const done = (): void => { req.off('drain', done); req.off('close', done); r(); };
              req.on('drain', done);
              req.on('close', done);
            });
          }
        }
        req.end();
      })().catch(() => {});
    } else req.end();
  });
}
