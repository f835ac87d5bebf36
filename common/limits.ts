// Limits shared by more than one part (agent, collector, CLI).

/** Largest configuration file read (umbra.yaml). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Longest token file read (a token is ~43 characters; this catches a wrong path). */
export const MAX_TOKEN_FILE_BYTES = 4096;
