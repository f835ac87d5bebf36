// Limits shared by more than one part (agent, collector, CLI).

/** Largest configuration file read (umbra.yaml). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
