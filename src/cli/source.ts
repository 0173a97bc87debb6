/**
 * Resolving the source `plan`, `apply` and `validate` read — a checkout as it
 * is, or a fetched revision — and loading the desired state from it. Apart
 * from options.ts so that the agent, which resolves its own source and keeps
 * the loaded state per commit, does not evaluate the loader at all on a tick
 * that does not need it.
 *
 * @module
 */
import type { ResolvedSource } from "../apply/pipeline.ts";
import { usage } from "../errors.ts";
import { fetchRevision, gitMirror, provenance } from "../host/git.ts";
import { gitSignatureVerifier } from "../host/signature.ts";
import type { DesiredState } from "../model.ts";
import type { Settings } from "../settings.ts";
import { readGitTree } from "../source/gittree.ts";
import { loadDesiredState } from "../source/layout.ts";
import { readRepoTree, type RepoTree } from "../source/tree.ts";
import { type CommonFlags, hostname } from "./options.ts";

/** A loaded source: the desired state and the revision it came from. */
export interface LoadedSource {
  revision: string;
  desired: DesiredState;
}

/**
 * Resolves the source — a checkout as it is, or a fetched revision — and reads
 * its tree; loading the desired state from it is left to `load()`, so a
 * layout error is known to belong to that revision. `apply` fetches into the
 * persistent mirror in the state dir (and checks the signature when
 * `require-signed`); `plan` and `validate`, which never write, fetch into a
 * temp dir.
 */
export async function resolveSource(
  flags: CommonFlags,
  settings: Settings,
  fetchInto: "temp" | "mirror" = "temp",
): Promise<ResolvedSource> {
  if (flags.sourceRepo !== undefined && flags.repo !== undefined) {
    throw usage(
      "--source-repo and --repo are exclusive",
      "use a local checkout or a remote, not both",
    );
  }
  const hostId = settings.host ?? hostname();
  const loader = (tree: RepoTree) => () =>
    Promise.resolve(
      loadDesiredState(tree, {
        host: hostId,
        dirs: settings.dirs,
        configRoots: { allow: settings.configRoots },
      }),
    );
  if (flags.sourceRepo !== undefined) {
    if (flags.rev !== undefined) throw usage("--rev goes with --repo, not --source-repo");
    // git starts first and runs while the tree is read (the walk is synchronous).
    const revision = provenance(flags.sourceRepo);
    const tree = await readRepoTree(flags.sourceRepo).catch(async (error) => {
      await revision.catch(() => {}); // the read's failure is the one to report
      throw error;
    });
    return { revision: await revision, load: loader(tree) };
  }
  if (settings.repo === null) {
    throw usage(
      "no source",
      "pass --source-repo PATH, or --repo URL --rev REF, or set repo in agent.toml",
    );
  }
  if (settings.rev === null) throw usage("--repo needs --rev (or rev in agent.toml)");
  const fetchOptions = { timeoutSeconds: settings.fetchTimeoutSeconds, sshKey: settings.sshKey };
  if (fetchInto === "mirror") {
    const { commit, mirror } = await gitMirror.fetch({
      url: settings.repo,
      rev: settings.rev,
      stateDir: settings.stateDir,
      ...fetchOptions,
    });
    if (settings.requireSigned) {
      await gitSignatureVerifier.verify(mirror, commit, settings.allowedSigners ?? "");
    }
    return {
      revision: commit,
      load: async () => await loader(await readGitTree(mirror, commit))(),
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "core-ops-source-" });
  try {
    const revision = await fetchRevision(settings.repo, settings.rev, dir, fetchOptions);
    return { revision, load: loader(await readRepoTree(dir)) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Resolves the source, reads it, and loads the desired state for the resolved
 * host.
 */
export async function loadSource(flags: CommonFlags, settings: Settings): Promise<LoadedSource> {
  const source = await resolveSource(flags, settings);
  return { revision: source.revision, desired: await source.load() };
}
