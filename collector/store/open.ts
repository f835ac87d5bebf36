// Opens the store the configuration names.
import { UmbraError } from '../../common/errors.js';
import type { UmbraConfig } from '../config.js';
import { SqliteWorkerStore } from './sqlite-worker.js';
import type { EventStore } from './store.js';

/** Opens the configured store (SQLite: in its worker thread). */
export async function openStore(config: UmbraConfig): Promise<EventStore> {
  const s = config.store;
  if (s.type === 'sqlite') return SqliteWorkerStore.open(s.sqlite.path, { synchronous: s.sqlite.synchronous });
  // The Elasticsearch store (issue 5) is not built yet: say so instead of starting without a store.
  throw new UmbraError('UMBRA_E_CONFIG', config.file, '/store/type: elasticsearch is not available in this version yet; use sqlite');
}
