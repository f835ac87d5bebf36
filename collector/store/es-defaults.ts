// Defaults of the Elasticsearch store's options (`store.elasticsearch` in
// umbra.yaml), kept apart so that loading the configuration does not load the
// Elasticsearch client.

/** ILM: roll the write index over at this primary shard size or age, delete backing indices this many days after rollover. */
export const DEFAULT_ILM_ROLLOVER_MAX_PRIMARY_SHARD_SIZE = '50gb';
export const DEFAULT_ILM_ROLLOVER_MAX_AGE = '30d';
export const DEFAULT_ILM_DELETE_AFTER_DAYS = 180;

/** Default outbox file name inside the data directory. */
export const DEFAULT_OUTBOX_FILE = 'es-outbox.sqlite';
/** Default bounds of the outbox: beyond either, insertBatch rejects (ingest 503, agents keep their spool). */
export const DEFAULT_OUTBOX_MAX_EVENTS = 2_000_000;
export const DEFAULT_OUTBOX_MAX_BYTES = 2 * 1024 * 1024 * 1024;
