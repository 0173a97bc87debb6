/**
 * What `core-ops --version` prints: the release version and the commit the
 * running code was built from, with `dirty` when that tree had changes.
 *
 * A package (`deno task package`) or a compiled binary (`deno task compile`,
 * `release`) carries the answer in src/build_stamp.ts, which the build tools
 * write into the copy they build from: no git at run time, no git on the host.
 * Run from a checkout (`deno task core-ops`, tests) nothing is stamped, and
 * git is asked — only when `--version` is asked for: two git processes would
 * cost every other command's start-up (BENCHMARKS.md) for nothing.
 *
 * @module
 */
import { STAMP } from "./build_stamp.ts";

/** The core-ops release version. */
export const VERSION = "0.1.0";

/** The tree a build came from. */
export interface BuiltFrom {
  /** Its HEAD commit (full sha); null when it was no git checkout or git could not tell. */
  commit: string | null;
  /** Its work tree had changes (untracked files count, as for `--source-repo`). */
  dirty: boolean;
}

/** `0.1.0 (commit <sha>)`, `0.1.0 (commit <sha>, dirty)` or `0.1.0 (commit unknown)`. */
export function formatVersion(from: BuiltFrom): string {
  if (from.commit === null) return `${VERSION} (commit unknown)`;
  return `${VERSION} (commit ${from.commit}${from.dirty ? ", dirty" : ""})`;
}

/**
 * Asks git where the checkout at `dir` is: its HEAD commit and whether its
 * work tree has changes. Used by the build tools to stamp, and by a checkout
 * run's `--version`. A failing git (none installed, not a repository) gives
 * an unknown commit, never a guess.
 */
export async function gitBuiltFrom(dir: string): Promise<BuiltFrom> {
  // Imported here: only --version and the build tools ever run git for this.
  const { git } = await import("./host/git.ts");
  const [head, status] = await Promise.all([
    git(["-C", dir, "rev-parse", "--verify", "HEAD^{commit}"]),
    git(["-C", dir, "status", "--porcelain", "--untracked-files=normal"]),
  ]);
  if (!head.ok || !status.ok) return { commit: null, dirty: false };
  return { commit: head.stdout.trim(), dirty: status.stdout.trim() !== "" };
}

/** The `--version` line of the running code: its stamp, or else what git says of its checkout. */
export async function versionText(): Promise<string> {
  if (STAMP !== null) return formatVersion(STAMP);
  const checkout = new URL("..", import.meta.url);
  if (checkout.protocol !== "file:") return formatVersion({ commit: null, dirty: false });
  return formatVersion(await gitBuiltFrom(checkout.pathname));
}
