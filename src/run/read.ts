/**
 * Step 2 of a run, read: the resolved revision's tree, judged by the pure
 * layout loader into this host's desired state (layout errors are exit 65 and
 * belong to the revision). The agent keeps the loaded state per commit
 * (desired_cache.ts): a tick at the commit it loaded last reads nothing.
 *
 * @module
 */
import type { Files } from "../host/files.ts";
import type { DesiredState, TargetDirs } from "../model.ts";
import { cachedLoad } from "./desired_cache.ts";
import type { Resolved } from "./resolve.ts";

/** What the loader needs besides the tree. */
export interface ReadOptions {
  /** The host id; only consulted when the repository has `hosts/`. */
  host: string | null;
  dirs: TargetDirs;
  /** Allowed config roots, or `null` for all but the built-in deny-list. */
  configRoots: readonly string[] | null;
  /**
   * Remember the loaded state per commit in the state dir — only for a
   * fetched commit (the agent): a checkout's files change under one
   * provenance. The running build keys it, so another build never trusts it.
   */
  cache?: { stateDir: string; files: Files; build: string };
}

/** Reads the source's tree and loads this host's desired state from it. */
export async function read(source: Resolved, options: ReadOptions): Promise<DesiredState> {
  // A kept generation was loaded and judged when it was first applied.
  if (source.desired !== undefined) return await source.desired();
  const load = async () => {
    // The loader (and the yaml parser it needs) is only evaluated when it runs.
    const { loadDesiredState } = await import("../source/layout.ts");
    return loadDesiredState(await source.read(), {
      host: options.host,
      dirs: options.dirs,
      configRoots: { allow: options.configRoots },
    });
  };
  const { cache } = options;
  if (cache === undefined) return await load();
  return await cachedLoad(
    load,
    {
      commit: source.revision,
      host: options.host,
      dirs: options.dirs,
      configRoots: options.configRoots,
      build: cache.build,
    },
    cache.stateDir,
    cache.files,
  )();
}
