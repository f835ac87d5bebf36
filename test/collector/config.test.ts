import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken } from '../../collector/auth/tokens.js';
import {
  CONFIG_SCHEMA, DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT, DEFAULT_MAX_BATCH_EVENTS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DECODED_BYTES,
  DEFAULT_MAX_INFLIGHT_BATCHES, DEFAULT_MAX_LINE_BYTES, DEFAULT_SQLITE_FILE, loadConfig,
} from '../../collector/config.js';
import { UmbraError } from '../../common/errors.js';
import { ROOT } from '../helpers/root.js';

const EXAMPLE = join(ROOT, 'deploy', 'umbra.example.yaml');
const SHA = 'a'.repeat(64);

describe('collector config (umbra.yaml)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-config-test-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (text: string, name = 'umbra.yaml'): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const minimal = (extra = ''): string => `collector:\n  tls: {cert_file: c.crt, key_file: c.key}\n  agents:\n    - {id: gw1, token_sha256: ${SHA}}\n${extra}`;
  const errorOf = (f: string, env: NodeJS.ProcessEnv = {}): string => {
    try {
      loadConfig(f, { env });
    } catch (e) {
      expect(e).to.be.instanceOf(UmbraError);
      expect((e as UmbraError).code).to.equal('UMBRA_E_CONFIG');
      return (e as Error).message;
    }
    throw new Error('expected an error');
  };

  it('names the file and the key path of an unknown key', () => {
    const f = write(`collector:\n  listen: {host: 127.0.0.1, porrt: 8443}\n  tls: {cert_file: c.crt, key_file: c.key}\n`);
    expect(errorOf(f)).to.equal(`${f}: /collector/listen/porrt: unknown key`);
  });

  it('lists every problem, each with file and path', () => {
    const f = write(`data_dri: x\ncollector:\n  listen: {port: 99999}\n  tls: {cert_file: c.crt}\n  limits: {max_line_bytes: 0}\nstore: {type: mysql}\n`);
    const m = errorOf(f);
    expect(m.split('\n')[0]).to.equal(`${f}: 5 errors`);
    for (const line of [
      `  ${f}: /data_dri: unknown key`,
      `  ${f}: /collector/listen/port: must be <= 65535`,
      `  ${f}: /collector/tls/key_file: required key missing`,
      `  ${f}: /collector/limits/max_line_bytes: must be >= 1`,
      `  ${f}: /store/type: must be one of sqlite, elasticsearch`,
    ]) expect(m.split('\n')).to.include(line);
  });

  it('body limits past 1 GiB are refused (past the largest Buffer of node, gunzip would refuse every gzip batch)', () => {
    const f = write(minimal().replace('collector:\n', 'collector:\n  limits: {max_decoded_bytes: 5000000000, max_body_bytes: 2147483648}\n'));
    const m = errorOf(f);
    expect(m).to.include(`${f}: /collector/limits/max_decoded_bytes: must be <= 1073741824`);
    expect(m).to.include(`${f}: /collector/limits/max_body_bytes: must be <= 1073741824`);
  });

  it('requires the collector section and its TLS', () => {
    expect(errorOf(write('data_dir: x\n'))).to.match(/: \/collector: required key missing$/);
    expect(errorOf(write('collector: {}\n'))).to.match(/: \/collector\/tls: required key missing$/);
  });

  it('reports YAML syntax errors with file and line', () => {
    const f = write('collector:\n  tls: {cert_file: a\n  agents: [\n');
    expect(errorOf(f)).to.match(new RegExp(`^${f}: .*line \\d+, column \\d+: `, 's'));
    expect(errorOf(write('collector: 1\ncollector: 2\n'))).to.match(/line 2, column 1: Map keys must be unique/);
  });

  it('applies the named defaults and resolves paths against the file', () => {
    const c = loadConfig(write(minimal()), { env: {} });
    expect(c.collector.listen).to.deep.equal({ host: DEFAULT_LISTEN_HOST, port: DEFAULT_LISTEN_PORT });
    expect(c.collector.limits).to.deep.equal({
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES, maxDecodedBytes: DEFAULT_MAX_DECODED_BYTES, maxLineBytes: DEFAULT_MAX_LINE_BYTES,
      maxBatchEvents: DEFAULT_MAX_BATCH_EVENTS, maxInflightBatches: DEFAULT_MAX_INFLIGHT_BATCHES,
    });
    expect(c.collector.tls).to.deep.equal({ certFile: join(dir, 'c.crt'), keyFile: join(dir, 'c.key') });
    expect(c.dataDir).to.equal(join(dir, 'umbra-data'));
    expect(c.store).to.deep.equal({ type: 'sqlite', sqlite: { path: join(dir, 'umbra-data', DEFAULT_SQLITE_FILE), synchronous: 'full' } });
    expect(c.collector.agents[0]!.tokenSha256.toString('hex')).to.equal(SHA);
    expect(c.signatures).to.deep.equal({ extraDirs: [], status: {} });
  });

  it('warns, naming the key and the file, of a secret file others may read or change; 0600 and 0640 are fine', () => {
    mkdirSync(join(dir, 'tokens'));
    const token = join(dir, 'tokens', 'gw2');
    const key = join(dir, 'c.key');
    const password = join(dir, 'es.password');
    writeFileSync(token, 'file-token-123\n');
    writeFileSync(key, 'not really a key\n');
    writeFileSync(password, 'secret\n');
    const f = write(minimal('    - {id: gw2, token_file: tokens/gw2}\n'));
    const es = write('collector:\n  tls: {cert_file: c.crt, key_file: c.key}\n  agents: []\nstore:\n  type: elasticsearch\n  elasticsearch: {node: "http://127.0.0.1:9200", username: umbra, password_file: es.password}\n', 'es.yaml');
    const warnings = (): string[] => [...loadConfig(f).warnings, ...loadConfig(es).warnings];
    for (const p of [token, key, password]) chmodSync(p, 0o600);
    expect(warnings()).to.deep.equal([]);
    for (const p of [token, key, password]) chmodSync(p, 0o640);
    expect(warnings()).to.deep.equal([]);
    chmodSync(token, 0o644);
    chmodSync(key, 0o660);
    chmodSync(password, 0o602);
    expect(warnings()).to.deep.equal([
      `/collector/agents/1/token_file: ${token} is readable by every user (mode 0644); chmod 600 (or 640 with the service's group)`,
      `/collector/tls/key_file: ${key} is writable by its group (mode 0660); chmod 600 (or 640 with the service's group)`,
      // es.yaml: the store's secrets are read before the TLS section is looked at
      `/store/elasticsearch/password_file: ${password} is writable by every user (mode 0602); chmod 600 (or 640 with the service's group)`,
      `/collector/tls/key_file: ${key} is writable by its group (mode 0660); chmod 600 (or 640 with the service's group)`,
    ]);
  });

  it('reads tokens from a file or an environment variable and keeps only their SHA-256', () => {
    mkdirSync(join(dir, 'tokens'));
    writeFileSync(join(dir, 'tokens', 'gw2'), 'file-token-123\n');
    const f = write(minimal('    - {id: gw2, token_file: tokens/gw2}\n    - {id: gw3, token_env: GW3_TOKEN}\n  admin_tokens:\n    - {name: ui, token_env: ADMIN}\n'));
    const c = loadConfig(f, { env: { GW3_TOKEN: 'env-token-456', ADMIN: 'admin-789' } });
    expect(c.collector.agents.map((a) => [a.id, a.tokenSha256.toString('hex'), a.origin])).to.deep.equal([
      ['gw1', SHA, 'token_sha256'],
      ['gw2', hashToken('file-token-123').toString('hex'), `token_file: ${join(dir, 'tokens', 'gw2')}`],
      ['gw3', hashToken('env-token-456').toString('hex'), 'token_env: GW3_TOKEN'],
    ]);
    expect(c.collector.adminTokens[0]!.id).to.equal('ui');
    expect(JSON.stringify(c)).to.not.include('env-token-456').and.not.include('file-token-123');
  });

  it('names the key when a secret is missing, doubled or shared', () => {
    expect(errorOf(write(minimal('    - {id: gw2, token_env: NOPE}\n')))).to.match(/: \/collector\/agents\/1\/token_env: environment variable NOPE is not set or empty$/);
    expect(errorOf(write(minimal('    - {id: gw2, token_file: missing.txt}\n')))).to.match(/: \/collector\/agents\/1\/token_file: cannot read .*missing\.txt: ENOENT$/);
    expect(errorOf(write(minimal('    - {id: gw2}\n')))).to.match(/: \/collector\/agents\/1: needs one of token_sha256, token_file, token_env$/);
    expect(errorOf(write(minimal(`    - {id: gw2, token_sha256: ${SHA}, token_env: X}\n`)), { X: 'y' })).to.match(/: \/collector\/agents\/1: give only one of token_sha256, token_env$/);
    expect(errorOf(write(minimal(`    - {id: gw2, token_sha256: ${SHA}}\n`)))).to.match(/'gw1' and 'gw2' have the same token/);
    expect(errorOf(write(minimal(`    - {id: gw1, token_sha256: ${'b'.repeat(64)}}\n`)))).to.match(/\/collector\/agents\/1\/id: agent 'gw1' is listed twice/);
    expect(errorOf(write(minimal('    - {id: gw2, token_sha256: abc}\n')))).to.match(/\/collector\/agents\/1\/token_sha256: must be 64 hexadecimal digits/);
    expect(errorOf(write(minimal('    - {id: "bad id", token_sha256: abc}\n')))).to.match(/\/collector\/agents\/1\/id: must be 1-64 letters/);
  });

  it('checks the store section', () => {
    expect(errorOf(write(minimal('store: {type: elasticsearch}\n')))).to.match(/\/store\/elasticsearch\/node: required when store.type is elasticsearch$/);
    expect(errorOf(write(minimal('store: {elasticsearch: {node: "http://es:9200"}}\n')))).to.match(/\/store\/elasticsearch: given but store.type is sqlite$/);
    const es = loadConfig(write(minimal('store: {type: elasticsearch, elasticsearch: {node: "https://es:9200"}}\n')), { env: {} });
    expect(es.store.type).to.equal('elasticsearch');
    // (the ILM, outbox and credential keys are tested in test/collector/store/elasticsearch-config.test.ts)
    expect(es.store.type === 'elasticsearch' && es.store.elasticsearch).to.deep.include({ node: 'https://es:9200', indexPrefix: 'umbra' });
    expect(errorOf(write(minimal('signatures: {status: {openai-chatgpt: allowed}}\n')))).to.match(/\/signatures\/status\/openai-chatgpt: must be one of sanctioned, monitored, unsanctioned$/);
  });

  it('collector.metrics: enabled by default with no token of its own; tokens like admin tokens, each distinct', () => {
    const d = loadConfig(write(minimal()), { env: {} });
    expect(d.collector.metrics).to.deep.equal({ enabled: true, tokens: [] });
    const c = loadConfig(write(minimal('  metrics:\n    enabled: false\n    tokens:\n      - {name: prom, token_env: PROM_TOKEN}\n')), { env: { PROM_TOKEN: 'scrape-me' } });
    expect(c.collector.metrics.enabled).to.equal(false);
    expect(c.collector.metrics.tokens.map((t) => [t.id, t.tokenSha256.toString('hex'), t.origin])).to.deep.equal([['prom', hashToken('scrape-me').toString('hex'), 'token_env: PROM_TOKEN']]);
    expect(errorOf(write(minimal(`  metrics: {tokens: [{name: prom, token_sha256: ${SHA}}]}\n`)))).to.match(/'gw1' and 'prom' have the same token/);
    expect(errorOf(write(minimal('  metrics: {tokens: [{name: prom}]}\n')))).to.match(/\/collector\/metrics\/tokens\/0: needs one of token_sha256, token_file, token_env$/);
    expect(errorOf(write(minimal('  metrics: {enable: true}\n')))).to.match(/\/collector\/metrics\/enable: unknown key$/);
  });

  it('deploy/umbra.example.yaml is valid and documents every option of the schema', () => {
    const c = loadConfig(EXAMPLE, { env: { UMBRA_ADMIN_TOKEN: 'x' } });
    expect(c.collector.agents.map((a) => a.id)).to.deep.equal(['gw-paris-1']);
    const text = readFileSync(EXAMPLE, 'utf8');
    const keys: string[] = [];
    const walk = (s: any, path: string): void => {
      for (const [k, v] of Object.entries<any>(s.properties ?? {})) {
        keys.push(`${path}/${k}`);
        walk(v, `${path}/${k}`);
        if (v.items) walk(v.items, `${path}/${k}/*`);
      }
    };
    walk(CONFIG_SCHEMA, '');
    const missing = keys.filter((k) => !new RegExp(`^[ #-]*${k.split('/').pop()}:`, 'm').test(text));
    expect(missing).to.deep.equal([]);
  });
});
