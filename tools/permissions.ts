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

/** Default target dirs, state dir and lock dir of a production host (SPEC §1, §3). */
export const DEFAULT_DIRS = {
  quadletDir: "/etc/containers/systemd",
  systemdUnitDir: "/etc/systemd/system",
  configDir: "/etc",
  stateDir: "/var/lib/core-ops",
  lockDir: "/run/core-ops",
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
  "CORE_OPS_REPO",
  "CORE_OPS_REV",
  "CORE_OPS_HOST",
  "CORE_OPS_QUADLET_DIR",
  "CORE_OPS_SYSTEMD_UNIT_DIR",
  "CORE_OPS_CONFIG_DIR",
  "CORE_OPS_STATE_DIR",
  "CORE_OPS_LOCK_PATH",
  "CORE_OPS_CONFIG",
  "CORE_OPS_REQUIRE_SIGNED",
  "CORE_OPS_ALLOWED_SIGNERS",
  "CORE_OPS_SSH_KEY",
  "CORE_OPS_FETCH_TIMEOUT",
  "CORE_OPS_VERIFY_TIMEOUT",
  "CORE_OPS_VERIFY_SETTLE",
  "CORE_OPS_RETRY_INITIAL",
  "CORE_OPS_RETRY_MAX",
  "CORE_OPS_METRICS_FILE",
  "CORE_OPS_CONFIG_ROOTS",
  "CORE_OPS_WEBHOOK_SECRET_FILE",
  "CORE_OPS_PULL_TIMEOUT",
  // Read by the `yaml` and `commander` packages at run time.
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
  run: ["git", "timeout", "systemctl", "systemd-run", "journalctl", "logger", ...GENERATOR_PATHS],
  env: ENV,
  sys: ["hostname"],
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
