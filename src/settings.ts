/**
 * Settings resolution (SPEC §3, §4): flag > environment > agent.toml > default.
 * Every value is validated, and a bad one is reported naming the setting and
 * where it came from.
 *
 * Durations (`fetch-timeout`, `verify-timeout`, `verify-settle`,
 * `retry-initial`, `retry-max`, `pull-timeout`) are whole seconds: an integer, or a string of
 * digits with an optional unit `s`, `m` or `h` (`"90s"`, `"5m"`, `"1h"`), the
 * same in agent.toml, environment and flags. Fractions and other units are
 * refused. Booleans from the environment or a flag are true/false, yes/no, 1/0.
 * `config-roots` is a TOML array, or a comma-separated list elsewhere.
 *
 * @module
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";
import { CoreOpsError, type Diagnostic, Exit, noInput } from "./errors.ts";
import { IDENTIFIER, type TargetDirs } from "./model.ts";

/** Default agent config path. */
export const DEFAULT_CONFIG_PATH = "/etc/core-ops/agent.toml";

/** Built-in defaults (SPEC §1, §3, §4). Durations are seconds. */
export const DEFAULTS = {
  "quadlet-dir": "/etc/containers/systemd",
  "systemd-unit-dir": "/etc/systemd/system",
  "config-dir": "/etc",
  "state-dir": "/var/lib/core-ops",
  "lock-path": "/run/core-ops/lock",
  "require-signed": false,
  "fetch-timeout": 60,
  "verify-timeout": 60,
  "verify-settle": 3,
  "retry-initial": 60,
  "retry-max": 3600,
  "pull-timeout": 900,
} as const;

/** A setting's name as spelled in agent.toml and (with `--`) as a flag. */
export type SettingName =
  | "repo"
  | "rev"
  | "host"
  | "quadlet-dir"
  | "systemd-unit-dir"
  | "config-dir"
  | "state-dir"
  | "lock-path"
  | "require-signed"
  | "allowed-signers"
  | "ssh-key"
  | "fetch-timeout"
  | "verify-timeout"
  | "verify-settle"
  | "retry-initial"
  | "retry-max"
  | "metrics-file"
  | "config-roots"
  | "webhook-secret-file"
  | "pull-timeout";

/** The `CORE_OPS_*` environment variable of each setting. */
export const ENV_NAMES: Record<SettingName, string> = {
  repo: "CORE_OPS_REPO",
  rev: "CORE_OPS_REV",
  host: "CORE_OPS_HOST",
  "quadlet-dir": "CORE_OPS_QUADLET_DIR",
  "systemd-unit-dir": "CORE_OPS_SYSTEMD_UNIT_DIR",
  "config-dir": "CORE_OPS_CONFIG_DIR",
  "state-dir": "CORE_OPS_STATE_DIR",
  "lock-path": "CORE_OPS_LOCK_PATH",
  "require-signed": "CORE_OPS_REQUIRE_SIGNED",
  "allowed-signers": "CORE_OPS_ALLOWED_SIGNERS",
  "ssh-key": "CORE_OPS_SSH_KEY",
  "fetch-timeout": "CORE_OPS_FETCH_TIMEOUT",
  "verify-timeout": "CORE_OPS_VERIFY_TIMEOUT",
  "verify-settle": "CORE_OPS_VERIFY_SETTLE",
  "retry-initial": "CORE_OPS_RETRY_INITIAL",
  "retry-max": "CORE_OPS_RETRY_MAX",
  "metrics-file": "CORE_OPS_METRICS_FILE",
  "config-roots": "CORE_OPS_CONFIG_ROOTS",
  "webhook-secret-file": "CORE_OPS_WEBHOOK_SECRET_FILE",
  "pull-timeout": "CORE_OPS_PULL_TIMEOUT",
};

const absolutePath = z.string().regex(
  /^\/(?!.*(^|\/)\.\.(\/|$)).*/,
  "must be an absolute path without '..'",
)
  .transform((p) => (p.length > 1 ? p.replace(/\/+$/, "") : p));

