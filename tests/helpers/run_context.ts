/**
 * The run core's context for unit tests: target dirs, a state dir and a
 * resolved revision over recording fakes, with every timing setting that
 * would make a test wait set to nothing. Tests spread their own fields over it
 * (a retry policy, an age identity, a user database, …).
 */
import type { ApplyRunContext, RunSource } from "../../src/run/run.ts";
import { StateStore } from "../../src/state/store.ts";
import type { RepoTree } from "../../src/tree.ts";
import { type FakeFiles, fakeGenerator, type FakeSystemd } from "./fakes.ts";
import { DIRS } from "./layout.ts";
import { type Files, memoryTree } from "./repo.ts";

/** The target dirs every run-core test deploys to: the layout tests' own. */
export { DIRS };

/** The state dir of every run-core test. */
export const STATE = "/var/lib/state";

/** A revision already resolved: `files` (or a tree) at `revision`. */
export function committed(
  files: Files | RepoTree,
  revision: string,
  from: { repository?: string; ref?: string | null } = {},
): RunSource {
  const tree = "entries" in files && Array.isArray(files.entries)
    ? files as RepoTree
    : memoryTree(files as Files);
  return {
    resolved: {
      revision,
      repository: from.repository ?? "/src",
      ref: from.ref ?? null,
      read: () => Promise.resolve(tree),
      dispose: () => Promise.resolve(),
    },
  };
}

/** The fakes a run drives. */
export interface FakeHost {
  files: FakeFiles;
  systemd: FakeSystemd;
  generator?: ApplyRunContext["generator"];
}

/** A run of `source` on `host`, with `extra` fields over the defaults. */
export function runContext(
  host: FakeHost,
  source: RunSource,
  extra: Partial<ApplyRunContext> = {},
): ApplyRunContext {
  return {
    source,
    read: { host: null, dirs: DIRS, configRoots: null },
    retry: null,
    dirs: DIRS,
    store: new StateStore(STATE, host.files),
    files: host.files,
    systemd: host.systemd,
    generator: host.generator ?? fakeGenerator(),
    adopt: false,
    verifyTimeoutMs: 5_000,
    verifySettleMs: 0,
    pollMs: 1,
    sleep: () => Promise.resolve(),
    ...extra,
  };
}
