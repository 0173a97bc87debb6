/**
 * The one place that says what core-ops may do on a host.
 *
 * `deno task core-ops`, `deno task compile`, the offline package launcher and
 * the test launcher all build their Deno permission flags from here, so tests
 * exercise exactly the permissions the release artifact has.
 *
 * @module
 */
import { PAUSE_VARIABLE } from "../src/host/faults.ts";
import { GENERATOR_PATHS } from "../src/host/quadlet.ts";
import { REMOVED_VARIABLES } from "../src/settings/removed.ts";
import { TRACE_VARIABLE } from "../src/trace.ts";
import { CONFIG_ENV, envOf, rowOf, SETTINGS } from "../src/settings/table.ts";

/** Default target dirs, state dir and lock dir of a production host (SPEC §1, §3): the table's. */
export const DEFAULT_DIRS = {
  quadletDir: rowOf("quadlet-dir").default,
  systemdUnitDir: rowOf("systemd-unit-dir").default,
  configDir: rowOf("config-dir").default,
  stateDir: rowOf("state-dir").default,
  lockDir: rowOf("lock-path").default.replace(/\/[^/]+$/, ""),
} as const;

/** A set of Deno permissions, as data. */
export interface PermissionSet {
  /** Paths writable; everything else is denied (exit 77 at the edge). */
  write: readonly string[];
  /** Programs that may be run (resolved through PATH by Deno at start-up). */
  run: readonly string[];
  /** Environment variables that may be read. */
  env: readonly string[];
  /** `Deno.*` system information that may be read. */
  sys: readonly string[];
}

const ENV = [
  // Every setting's variable, and the one naming agent.toml.
  ...SETTINGS.map(envOf),
  CONFIG_ENV,
  // Who pauses the agent (core-ops pause): the login behind sudo, else the login.
  "SUDO_USER",
  "LOGNAME",
  "USER",
  // Settings of the original (Rust) core-ops, read only to warn that they are gone.
  ...Object.keys(REMOVED_VARIABLES),
  // The bench's phase marks (src/trace.ts), off unless set.
  TRACE_VARIABLE,
  // Read by the `yaml` package at run time (the colour variables were commander's, before
  // issue 15; kept until a run without them is shown not to need them).
  "LOG_TOKENS",
  "LOG_STREAM",
  "NO_COLOR",
  "FORCE_COLOR",
  "CLICOLOR_FORCE",
] as const;

/**
 * What the release artifact may do. Reads are unrestricted because `plan` and
 * `validate` must work on any source path and any target dirs; writes are only
 * the default target dirs, the state and lock dirs, and the temp dir used to
 * stage the candidate quadlet set for the generator's dry-run.
 */
export const PRODUCTION: PermissionSet = {
  write: [
    DEFAULT_DIRS.quadletDir,
    DEFAULT_DIRS.systemdUnitDir,
    DEFAULT_DIRS.configDir,
    DEFAULT_DIRS.stateDir,
    DEFAULT_DIRS.lockDir,
    "/tmp",
  ],
  run: [
    "git",
    "timeout",
    "systemctl",
    "systemd-run",
    "journalctl",
    "logger",
    "getent",
    ...GENERATOR_PATHS,
  ],
  env: ENV,
  // uid: who paused, when no login name is known.
  sys: ["hostname", "uid"],
};

/**
 * The production set plus write access to `roots` (the temp dirs a test
 * targets). Nothing else is widened.
 */
export function testPermissions(roots: readonly string[]): PermissionSet {
  return { ...PRODUCTION, write: [...PRODUCTION.write, ...roots] };
}

/**
 * The production set plus reading {@link PAUSE_VARIABLE}, which arms the
 * test-only pause points of the fault matrix (src/apply/faults.ts). Only the
 * e2e fault scenarios run with it; no launcher or release build uses it, so
 * in the shipped artifact the pause points stay inert.
 */
export function faultPermissions(): PermissionSet {
  return { ...PRODUCTION, env: [...PRODUCTION.env, PAUSE_VARIABLE] };
}

/**
 * V8 settings every way of running core-ops shares. A young generation of
 * 2 MiB semi-spaces instead of V8's 16 MiB keeps the peak RSS of a plan of
 * 10,000 files about 20–30 MB lower at no measurable cost in time (bench/,
 * issue 11: peak RSS ≤ 150 MB).
 */
export const V8_FLAGS = ["--max-semi-space-size=2"] as const;

/** Renders a permission set as `deno run`/`deno compile` flags (with {@link V8_FLAGS}). */
export function toFlags(set: PermissionSet): string[] {
  const list = (flag: string, values: readonly string[]) =>
    values.length === 0 ? [] : [`${flag}=${values.join(",")}`];
  return [
    `--v8-flags=${V8_FLAGS.join(",")}`,
    "--no-prompt",
    "--allow-read",
    ...list("--allow-write", set.write),
    ...list("--allow-run", set.run),
    ...list("--allow-env", set.env),
    ...list("--allow-sys", set.sys),
  ];
}