/** Longest duration any setting accepts: a week, to catch a unit typo (ms for s). */
const MAX_DURATION = 7 * 24 * 3600;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * A duration in whole seconds: an integer (`90`), or a string of digits with
 * an optional unit `s`, `m` or `h` (`"90"`, `"90s"`, `"5m"`, `"1h"`), so the
 * same spelling works in agent.toml, in a `CORE_OPS_*` variable and as a flag.
 */
function duration(min: number) {
  const spelling =
    'must be whole seconds, or digits with a unit s, m or h (e.g. 90, "90s", "5m", "1h")';
  return z.union([z.number(), z.string()], { error: spelling }).transform((value, ctx) => {
    if (typeof value === "number") {
      if (Number.isInteger(value)) return value;
      ctx.addIssue({ code: "custom", message: "must be a whole number of seconds" });
      return z.NEVER;
    }
    const match = /^([0-9]+)([smh]?)$/.exec(value);
    if (match === null) {
      ctx.addIssue({ code: "custom", message: spelling });
      return z.NEVER;
    }
    return Number.parseInt(match[1], 10) * UNIT_SECONDS[match[2] || "s"];
  }).pipe(
    z.number().min(min, `must be at least ${min} s`).max(
      MAX_DURATION,
      `must be at most ${MAX_DURATION} s (7 days)`,
    ),
  );
}

const boolean = z.union([
  z.boolean(),
  z.enum(["true", "false", "yes", "no", "1", "0"]).transform((s) =>
    s === "true" || s === "yes" || s === "1"
  ),
], { error: "must be true or false" });

const configRoot = z.string().regex(
  IDENTIFIER,
  "each root must be a single name matching ^[A-Za-z0-9][A-Za-z0-9@._-]*$ (no '/')",
);

/** In agent.toml a list; in the environment or a flag, comma-separated ("" = none allowed). */
const configRoots = z.union([
  z.array(configRoot),
  z.string().transform((s) => s.split(",").map((r) => r.trim()).filter((r) => r !== ""))
    .pipe(z.array(configRoot)),
]).transform((roots) => [...new Set(roots)]);

const VALIDATORS = {
  repo: z.string().min(1, "must not be empty"),
  rev: z.string().min(1, "must not be empty").regex(
    /^[^\s-][^\s]*$/,
    "must be a branch, tag or commit",
  ),
  host: z.string().regex(IDENTIFIER, "must match ^[A-Za-z0-9][A-Za-z0-9@._-]*$"),
  "quadlet-dir": absolutePath,
  "systemd-unit-dir": absolutePath,
  "config-dir": absolutePath,
  "state-dir": absolutePath,
  "lock-path": absolutePath,
  "require-signed": boolean,
  "allowed-signers": absolutePath,
  "ssh-key": absolutePath,
  "fetch-timeout": duration(1),
  "verify-timeout": duration(1),
  "verify-settle": duration(0),
  "retry-initial": duration(1),
  "retry-max": duration(1),
  "metrics-file": absolutePath,
  "config-roots": configRoots,
  "webhook-secret-file": absolutePath,
  "pull-timeout": duration(1),
} satisfies Record<SettingName, z.ZodType>;

type Value<N extends SettingName> = z.output<(typeof VALIDATORS)[N]>;

const tomlDuration = z.union([z.number(), z.string()]).optional();

const agentTomlSchema = z.strictObject({
  repo: z.string().optional(),
  rev: z.string().optional(),
  host: z.string().optional(),
  "quadlet-dir": z.string().optional(),
  "systemd-unit-dir": z.string().optional(),
  "config-dir": z.string().optional(),
  "state-dir": z.string().optional(),
  "lock-path": z.string().optional(),
  "require-signed": z.boolean().optional(),
  "allowed-signers": z.string().optional(),
  "ssh-key": z.string().optional(),
  "fetch-timeout": tomlDuration,
  "verify-timeout": tomlDuration,
  "verify-settle": tomlDuration,
  "retry-initial": tomlDuration,
  "retry-max": tomlDuration,
  "metrics-file": z.string().optional(),
  "config-roots": z.array(z.string()).optional(),
  "webhook-secret-file": z.string().optional(),
  "pull-timeout": tomlDuration,
});

