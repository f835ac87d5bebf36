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
