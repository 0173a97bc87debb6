/**
 * A source tree as plain data — what both readers (a checkout on disk,
 * src/host/checkout.ts; a commit in a git mirror, src/host/gittree.ts) produce
 * and the pure layout loader judges — and the limits both readers enforce.
 *
 * @module
 */

/** Top-level directories whose contents core-ops reads. */
export const PAYLOAD_ROOTS: ReadonlySet<string> = new Set(["services", "hosts"]);

/** Largest file the layout accepts (SPEC §1). */
export const MAX_FILE_SIZE = 1024 * 1024;
/** Most files the layout accepts (SPEC §1). */
export const MAX_FILES = 10_000;
/**
 * Most entries of any kind a walk records: links to directories inside the
 * repository can multiply the tree without adding files, and must not hang it.
 */
export const MAX_ENTRIES = 5 * MAX_FILES;
/**
 * Most bytes of payload content a walk reads: 10,000 files of 1 MiB compress
 * to almost nothing in git, but would exhaust a host's memory once read.
 */
export const MAX_TOTAL_SIZE = 256 * 1024 * 1024;
/** Deepest path (in segments) the layout accepts; deeper directories are not walked. */
export const MAX_DEPTH = 32;
/** Longest repo-relative path (UTF-8 bytes) the layout accepts, well under PATH_MAX. */
export const MAX_PATH_BYTES = 1024;

/** One entry of the tree, by repo-relative POSIX path. */
export type TreeEntry =
  | { type: "dir"; path: string }
  | {
    type: "file";
    path: string;
    size: number;
    /** `null` when the file is over {@link MAX_FILE_SIZE} or outside the payload roots. */
    content: Uint8Array | null;
    /** Whether "other" may read the file; config files that may not are deployed 0600. */
    worldReadable: boolean;
  }
  /**
   * A symbolic link to outside the repository, to nowhere (or round in a
   * loop), to a directory above itself, or into `.git`.
   */
  | {
    type: "badlink";
    path: string;
    target: string;
    problem: "outside" | "dangling" | "cycle" | "git";
  }
  /** A FIFO, socket or device node. */
  | { type: "special"; path: string }
  /**
   * An entry the reader would not read or walk: a name that is not valid
   * UTF-8 (its path shows U+FFFD), a directory deeper than {@link MAX_DEPTH},
   * a path longer than {@link MAX_PATH_BYTES}, or a gitlink (submodule).
   */
  | { type: "refused"; path: string; problem: "encoding" | "depth" | "length" | "gitlink" };

/** A regular file of the tree: the only entry the layout deploys or parses. */
export type FileEntry = Extract<TreeEntry, { type: "file" }>;

/** A source checkout as data. */
export interface RepoTree {
  /** Every entry below the root, except reserved top-level names (`.git`, `_drafts`, …). */
  entries: TreeEntry[];
  /** Set when the walk stopped at {@link MAX_FILES} files (or {@link MAX_ENTRIES} entries). */
  truncated: boolean;
  /** Why the walk stopped, when it was not the file or entry count: {@link MAX_TOTAL_SIZE}. */
  truncatedBy?: "size";
}

/** Whether a resolved repo-relative path lies in a `.git` directory. */
export function inGitDir(relative: string): boolean {
  return relative.split("/").includes(".git");
}

/**
 * Why the reader refuses to look at `path` (a name it cannot address, or a
 * path too deep or long), or `null`.
 */
export function unwalkable(path: string): "encoding" | "depth" | "length" | null {
  if (path.includes("\ufffd")) return "encoding";
  // A UTF-16 unit is at most 3 UTF-8 bytes: most paths need no encoding to tell.
  if (path.length * 3 > MAX_PATH_BYTES && new TextEncoder().encode(path).length > MAX_PATH_BYTES) {
    return "length";
  }
  return null;
}

/** Whether a name is reserved (SPEC §1: names starting with `_` or `.`). */
export function isReserved(name: string): boolean {
  return name.startsWith("_") || name.startsWith(".");
}

/** Code-point order: stable across locales, unlike `localeCompare`. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One walk of a repository against the caps above, whatever it walks (a
 * checkout on disk, a commit in the mirror): the entries recorded so far,
 * and whether a cap stopped the walk. Each walker asks before it records.
 */
export class TreeWalk {
  readonly entries: TreeEntry[] = [];
  #files = 0;
  #bytes = 0;
  #stopped: "count" | "size" | null = null;

  /** Whether a cap stopped the walk: nothing more is recorded after that. */
  get stopped(): boolean {
    return this.#stopped !== null;
  }

  /**
   * The path of `name` under `rel` if the walk records it: `null` when the
   * walk stopped ({@link MAX_ENTRIES} reached) or `name` is a reserved
   * top-level name. A path that cannot be walked is recorded as refused, and
   * `null` returned too.
   */
  enter(rel: string, name: string, depth: number): string | null {
    if (this.#stopped !== null) return null;
    if (depth === 0 && isReserved(name)) return null;
    if (this.entries.length >= MAX_ENTRIES) {
      this.#stopped = "count";
      return null;
    }
    const path = rel === "" ? name : `${rel}/${name}`;
    const problem = unwalkable(path);
    if (problem === null) return path;
    this.entries.push({ type: "refused", path, problem });
    return null;
  }

  /** Counts a file; `false` (and the walk stopped) past {@link MAX_FILES}. */
  file(): boolean {
    if (++this.#files > MAX_FILES) this.#stopped = "count";
    return this.#stopped === null;
  }

  /** Counts `size` bytes of content to read; `false` (and the walk stopped) past {@link MAX_TOTAL_SIZE}. */
  content(size: number): boolean {
    this.#bytes += size;
    if (this.#bytes > MAX_TOTAL_SIZE) this.#stopped = "size";
    return this.#stopped === null;
  }

  /** The walk as a tree. */
  tree(): RepoTree {
    const truncated = this.#stopped !== null;
    return this.#stopped === "size"
      ? { entries: this.entries, truncated, truncatedBy: "size" }
      : { entries: this.entries, truncated };
  }
}
