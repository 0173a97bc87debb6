/**
 * Settings resolution (SPEC §3): flag > environment > agent.toml > default.
 * Every value is validated, and a bad one is reported naming the setting and
 * where it came from.
 *
 * @module
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";
import { CoreOpsError, type Diagnostic, Exit, noInput } from "./errors.ts";
import { IDENTIFIER, type TargetDirs } from "./model.ts";

/** Default agent config path. */
export const DEFAULT_CONFIG_PATH = "/etc/core-ops/agent.toml";

/** Built-in defaults (SPEC §1, §3). */
export const DEFAULTS = {
  "quadlet-dir": "/etc/containers/systemd",
  "systemd-unit-dir": "/etc/systemd/system",
  "config-dir": "/etc",
  "state-dir": "/var/lib/core-ops",
  "lock-path": "/run/core-ops/lock",
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
  | "lock-path";

const ENV_NAMES: Record<SettingName, string> = {
  repo: "CORE_OPS_REPO",
  rev: "CORE_OPS_REV",
  host: "CORE_OPS_HOST",
  "quadlet-dir": "CORE_OPS_QUADLET_DIR",
  "systemd-unit-dir": "CORE_OPS_SYSTEMD_UNIT_DIR",
  "config-dir": "CORE_OPS_CONFIG_DIR",
  "state-dir": "CORE_OPS_STATE_DIR",
  "lock-path": "CORE_OPS_LOCK_PATH",
};

const absolutePath = z.string().regex(
  /^\/(?!.*(^|\/)\.\.(\/|$)).*/,
  "must be an absolute path without '..'",
)
  .transform((p) => (p.length > 1 ? p.replace(/\/+$/, "") : p));

const VALIDATORS: Record<SettingName, z.ZodType<string, string>> = {
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
};

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
});

/** The parsed contents of agent.toml. */
export type AgentToml = z.infer<typeof agentTomlSchema>;

/** Where each value came from, for messages and `status`. */
export type Origin = "flag" | "environment" | "agent.toml" | "default";

/** Inputs to resolution: flags as parsed, the environment, and agent.toml as read. */
export interface SettingsInput {
  flags: Partial<Record<SettingName, string>>;
  env: (name: string) => string | undefined;
  toml: { path: string; values: AgentToml } | null;
}

/** Resolved settings. */
export interface Settings {
  repo: string | null;
  rev: string | null;
  /** Explicit host id, or `null` to fall back to the machine's hostname. */
  host: string | null;
  dirs: TargetDirs;
  stateDir: string;
  lockPath: string;
  origins: Partial<Record<SettingName, Origin>>;
}

/** Resolves settings; throws exit 64 naming every bad setting and its origin. Pure. */
export function resolveSettings(input: SettingsInput): Settings {
  const errors: Diagnostic[] = [];
  const origins: Partial<Record<SettingName, Origin>> = {};
  const get = (name: SettingName): string | null => {
    let raw: string | undefined;
    let origin: Origin;
    let where: string;
    if (input.flags[name] !== undefined) {
      raw = input.flags[name];
      origin = "flag";
      where = `--${name}`;
    } else if (input.env(ENV_NAMES[name]) !== undefined) {
      raw = input.env(ENV_NAMES[name]);
      origin = "environment";
      where = `${ENV_NAMES[name]} (environment)`;
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
    const result = VALIDATORS[name].safeParse(raw ?? "");
    if (!result.success) {
      errors.push({ message: `invalid ${where}: "${raw}" ${result.error.issues[0].message}` });
      return null;
    }
    origins[name] = origin;
    return result.data;
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
    origins,
  };
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
