// Schema of the SQLite store, as numbered migrations. The database's
// `PRAGMA user_version` is the number of the last migration applied; opening
// applies the missing ones in order, each in its own transaction with the new
// version, so a crash mid-migration leaves the previous version intact.
// A migration, once released, is never edited: changes are new migrations.
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'events keyed by event.id with indexed columns; dead letters',
    sql: `
      CREATE TABLE events (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,              -- event.id: <agent id>:<spool sequence>
        ts_ms INTEGER NOT NULL,               -- @timestamp, ms since the epoch
        agent_id TEXT NOT NULL,               -- observer.id (= the token's agent)
        action TEXT NOT NULL,                 -- event.action
        source_ip TEXT NOT NULL,
        destination_domain TEXT,
        service_id TEXT,                      -- umbra.service.id when the catalog matched
        received_ms INTEGER NOT NULL,
        doc TEXT NOT NULL                     -- the whole event, JSON
      );
      CREATE INDEX events_ts ON events (ts_ms);
      CREATE INDEX events_source_ip ON events (source_ip, ts_ms);
      CREATE INDEX events_domain ON events (destination_domain);
      CREATE INDEX events_service ON events (service_id, ts_ms);
      CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        agent_id TEXT,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        line TEXT NOT NULL,                   -- truncated to MAX_DEAD_LETTER_LINE_CHARS
        line_bytes INTEGER NOT NULL           -- size of the line as received
      );
      CREATE INDEX dead_letters_received ON dead_letters (received_at);
    `,
  },
  {
    version: 2,
    description: 'service category and user name as columns (query API filters and summaries), filled from the stored documents',
    // Partial indexes: an event without a service or a user costs no index write.
    // A query `category = ?` / `user_name = ?` can use them (the equality implies IS NOT NULL).
    sql: `
      ALTER TABLE events ADD COLUMN category TEXT;    -- umbra.service.category
      ALTER TABLE events ADD COLUMN user_name TEXT;   -- user.name (identity enrichment)
      UPDATE events SET
        category = CASE WHEN json_type(doc, '$.umbra.service.category') = 'text' THEN json_extract(doc, '$.umbra.service.category') END,
        user_name = CASE WHEN json_type(doc, '$.user.name') = 'text' THEN json_extract(doc, '$.user.name') END
      WHERE json_type(doc, '$.umbra.service.category') = 'text' OR json_type(doc, '$.user.name') = 'text';
      CREATE INDEX events_category ON events (category, ts_ms) WHERE category IS NOT NULL;
      CREATE INDEX events_user ON events (user_name, ts_ms) WHERE user_name IS NOT NULL;
    `,
  },
  {
    version: 3,
    description: 'source-address index keyed by the minute first',
    // (source_ip, ts_ms) made every commit dirty about one leaf page per distinct client
    // address (each address's entries are contiguous, new ones at its tail): ~45 % of the
    // writer's CPU at 2,000 clients. Keyed by minute first, the entries of the current minute
    // share a few pages. Queries with a source filter seek once per minute of their range
    // (sqlite-query.ts). The divisor is SOURCE_INDEX_BUCKET_MS there.
    sql: `
      DROP INDEX events_source_ip;
      CREATE INDEX events_source_minute ON events (ts_ms / 60000, source_ip, ts_ms);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the database to SCHEMA_VERSION. Returns the versions applied (empty when
 * already current). Throws if the file is newer than this code knows.
 */
export function migrate(db: Database): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`database schema version ${current} is newer than this Umbra knows (${SCHEMA_VERSION}); upgrade Umbra`);
  }
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}