/** The parsed contents of agent.toml. */
export type AgentToml = z.infer<typeof agentTomlSchema>;

/** Where each value came from, for messages and `status`. */
export type Origin = "flag" | "environment" | "agent.toml" | "default";

/** Inputs to resolution: flags as parsed, the environment, and agent.toml as read. */
export interface SettingsInput {
  /** Flag values as given on the command line (a boolean flag given is `"true"`). */
  flags: Partial<Record<SettingName, string>>;
  env: (name: string) => string | undefined;
  toml: { path: string; values: AgentToml } | null;
}

/** Resolved settings. Durations are whole seconds. */
export interface Settings {
  repo: string | null;
  rev: string | null;
  /** Explicit host id, or `null` to fall back to the machine's hostname. */
  host: string | null;
  dirs: TargetDirs;
  stateDir: string;
  lockPath: string;
  /** Refuse a revision whose commit is not signed by a key in {@link allowedSigners}. */
  requireSigned: boolean;
  /** ssh allowed-signers file (git's `gpg.ssh.allowedSignersFile`); required with requireSigned. */
  allowedSigners: string | null;
  /** Private key for ssh remotes (a deploy key), or `null` for ssh's defaults. */
  sshKey: string | null;
  fetchTimeoutSeconds: number;
  verifyTimeoutSeconds: number;
  verifySettleSeconds: number;
  retryInitialSeconds: number;
  retryMaxSeconds: number;
  /** Prometheus textfile to write after each agent run, or `null` for none. */
  metricsFile: string | null;
  /** Allowed config roots, or `null` for "all but the built-in deny-list" (SPEC §4). */
  configRoots: readonly string[] | null;
  /** The shared secret `core-ops webhook` checks requests against (SPEC §8), or `null`. */
  webhookSecretFile: string | null;
  /** Longest one image pull before a container is replaced may take (SPEC §9). */
  pullTimeoutSeconds: number;
  origins: Partial<Record<SettingName, Origin>>;
}

