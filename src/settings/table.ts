/**
 * The settings table: one row per setting (SPEC §3, §4). agent.toml's schema,
 * the `CORE_OPS_*` variables, the flags with their help, and the type of the
 * resolved settings are all derived from it — adding a setting is adding a row.
 *
 * @module
 */
import * as z from "../zod.ts";
import { IDENTIFIER } from "../model.ts";
import { count, duration, flag, type Kind, path, roots, text } from "./kinds.ts";

/** Default agent config path. */
export const DEFAULT_CONFIG_PATH = "/etc/core-ops/agent.toml";

/** The variable naming another agent.toml (`agent --config` is its flag); not a key in it. */
export const CONFIG_ENV = "CORE_OPS_CONFIG";

/** The commands that take settings as flags. */
export type CommandName =
  | "plan"
  | "apply"
  | "agent"
  | "validate"
  | "status"
  | "explain"
  | "pause"
  | "resume"
  | "rollback"
  | "trigger"
  | "webhook";

/**
 * One setting: its name (the agent.toml key, and `--name` as a flag), its
 * `CORE_OPS_*` variable (derived from the name unless given), help text,
 * kind, default (`null`: unset) and the commands that take it as a flag. The
 * environment and agent.toml apply to every command that reads settings.
 */
export interface SettingRow<
  N extends string = string,
  K extends Kind = Kind,
  D = unknown,
  C extends readonly CommandName[] = readonly CommandName[],
> {
  name: N;
  kind: K;
  help: string;
  default: D;
  commands: C;
  env?: string;
}

/** Keeps a row's literal types (name, kind, default, commands) for the types derived below. */
function setting<
  const N extends string,
  K extends Kind,
  const D extends z.input<K["schema"]> | null,
  const C extends readonly CommandName[],
>(
  row: SettingRow<N, K, D, C>,
): SettingRow<N, K, D, C> {
  return row;
}

const SOURCE_COMMANDS = ["plan", "apply", "agent", "validate"] as const;
const RUN_COMMANDS = ["apply", "agent"] as const;
/** What a rollback takes: where files go and how units are verified, as an apply. */
const TARGET_COMMANDS = [...SOURCE_COMMANDS, "rollback"] as const;

/**
 * Every setting (SPEC §3, §4), in the order `--help` lists them. Adding a
 * setting is adding a row: agent.toml, the environment, the flags, their help
 * and the resolved {@link Settings} field all follow from it.
 */
