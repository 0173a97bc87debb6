/**
 * Options shared by the commands that read a source and target dirs, and the
 * step that turns them into resolved settings (resolving and loading the
 * source is `source.ts`, which the agent does not import).
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { CoreOpsError, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { Artifact } from "../model.ts";
import type { Action } from "../model.ts";
import {
  ENV_NAMES,
  readAgentToml,
  resolveSettings,
  type SettingName,
  type Settings,
} from "../settings.ts";

/** Option factories, so every command spells each flag the same way. */
export const options = {
  sourceRepo: () => new Option("--source-repo <path>", "a local checkout, used as it is"),
  repo: () => new Option("--repo <url>", "a repository to fetch"),
  rev: () => new Option("--rev <ref>", "the branch, tag or commit of --repo"),
  host: () =>
    new Option("--host <id>", "the host id (default: CORE_OPS_HOST, agent.toml, hostname)"),
  json: () => new Option("--json", "one JSON document on stdout"),
  diff: () => new Option("--diff", "show a unified diff of every file to be written or removed"),
  quadletDir: () => new Option("--quadlet-dir <dir>", "where quadlet files go"),
  systemdUnitDir: () => new Option("--systemd-unit-dir <dir>", "where native units go"),
  configDir: () => new Option("--config-dir <dir>", "where service config roots go"),
  stateDir: () => new Option("--state-dir <dir>", "core-ops state (ownership manifest)"),
  lockPath: () => new Option("--lock-path <path>", "the run lock"),
  podmanVersion: () =>
    new Option(
      "--podman-version <version>",
      "name units as this Podman version would when its generator is not installed here " +
        "(default: the newest; on a host the generator decides)",
    ),
  requireSigned: () =>
    new Option("--require-signed", "refuse a revision not signed by an allowed signer"),
  allowedSigners: () =>
    new Option("--allowed-signers <path>", "ssh allowed-signers file for --require-signed"),
  sshKey: () => new Option("--ssh-key <path>", "private key for ssh remotes (a deploy key)"),
  fetchTimeout: () =>
    new Option("--fetch-timeout <duration>", "longest a fetch may take (seconds, or 90s/5m/1h)"),
  verifyTimeout: () =>
    new Option("--verify-timeout <duration>", "deadline for units to become healthy"),
  verifySettle: () =>
    new Option("--verify-settle <duration>", "how long a unit must stay healthy to pass"),
  retryInitial: () =>
    new Option("--retry-initial <duration>", "first wait before a failed revision is retried"),
  retryMax: () => new Option("--retry-max <duration>", "longest wait between retries"),
  metricsFile: () =>
    new Option("--metrics-file <path>", "Prometheus textfile written after each run"),
  configRoots: () =>
    new Option("--config-roots <list>", "comma-separated config roots a repo may write"),
  pullTimeout: () =>
    new Option("--pull-timeout <duration>", "longest one image pull may take (default 15m)"),
  webhookSecretFile: () =>
    new Option("--webhook-secret-file <path>", "the webhook's shared secret (a file)"),
};

/**
 * A command that reads a source for a host and knows the target dirs: the
 * flags `plan`, `validate` (and later `apply`) share, spelled once.
 */
export function sourceCommand(name: string) {
  return new Command(name)
    .argument("[source]", "a local checkout (same as --source-repo)")
    .addOption(options.sourceRepo())
    .addOption(options.repo())
    .addOption(options.rev())
    .addOption(options.host())
    .addOption(options.quadletDir())
    .addOption(options.systemdUnitDir())
    .addOption(options.configDir());
}

/** The flags that feed settings, as commander parses them. */
export interface CommonFlags {
  sourceRepo?: string;
  repo?: string;
  rev?: string;
  host?: string;
  quadletDir?: string;
  systemdUnitDir?: string;
  configDir?: string;
  stateDir?: string;
  lockPath?: string;
  requireSigned?: boolean;
  allowedSigners?: string;
  sshKey?: string;
  fetchTimeout?: string;
  verifyTimeout?: string;
  verifySettle?: string;
  retryInitial?: string;
  retryMax?: string;
  metricsFile?: string;
  configRoots?: string;
  webhookSecretFile?: string;
  pullTimeout?: string;
}

/** Resolves settings from flags, the environment and agent.toml. */
export async function settingsFrom(flags: CommonFlags, configPath?: string): Promise<Settings> {
  const env = (name: string) => Deno.env.get(name);
  const toml = await readAgentToml(configPath ?? env("CORE_OPS_CONFIG"));
  const named: Partial<Record<SettingName, string>> = {
    repo: flags.repo,
    rev: flags.rev,
    host: flags.host,
    "quadlet-dir": flags.quadletDir,
    "systemd-unit-dir": flags.systemdUnitDir,
    "config-dir": flags.configDir,
    "state-dir": flags.stateDir,
    "lock-path": flags.lockPath,
    "require-signed": flags.requireSigned === true ? "true" : undefined,
    "allowed-signers": flags.allowedSigners,
    "ssh-key": flags.sshKey,
    "fetch-timeout": flags.fetchTimeout,
    "verify-timeout": flags.verifyTimeout,
    "verify-settle": flags.verifySettle,
    "retry-initial": flags.retryInitial,
    "retry-max": flags.retryMax,
    "metrics-file": flags.metricsFile,
    "config-roots": flags.configRoots,
    "webhook-secret-file": flags.webhookSecretFile,
    "pull-timeout": flags.pullTimeout,
  };
  for (const key of Object.keys(named) as SettingName[]) {
    if (named[key] === undefined) delete named[key];
  }
  return resolveSettings({ flags: named, env, toml });
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

/** Where a setting came from, as an operator would change it: `--quadlet-dir`, a variable … */
function settingSource(settings: Settings, name: SettingName): string {
  switch (settings.origins[name]) {
    case "flag":
      return `--${name}`;
    case "environment":
      return ENV_NAMES[name];
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