/** Resolves settings; throws exit 64 naming every bad setting and its origin. Pure. */
export function resolveSettings(input: SettingsInput): Settings {
  const errors: Diagnostic[] = [];
  const origins: Partial<Record<SettingName, Origin>> = {};
  const wheres: Partial<Record<SettingName, string>> = {};
  const get = <N extends SettingName>(name: N): Value<N> | null => {
    let raw: unknown;
    let origin: Origin;
    let where: string;
    const envName = ENV_NAMES[name];
    if (input.flags[name] !== undefined) {
      raw = input.flags[name];
      origin = "flag";
      where = `--${name}`;
    } else if (input.env(envName) !== undefined) {
      raw = input.env(envName);
      origin = "environment";
      where = `${envName} (environment)`;
    } else if (input.toml?.values[name] !== undefined) {
      raw = input.toml.values[name];
      origin = "agent.toml";
      where = `${name} in ${input.toml.path}`;
    } else if (name in DEFAULTS) {
      raw = DEFAULTS[name as keyof typeof DEFAULTS];
      origin = "default";
      where = `${name} (default)`;
    } else {
      return null;
    }
    const result = VALIDATORS[name].safeParse(raw);
    if (!result.success) {
      const shown = typeof raw === "string" ? raw : JSON.stringify(raw);
      errors.push({ message: `invalid ${where}: "${shown}" ${result.error.issues[0].message}` });
      return null;
    }
    origins[name] = origin;
    wheres[name] = where;
    return result.data as Value<N>;
  };
  const settings: Settings = {
    repo: get("repo"),
    rev: get("rev"),
    host: get("host"),
    dirs: {
      quadletDir: get("quadlet-dir") ?? DEFAULTS["quadlet-dir"],
      systemdUnitDir: get("systemd-unit-dir") ?? DEFAULTS["systemd-unit-dir"],
      configDir: get("config-dir") ?? DEFAULTS["config-dir"],
    },
    stateDir: get("state-dir") ?? DEFAULTS["state-dir"],
    lockPath: get("lock-path") ?? DEFAULTS["lock-path"],
    requireSigned: get("require-signed") ?? DEFAULTS["require-signed"],
    allowedSigners: get("allowed-signers"),
    sshKey: get("ssh-key"),
    fetchTimeoutSeconds: get("fetch-timeout") ?? DEFAULTS["fetch-timeout"],
    verifyTimeoutSeconds: get("verify-timeout") ?? DEFAULTS["verify-timeout"],
    verifySettleSeconds: get("verify-settle") ?? DEFAULTS["verify-settle"],
    retryInitialSeconds: get("retry-initial") ?? DEFAULTS["retry-initial"],
    retryMaxSeconds: get("retry-max") ?? DEFAULTS["retry-max"],
    metricsFile: get("metrics-file"),
    configRoots: get("config-roots"),
    webhookSecretFile: get("webhook-secret-file"),
    pullTimeoutSeconds: get("pull-timeout") ?? DEFAULTS["pull-timeout"],
    origins,
  };
  // Rules between settings, checked only when both sides are valid on their own.
  if (errors.length === 0) {
    if (settings.requireSigned && settings.allowedSigners === null) {
      errors.push({
        message: `${wheres["require-signed"]} is true but no allowed-signers file is set`,
        hint: "set allowed-signers to an ssh allowed-signers file (see ssh-keygen(1))",
      });
    }
    if (settings.retryMaxSeconds < settings.retryInitialSeconds) {
      errors.push({
        message: `${wheres["retry-max"]} (${settings.retryMaxSeconds} s) is shorter than ${
          wheres["retry-initial"]
        } (${settings.retryInitialSeconds} s)`,
      });
    }
    if (settings.verifySettleSeconds >= settings.verifyTimeoutSeconds) {
      errors.push({
        message: `${
          wheres["verify-settle"]
        } (${settings.verifySettleSeconds} s) must be shorter than ${
          wheres["verify-timeout"]
        } (${settings.verifyTimeoutSeconds} s): no unit could pass verification`,
      });
    }
  }
  if (errors.length > 0) throw new CoreOpsError(Exit.usage, "usage", errors);
  return settings;
}

/** Parses agent.toml text; errors name the file and line. Pure. */
export function parseAgentToml(path: string, text: string): AgentToml {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      throw new CoreOpsError(Exit.usage, "usage", [{
        message: `invalid TOML: ${error.message.split("\n")[0]}`,
        location: { file: path, line: error.line, column: error.column },
      }]);
    }
    throw error;
  }
  const result = agentTomlSchema.safeParse(raw);
  if (result.success) return result.data;
  const diagnostics: Diagnostic[] = [];
  for (const issue of result.error.issues) {
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [String(issue.path[0] ?? "")];
    for (const key of keys) {
      const line = text.split("\n").findIndex((l) =>
        new RegExp(`^\\s*"?${escape(key)}"?\\s*=`).test(l)
      );
      diagnostics.push({
        message: issue.code === "unrecognized_keys"
          ? `unknown setting "${key}"`
          : `"${key}": ${issue.message}`,
        location: { file: path, line: line >= 0 ? line + 1 : undefined },
        hint: issue.code === "unrecognized_keys"
          ? `known settings: ${Object.keys(agentTomlSchema.shape).join(", ")}`
          : undefined,
      });
    }
  }
  throw new CoreOpsError(Exit.usage, "usage", diagnostics);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Reads agent.toml from `explicit` (a flag or CORE_OPS_CONFIG) or the default
 * path. An explicit path that is missing is an error (66); a missing default
 * is not: plan and validate run without one.
 */
export async function readAgentToml(explicit: string | undefined): Promise<SettingsInput["toml"]> {
  const path = explicit ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && explicit === undefined) return null;
    if (error instanceof Deno.errors.NotFound) throw noInput("agent config not found", path);
    if (error instanceof Deno.errors.PermissionDenied) {
      throw noInput("permission denied reading the agent config", path, "run as root");
    }
    throw error;
  }
  return { path, values: parseAgentToml(path, text) };
}
