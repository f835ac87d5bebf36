// `store.elasticsearch` in umbra.yaml: defaults, ILM and outbox keys, credentials
// from files or the environment; openStore builds the outbox store from it.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type ElasticsearchConfig } from '../../../collector/config.js';
import { DEFAULT_ILM_DELETE_AFTER_DAYS, DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_EVENTS } from '../../../collector/store/es-defaults.js';
import { openStore } from '../../../collector/store/open.js';
import { OutboxStore } from '../../../collector/store/outbox.js';
import { storedEvent } from '../../../collector/store/store.js';
import { UmbraError } from '../../../common/errors.js';
import { makeEvent, AGENT } from '../helpers.js';

describe('Elasticsearch store configuration', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'umbra-es-config-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cfg = (es: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
    parseConfig({ data_dir: dir, collector: { tls: { cert_file: 'c.pem', key_file: 'k.pem' } }, store: { type: 'elasticsearch', elasticsearch: es } }, 'umbra.yaml', { env, baseDir: dir });
  const esOf = (es: Record<string, unknown>, env?: NodeJS.ProcessEnv): ElasticsearchConfig => {
    const c = cfg(es, env);
    if (c.store.type !== 'elasticsearch') throw new Error('not elasticsearch');
    return c.store.elasticsearch;
  };
  const errorOf = (f: () => unknown): string => {
    try { f(); } catch (e) { expect(e).to.be.instanceOf(UmbraError); return (e as Error).message; }
    throw new Error('no error');
  };

  it('defaults: prefix umbra, named ILM defaults, outbox in the data directory with the named bounds', () => {
    expect(esOf({ node: 'https://es:9200' })).to.deep.equal({
      node: 'https://es:9200',
      indexPrefix: 'umbra',
      install: true,
      ilm: { rolloverMaxPrimaryShardSize: '50gb', rolloverMaxAge: '30d', deleteAfterDays: DEFAULT_ILM_DELETE_AFTER_DAYS },
      outbox: { path: join(dir, 'es-outbox.sqlite'), maxEvents: DEFAULT_OUTBOX_MAX_EVENTS, maxBytes: DEFAULT_OUTBOX_MAX_BYTES, synchronous: 'full' },
    });
  });

  it('ILM, outbox and credentials from a file or the environment', () => {
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    const e = esOf({
      node: 'https://es:9200', index_prefix: 'corp-umbra', username: 'umbra_writer', password_file: 'pw', ca_file: 'ca.pem',
      ilm: { rollover_max_primary_shard_size: '10gb', rollover_max_age: '7d', delete_after_days: 30 },
      outbox: { path: 'q/outbox.sqlite', max_events: 1000, max_bytes: 1048576, synchronous: 'normal' },
    });
    expect(e).to.deep.include({ indexPrefix: 'corp-umbra', username: 'umbra_writer', password: 's3cret', caFile: join(dir, 'ca.pem') });
    expect(e.ilm).to.deep.equal({ rolloverMaxPrimaryShardSize: '10gb', rolloverMaxAge: '7d', deleteAfterDays: 30 });
    expect(e.outbox).to.deep.equal({ path: join(dir, 'q/outbox.sqlite'), maxEvents: 1000, maxBytes: 1048576, synchronous: 'normal' });
    expect(esOf({ node: 'http://es:9200', api_key_env: 'ES_KEY' }, { ES_KEY: 'a2V5' }).apiKey).to.equal('a2V5');
  });

  it('errors name the key: bad sizes, unknown keys, missing secrets, both kinds of credentials', () => {
    expect(errorOf(() => cfg({ node: 'https://es:9200', ilm: { rollover_max_age: '30 days' } }))).to.match(/\/store\/elasticsearch\/ilm\/rollover_max_age: must be a duration with its unit, e\.g\. 30d/);
    expect(errorOf(() => cfg({ node: 'https://es:9200', outbox: { max_rows: 5 } }))).to.match(/\/store\/elasticsearch\/outbox\/max_rows: unknown key/);
    expect(errorOf(() => cfg({ node: 'https://es:9200', api_key_env: 'NOPE' }))).to.match(/\/store\/elasticsearch\/api_key_env: environment variable NOPE is not set or empty/);
    expect(errorOf(() => cfg({ node: 'https://es:9200', username: 'u' }))).to.match(/\/store\/elasticsearch\/username: needs password_file or password_env/);
    expect(errorOf(() => cfg({ node: 'https://es:9200', username: 'u', password_env: 'P', api_key_env: 'K' }, { P: 'p', K: 'k' }))).to.match(/either an API key or a username and password, not both/);
    expect(errorOf(() => cfg({ node: 'https://es:9200', api_key_file: 'missing' }))).to.match(/\/store\/elasticsearch\/api_key_file: cannot read .*missing: ENOENT/);
  });

  it('openStore opens the outbox store; with the cluster unreachable it still accepts (events wait in the outbox)', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const c = cfg({ node: 'http://127.0.0.1:1', outbox: { path: 'o.sqlite', synchronous: 'normal' } });
    const store = await openStore(c);
    try {
      // (by name: tsx may load the dynamically imported module under another URL)
      expect(store.constructor.name).to.equal(OutboxStore.name);
      const ob = store as OutboxStore;
      const ev = makeEvent(1);
      expect(await store.insertBatch([storedEvent(ev, AGENT, Date.parse(ev['@timestamp']))], [])).to.deep.equal({ accepted: 1, duplicates: 0 });
      expect(ob.path).to.equal(join(dir, 'o.sqlite'));
      expect(ob.stats().pending).to.equal(1);
      expect(ob.stats().installed).to.equal(false);
    } finally {
      await store.close();
    }
  });
});
