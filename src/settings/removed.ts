/**
 * Settings of the original core-ops that no longer exist (SPEC §10), apart
 * from the settings resolution: every start looks for them, and must not pay
 * for zod and the TOML parser to do so.
 *
 * @module
 */

/**
 * Environment variables of the original core-ops that no longer exist, and
 * what replaces each (SPEC §10): set, they are warned about, never silently
 * ignored.
 */
export const REMOVED_VARIABLES: Readonly<Record<string, string>> = {
  CORE_OPS_STATE_FILE: "the state lives in the state dir (state-dir, CORE_OPS_STATE_DIR; " +
    "default /var/lib/core-ops), as state.json beside the ownership manifest",
  CORE_OPS_AUDIT_DIR: "each run's audit event goes to journald " +
    "(journalctl SYSLOG_IDENTIFIER=core-ops); metrics-file writes a Prometheus textfile",
};

/** One warning per removed variable that is set, naming its replacement. Pure. */
export function removedVariableWarnings(env: (name: string) => string | undefined): string[] {
  return Object.entries(REMOVED_VARIABLES).flatMap(([name, instead]) =>
    env(name) === undefined ? [] : [`${name} is no longer read (it is ignored): ${instead}`]
  );
}
