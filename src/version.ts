/**
 * What `core-ops --version` prints: the release version and the commit the
 * running code was built from, with `dirty` when that tree had changes.
 *
 * A package (`deno task package`) or a compiled binary (`deno task compile`,
 * `release`) carries the answer in src/build_stamp.ts, which the build tools
 * write into the copy they build from: no git at run time, no git on the host.
 * Run from a checkout (`deno task core-ops`, tests) nothing is stamped, and
 * git is asked (src/cli/version.ts) — only when `--version` is asked for: two
 * git processes would cost every other command's start-up (BENCHMARKS.md)
 * for nothing.
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

/** The stamp of this copy, when a build tool wrote one (else `null`: ask git, cli/version.ts). */
export const BUILT_FROM: BuiltFrom | null = STAMP;

/** `0.1.0 (commit <sha>)`, `0.1.0 (commit <sha>, dirty)` or `0.1.0 (commit unknown)`. */
export function formatVersion(from: BuiltFrom): string {
  if (from.commit === null) return `${VERSION} (commit unknown)`;
  return `${VERSION} (commit ${from.commit}${from.dirty ? ", dirty" : ""})`;
}
