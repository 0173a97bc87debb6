/**
 * What a `rev` asks of the mirror fetch (SPEC §3): git takes many spellings
 * of a commit — a branch or tag, a full or abbreviated commit id, and a
 * relative one (`main~1`, `v2^2`) — but a shallow fetch of one ref can
 * resolve only the first kinds. This says, before git runs, which kind a rev
 * is and what history resolving it needs, so the common case (a branch) stays
 * one shallow fetch and the rest fetch only what they need. A rev git would
 * never take is refused here (exit 64), never sent to the remote. Pure.
 *
 * @module
 */

/** A rev, as the fetch needs it. */
export type RevSpec =
  /** A branch, tag or full ref name: fetched as itself, shallow. */
  | { kind: "name"; name: string }
  /** A full commit id: fetched as itself, shallow. */
  | { kind: "commit"; id: string }
  /** An abbreviated commit id: resolved among every branch and tag, with their history. */
  | { kind: "abbrev"; prefix: string }
  /**
   * A base and a walk from it (`~N`, `^N`): the base is fetched deep enough
   * for the walk (`depth` commits), then git resolves the whole rev.
   */
  | { kind: "relative"; base: Exclude<RevSpec, { kind: "relative" }>; walk: string; depth: number };

/** A rev git would not take for a commit, and why. */
export interface Malformed {
  kind: "malformed";
  why: string;
}

const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ABBREV = /^[0-9a-f]{4,39}$/;
/** The walk at the end of a rev: `~`, `~N`, `^`, `^N`, repeated. */
const WALK = /(?:[~^][0-9]*)+$/;
/** Longest walk followed: a deeper one fetches a history of that many commits. */
export const MAX_WALK = 10_000;

/** Classifies `rev`. Pure. */
export function parseRev(rev: string): RevSpec | Malformed {
  if (rev.includes("@{")) {
    return malformed("reflog spellings (@{…}) name nothing in a fetched history");
  }
  const walk = WALK.exec(rev)?.[0] ?? "";
  const baseText = rev.slice(0, rev.length - walk.length);
  if (baseText === "") return malformed("it has no branch, tag or commit before the ~ or ^");
  const base = parseBase(baseText);
  if (base.kind === "malformed" || walk === "") return base;
  let depth = 0;
  for (const step of walk.match(/[~^][0-9]*/g) ?? []) {
    const n = step.length > 1 ? Number(step.slice(1)) : 1;
    // `^N` is the N-th parent: one commit back; `^0` the commit itself.
    depth += step[0] === "~" ? n : Math.min(n, 1);
  }
  if (depth > MAX_WALK) return malformed(`it walks back more than ${MAX_WALK} commits`);
  return { kind: "relative", base, walk, depth };
}

function parseBase(text: string): Exclude<RevSpec, { kind: "relative" }> | Malformed {
  if (FULL_COMMIT.test(text)) return { kind: "commit", id: text };
  const why = refNameProblem(text);
  if (why !== null) return malformed(why);
  if (ABBREV.test(text)) return { kind: "abbrev", prefix: text };
  return { kind: "name", name: text };
}

/** Why `name` is not a ref name git accepts (git-check-ref-format(1)), or `null`. */
export function refNameProblem(name: string): string | null {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(name)) {
    return "a ref name holds no spaces, control characters or any of ~ ^ : ? * [ \\";
  }
  if (name.includes("..")) return 'a ref name holds no ".."';
  if (name.startsWith("-")) return 'a ref name does not start with "-"';
  if (name === "@") return '"@" alone is not a ref name';
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
    return "a ref name has no empty path component";
  }
  if (name.endsWith(".")) return 'a ref name does not end with "."';
  for (const part of name.split("/")) {
    if (part.startsWith(".")) return 'no component of a ref name starts with "."';
    if (part.endsWith(".lock")) return 'no component of a ref name ends with ".lock"';
  }
  return null;
}

function malformed(why: string): Malformed {
  return { kind: "malformed", why };
}
