// Opens the store the configuration names.
import type { ElasticsearchConfig, UmbraConfig } from '../config.js';
import { SqliteWorkerStore } from './sqlite-worker.js';
import type { EventStore } from './store.js';

/** Opens the configured store (SQLite: in its worker thread). */
export async function openStore(config: UmbraConfig): Promise<EventStore> {
  const s = config.store;
  if (s.type === 'sqlite') return SqliteWorkerStore.open(s.sqlite.path, { synchronous: s.sqlite.synchronous });
  return openElasticsearchStore(s.elasticsearch);
}

/**
 * The Elasticsearch store: the durable outbox (a SQLite file) in front of the
 * cluster. Loaded on demand so that a SQLite collector never loads the client.
 * Elasticsearch being unreachable at start is not an error: the outbox accepts
 * and the drainer installs and sends once the cluster answers (logged).
 */
export async function openElasticsearchStore(e: ElasticsearchConfig): Promise<EventStore> {
  const [{ ElasticsearchEvents }, { OutboxStore }] = await Promise.all([import('./elasticsearch.js'), import('./outbox.js')]);
  const es = new ElasticsearchEvents({
    node: e.node,
    indexPrefix: e.indexPrefix,
    ilm: e.ilm,
    ...(e.apiKey !== undefined ? { apiKey: e.apiKey } : {}),
    ...(e.username !== undefined ? { username: e.username, password: e.password ?? '' } : {}),
    ...(e.caFile !== undefined ? { caFile: e.caFile } : {}),
  });
  return OutboxStore.open({ path: e.outbox.path, es, install: e.install, maxEvents: e.outbox.maxEvents, maxBytes: e.outbox.maxBytes, synchronous: e.outbox.synchronous });
}
