/**
 * The commands' flags — one per setting, derived from the settings table
 * (`settingsCommand`, `sourceCommand`), and the few that are not settings —
 * and the step that turns them into resolved settings (resolving and loading
 * the source is `source.ts`, which the agent does not import).
 *
 * @module
 */
import { Command, Option } from "./args.ts";
import { CoreOpsError, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { Artifact } from "../model.ts";
import type { Action } from "../model.ts";
import { readAgentToml, resolveSettings, type Settings } from "../settings.ts";
import {
  type Camel,
  camel,
  type CommandName,
  CONFIG_ENV,
  envOf,
  type Row,
  rowOf,
  type SettingName,
  SETTINGS,
} from "../settings/table.ts";

/** Flags that are not settings, so every command spells them the same way. */
export const options = {
  sourceRepo: () => new Option("--source-repo <path>", "a local checkout, used as it is"),
  json: () => new Option("--json", "one JSON document on stdout"),
  diff: () => new Option("--diff", "show a unified diff of every file to be written or removed"),
  podmanVersion: () =>
    new Option(
      "--podman-version <version>",
      "name units as this Podman version would when its generator is not installed here " +
        "(default: the newest; on a host the generator decides)",
    ),
};

/** The flags of the settings command `C` takes, as parsed (a switch is `true`). */
export type SettingFlags<C extends CommandName = CommandName> = {
  [R in Row as C extends R["commands"][number] ? Camel<R["name"]> : never]?:
    R["kind"]["arg"] extends string ? string : true;
};

/** A setting's flag; its help is the row's text, its variable and its default. */
export function settingOption(row: Row): Option {
  const usage = row.kind.arg === null ? `--${row.name}` : `--${row.name} <${row.kind.arg}>`;
  const facts = [envOf(row)];
  if (row.default !== null) facts.push(`default ${row.default}${row.kind.unit ? " s" : ""}`);
  return new Option(usage, `${row.help} [${facts.join(", ")}]`);
}

/** Adds a flag for every setting command `name` takes, in the table's order. */
function addSettings<A extends unknown[], O, C extends CommandName>(
  command: Command<A, O>,
  name: C,
): Command<A, O & SettingFlags<C>> {
  for (const row of SETTINGS) {
    if ((row.commands as readonly CommandName[]).includes(name)) {
      command.addOption(settingOption(row));
    }
  }
  // Exactly the options SettingFlags<C> names were added; a loop cannot spell them in types.
  return command as unknown as Command<A, O & SettingFlags<C>>;
}

/** A command with a flag for every setting it takes, in the table's order. */
export function settingsCommand<C extends CommandName>(name: C): Command<[], SettingFlags<C>> {
  return addSettings(new Command(name), name);
}

/**
 * A command that reads a source for a host and knows the target dirs: the
 * positional source, `--source-repo`, and the settings the command takes.
 */
export function sourceCommand<C extends "plan" | "apply" | "validate">(name: C) {
  return addSettings(
    new Command(name)
      .argument("[source]", "a local checkout (same as --source-repo)")
      .addOption(options.sourceRepo()),
    name,
  );
}

/** The flags that pick and feed a source, as `plan`, `apply` and `validate` parse them. */
export type CommonFlags = SettingFlags & { sourceRepo?: string };

/**
 * Resolves `command`'s settings from flags, the environment and agent.toml.
 * Only the settings `command` takes as flags are read from `flags`: a
 * command's own flag of the same name (plan's and apply's `--adopt`, which
 * takes over any unowned file, unlike the agent's `adopt`) is not the setting.
 */
export function settingsFrom(
  flags: SettingFlags,
  command: CommandName,
  configPath?: string,
): Settings {
  const env = (name: string) => Deno.env.get(name);
  const toml = readAgentToml(configPath ?? env(CONFIG_ENV));
  const given: Partial<Record<SettingName, string>> = {};
  const parsed: Record<string, string | true | undefined> = flags;
  for (const row of SETTINGS) {
    if (!(row.commands as readonly CommandName[]).includes(command)) continue;
    const value = parsed[camel(row.name)];
    if (value !== undefined) given[row.name] = value === true ? "true" : value;
  }
  return resolveSettings({ flags: given, env, toml });
}

/**
 * Refuses, before anything is locked or changed, a writing command whose
 * target dirs, state dir or lock path the permission flags do not let it
 * write (exit 77, SPEC §3): without this the first write of the run fails
 * half-way and is rolled back as an ordinary run failure. The message names
 * each path and the setting (flag, variable or agent.toml key) it came from.
 * `query` is Deno's permission check; tests pass their own. `only` limits the
 * check to the settings a command writes (default: all of them).
 */
export function checkWritable(
  settings: Settings,
  query: (path: string) => Deno.PermissionState = (path) =>
    Deno.permissions.querySync({ name: "write", path }).state,
  only?: readonly SettingName[],
): void {
  const targets: [SettingName, string][] = [
    ["quadlet-dir", settings.dirs.quadletDir],
    ["systemd-unit-dir", settings.dirs.systemdUnitDir],
    ["config-dir", settings.dirs.configDir],
    ["state-dir", settings.stateDir],
    ["lock-path", settings.lockPath],
  ];
  const denied = targets.filter(([name, path]) =>
    (only === undefined || only.includes(name)) && query(path) !== "granted"
  );
  if (denied.length === 0) return;
  throw new CoreOpsError(
    Exit.noPerm,
    "permission",
    denied.map(([name, path]) => ({
      message: `core-ops may not write ${path} (${settingSource(settings, name)}): ` +
        `its permission flags do not grant --allow-write for it`,
      hint: "the release build writes only the default dirs (/etc/containers/systemd, " +
        "/etc/systemd/system, /etc, /var/lib/core-ops, /run/core-ops); " +
        "plan and validate work with any dirs",
    })),
  );
}

/** Where a setting came from, as an operator would change it: `--rev`, a variable, agent.toml. */
export function settingSource(settings: Settings, name: SettingName): string {
  switch (settings.origins[name]) {
    case "flag":
      return `--${name}`;
    case "environment":
      return envOf(rowOf(name));
    case "agent.toml":
      return `${name} in agent.toml`;
    default:
      return `default ${name}`;
  }
}

/** The machine's hostname, the host id when none is set (SPEC §1). */
export function hostname(): string | null {
  try {
    return Deno.hostname();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new CoreOpsError(Exit.software, "internal", [{ message: "cannot read the hostname" }]);
  }
}

/** The `--diff` of `actions`: what is on disk now against what they put there. */
export async function diffText(
  actions: readonly Action[],
  artifacts: readonly Artifact[],
  files: Files,
): Promise<string> {
  const paths = actions.filter((a) => a.op === "write" || a.op === "remove").map((a) => a.target);
  const current = new Map(
    await Promise.all(paths.map(async (path) => [path, await files.read(path)] as const)),
  );
  // Loaded only for --diff: every other run skips the diff package.
  const { renderDiff } = await import("../plan/diff.ts");
  return renderDiff(actions, artifacts, current);
}