export const SETTINGS = [
  setting({
    name: "repo",
    kind: text("url", z.string().check(z.minLength(1, "must not be empty"))),
    help: "a repository to fetch",
    default: null,
    commands: SOURCE_COMMANDS,
  }),
  setting({
    name: "rev",
    kind: text(
      "ref",
      z.string().check(
        z.minLength(1, "must not be empty"),
        z.regex(/^[^\s-][^\s]*$/, "must be a branch, tag or commit"),
      ),
    ),
    help: "the branch, tag or commit of --repo",
    default: null,
    commands: [...SOURCE_COMMANDS, "webhook"],
  }),
  setting({
    name: "host",
    kind: text(
      "id",
      z.string().check(z.regex(IDENTIFIER, "must match ^[A-Za-z0-9][A-Za-z0-9@._-]*$")),
    ),
    help: "the host id (default: the hostname)",
    default: null,
    commands: TARGET_COMMANDS,
  }),
  setting({
    name: "quadlet-dir",
    kind: path("dir"),
    help: "where quadlet files go",
    default: "/etc/containers/systemd",
    commands: TARGET_COMMANDS,
  }),
  setting({
    name: "systemd-unit-dir",
    kind: path("dir"),
    help: "where native units go",
    default: "/etc/systemd/system",
    commands: TARGET_COMMANDS,
  }),
  setting({
    name: "config-dir",
    kind: path("dir"),
    help: "where service config roots go",
    default: "/etc",
    commands: TARGET_COMMANDS,
  }),
  setting({
    name: "state-dir",
    kind: path("dir"),
    help: "core-ops state (ownership manifest)",
    default: "/var/lib/core-ops",
    commands: ["plan", "apply", "agent", "status", "explain", "pause", "resume", "rollback"],
  }),
  setting({
    name: "lock-path",
    kind: path("path"),
    help: "the run lock",
    default: "/run/core-ops/lock",
    commands: ["plan", "apply", "agent", "pause", "resume", "rollback", "trigger", "webhook"],
  }),
  setting({
    name: "require-signed",
    kind: flag,
    help: "refuse a revision not signed by an allowed signer",
    default: false,
    commands: RUN_COMMANDS,
  }),
  setting({
    name: "allowed-signers",
    kind: path("path"),
    help: "ssh allowed-signers file for --require-signed",
    default: null,
    commands: RUN_COMMANDS,
  }),
  setting({
    name: "ssh-key",
    kind: path("path"),
    help: "private key for ssh remotes (a deploy key)",
    default: null,
    commands: RUN_COMMANDS,
  }),
  setting({
    name: "fetch-timeout",
    kind: duration(1),
    help: "longest a fetch may take (seconds, or 90s/5m/1h)",
    default: 60,
    commands: RUN_COMMANDS,
  }),
  setting({
    name: "verify-timeout",
    kind: duration(1),
    help: "deadline for units to become healthy",
    default: 60,
    commands: [...RUN_COMMANDS, "rollback"],
  }),
  setting({
    name: "verify-settle",
    kind: duration(0),
    help: "how long a unit must stay healthy to pass",
    default: 3,
    commands: [...RUN_COMMANDS, "rollback"],
  }),
  setting({
    name: "retry-initial",
    kind: duration(1),
    help: "first wait before a failed revision is retried",
    default: 60,
    commands: ["agent"],
  }),
  setting({
    name: "retry-max",
    kind: duration(1),
    help: "longest wait between retries",
    default: 3600,
    commands: ["agent"],
  }),
  setting({
    name: "metrics-file",
    kind: path("path"),
    help: "Prometheus textfile written after each run",
    default: null,
    commands: ["agent"],
  }),
  setting({
    name: "keep-generations",
    kind: count(1, 100, " (the applied one)"),
    help: "how many applied generations the state dir keeps for rollback",
    default: 5,
    commands: ["apply", "agent", "rollback"],
  }),
  setting({
    name: "adopt",
    kind: flag,
    help: "take over files at destinations that already match the revision",
    default: false,
    commands: ["agent"],
  }),
  setting({
    name: "pull-timeout",
    kind: duration(1),
    help: "longest one image pull before a container is replaced may take",
    default: 900,
    commands: [...RUN_COMMANDS, "rollback"],
  }),
  setting({
    name: "webhook-secret-file",
    kind: path("path"),
    help: "the webhook's shared secret (a root-owned file)",
    default: null,
    commands: ["webhook"],
  }),
  setting({
    name: "age-identity",
    kind: path("path"),
    help: "age identity file that decrypts the repository's secrets",
    default: "/etc/core-ops/age.key",
    commands: ["plan", "apply", "agent", "rollback"],
  }),
  setting({
    name: "config-roots",
    kind: roots,
    help: "comma-separated config roots a repo may write (default: all but the deny-list)",
    default: null,
    commands: RUN_COMMANDS,
  }),
] as const;

export type Row = (typeof SETTINGS)[number];

/** A setting's name as spelled in agent.toml and (with `--`) as a flag. */
export type SettingName = Row["name"];

/** `fetch-timeout` → `fetchTimeout`: the key a flag's value is parsed under. */
export type Camel<S extends string> = S extends `${infer H}-${infer T}`
  ? `${H}${Capitalize<Camel<T>>}`
  : S;

/** The runtime twin of {@link Camel}. */
export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The field a setting resolves to: `quadletDir`, `fetchTimeoutSeconds`. */
export type FieldOf<R extends Row> = `${Camel<R["name"]>}${R["kind"]["unit"]}`;

/** The runtime twin of {@link FieldOf}. */
export function fieldOf(row: Row): string {
  return camel(row.name) + row.kind.unit;
}

/** A setting's `CORE_OPS_*` variable: given, or its name upper-cased with `-` → `_`. */
export function envOf(row: SettingRow): string {
  return row.env ?? `CORE_OPS_${row.name.toUpperCase().replaceAll("-", "_")}`;
}

/** The row of `name`. */
export function rowOf<N extends SettingName>(name: N): Extract<Row, { name: N }> {
  // Every SettingName is the name of exactly one row.
  return SETTINGS.find((row) => row.name === name) as Extract<Row, { name: N }>;
}

/** The `CORE_OPS_*` environment variable of each setting. */
export const ENV_NAMES = Object.fromEntries(
  SETTINGS.map((row) => [row.name, envOf(row)]),
) as Record<SettingName, string>;

/** Every resolved value, named by {@link FieldOf}; `null` where unset and without default. */
export type SettingValues = {
  [R in Row as FieldOf<R>]: R["default"] extends null ? z.output<R["kind"]["schema"]> | null
    : z.output<R["kind"]["schema"]>;
};
