/**
 * The source a command reads, from its flags and settings: a checkout
 * (`--source-repo` or the positional argument) or a remote (`--repo --rev`, or
 * agent.toml), and the options the run's read step loads it with. Resolving
 * and reading are the run's (src/run/resolve.ts, read.ts), the same for every
 * command.
 *
 * @module
 */
import { usage } from "../errors.ts";
import { hostSources } from "../host/sources.ts";
import type { ReadOptions } from "../run/read.ts";
import type { RunSource } from "../run/run.ts";
import type { Settings } from "../settings.ts";
import { type CommonFlags, hostname, settingSource } from "./options.ts";

/**
 * The run source of a command. The commands that write (`apply`) fetch into
 * the persistent mirror in the state dir and check the signature when
 * `require-signed`; `plan` and `validate`, which never write, fetch into a
 * temporary mirror — and read it the same way.
 */
export function sourceOf(
  flags: CommonFlags,
  settings: Settings,
  into: "temp" | "mirror",
): RunSource {
  if (flags.sourceRepo !== undefined && flags.repo !== undefined) {
    throw usage(
      "--source-repo and --repo are exclusive",
      "use a local checkout or a remote, not both",
    );
  }
  if (flags.sourceRepo !== undefined) {
    if (flags.rev !== undefined) throw usage("--rev goes with --repo, not --source-repo");
    return { spec: { kind: "checkout", path: flags.sourceRepo }, ports: hostSources };
  }
  if (settings.repo === null) {
    throw usage(
      "no source",
      "pass --source-repo PATH, or --repo URL --rev REF, or set repo in agent.toml",
    );
  }
  if (settings.rev === null) throw usage("--repo needs --rev (or rev in agent.toml)");
  return {
    spec: {
      kind: "remote",
      url: settings.repo,
      rev: settings.rev,
      revFrom: settingSource(settings, "rev"),
      into,
      stateDir: settings.stateDir,
      fetchTimeoutSeconds: settings.fetchTimeoutSeconds,
      sshKey: settings.sshKey,
      allowedSigners: into === "mirror" && settings.requireSigned
        ? settings.allowedSigners ?? ""
        : null,
    },
    ports: hostSources,
  };
}

/** How the read step loads this host's desired state. */
export function readOptionsOf(settings: Settings): ReadOptions {
  return {
    host: settings.host ?? hostname(),
    dirs: settings.dirs,
    configRoots: settings.configRoots,
  };
}
