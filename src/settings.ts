/**
 * Settings (SPEC §3, §4): one table, {@link SETTINGS}, with a row per setting,
 * from which agent.toml's schema, the `CORE_OPS_*` variables, the flags and
 * the resolved {@link Settings} type are derived. Resolution is flag >
 * environment > agent.toml > default; every value is validated, and a bad one
 * is reported naming the setting and where it came from (exit 64).
 *
 * Durations are whole seconds: an integer, or a string of digits with an
 * optional unit `s`, `m` or `h` (`"90s"`, `"5m"`, `"1h"`), the same in
 * agent.toml, environment and flags. Fractions and other units are refused.
 * Booleans from the environment or a flag are true/false, yes/no, 1/0.
 * `config-roots` is a TOML array, or a comma-separated list elsewhere.
 *
 * @module
 */
import { parse as parseToml, TomlError } from "smol-toml";
import * as z from "./zod.ts";
import { CoreOpsError, type Diagnostic, Exit, noInput } from "./errors.ts";
import type { TargetDirs } from "./model.ts";
import {
  DEFAULT_CONFIG_PATH,
  envOf,
  fieldOf,
  type Row,
  type SettingName,
  SETTINGS,
  type SettingValues,
} from "./settings/table.ts";

/** Resolved settings. Durations are whole seconds; `host` null falls back to the hostname. */
export type Settings = SettingValues & {
  /** The three target dirs, grouped as the loader and planner take them. */
  dirs: TargetDirs;
  /** Where each value came from, for messages and `status`. */
  origins: Partial<Record<SettingName, Origin>>;
};

/** The parsed contents of agent.toml: any setting, type-checked but not yet validated. */
export type AgentToml = { [N in SettingName]?: unknown };

/** agent.toml's schema, derived from the table: each key's TOML types, unknown keys refused. */
const agentTomlSchema = z.strictObject(
  Object.fromEntries(SETTINGS.map((row) => [row.name, z.optional(row.kind.toml)])),
);

/** Where each value came from, for messages and `status`. */
export type Origin = "flag" | "environment" | "agent.toml" | "default";

/** Inputs to resolution: flags as parsed, the environment, and agent.toml as read. */
export interface SettingsInput {
  /** Flag values as given on the command line (a switch given is `"true"`). */
  flags: Partial<Record<SettingName, string>>;
  env: (name: string) => string | undefined;
  toml: { path: string; values: AgentToml } | null;
}

/** A setting's raw value and where it came from, by precedence; `null` when unset. */
function lookup(
  row: Row,
  input: SettingsInput,
): { raw: unknown; origin: Origin; where: string } | null {
  const name: SettingName = row.name;
  const env = envOf(row);
  const flagValue = input.flags[name];
  if (flagValue !== undefined) return { raw: flagValue, origin: "flag", where: `--${name}` };
  const envValue = input.env(env);
  if (envValue !== undefined) {
    return { raw: envValue, origin: "environment", where: `${env} (environment)` };
  }
  const tomlValue = input.toml?.values[name];
  if (input.toml !== null && tomlValue !== undefined) {
    return { raw: tomlValue, origin: "agent.toml", where: `${name} in ${input.toml.path}` };
  }
  if (row.default !== null) {
    return { raw: row.default, origin: "default", where: `${name} (default)` };
  }
  return null;
}

/** Resolves settings; throws exit 64 naming every bad setting and its origin. Pure. */
export function resolveSettings(input: SettingsInput): Settings {
  const errors: Diagnostic[] = [];
  const origins: Partial<Record<SettingName, Origin>> = {};
  const wheres: Partial<Record<SettingName, string>> = {};
  const values: Record<string, unknown> = {};
  for (const row of SETTINGS) {
    values[fieldOf(row)] = null;
    const found = lookup(row, input);
    if (found === null) continue;
    const result = row.kind.schema.safeParse(found.raw);
    if (!result.success) {
      const shown = typeof found.raw === "string" ? found.raw : JSON.stringify(found.raw);
      errors.push({
        message: `invalid ${found.where}: "${shown}" ${result.error.issues[0].message}`,
      });
      continue;
    }
    values[fieldOf(row)] = result.data;
    origins[row.name] = found.origin;
    wheres[row.name] = found.where;
  }
  if (errors.length > 0) throw new CoreOpsError(Exit.usage, "usage", errors);
  // Every field was set from its row above, each checked by the row's own schema.
  const resolved = values as SettingValues;
  const settings: Settings = {
    ...resolved,
    dirs: {
      quadletDir: resolved.quadletDir,
      systemdUnitDir: resolved.systemdUnitDir,
      configDir: resolved.configDir,
    },
    origins,
  };
  // Rules between settings, checked once each side is valid on its own.
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
export function readAgentToml(explicit: string | undefined): SettingsInput["toml"] {
  const path = explicit ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    // Synchronous: the first async file op of a process waits for the runtime's thread pool.
    text = Deno.readTextFileSync(path);
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
