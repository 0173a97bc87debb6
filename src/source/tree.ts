/**
 * Reads a source checkout from disk into a {@link RepoTree}: plain data that
 * the pure layout loader judges. This is the only part of loading that touches
 * the file system.
 *
 * @module
 */
import { join } from "node:path";
import { CoreOpsError, Exit, noInput } from "../errors.ts";

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

/** Top-level directories whose contents core-ops reads. */
const PAYLOAD_ROOTS = new Set(["services", "hosts"]);

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

/**
 * Walks `root`. Symbolic links are followed when they resolve inside the
 * repository and recorded as `badlink` otherwise, so the loader can reject
 * them. Throws exit 66 when the root is missing or anything is unreadable.
 */
export async function readRepoTree(root: string): Promise<RepoTree> {
  let rootReal: string;
  try {
    rootReal = await Deno.realPath(root);
    const info = await Deno.stat(rootReal);
    if (!info.isDirectory) throw noInput("source path is not a directory", root);
  } catch (error) {
    throw sourceError(error, root, root);
  }

  const entries: TreeEntry[] = [];
  let files = 0;
  let bytes = 0;
  let truncated = false;
  let truncatedBy: "size" | undefined;

  // Synchronous calls: a CLI run has nothing else to do meanwhile, and each
  // async file op pays a thread-pool round trip (bench/plan_bench.ts).
  function walk(dirReal: string, rel: string, depth: number, stack: Set<string>) {
    let names: Deno.DirEntry[];
    try {
      names = [...Deno.readDirSync(dirReal)];
    } catch (error) {
      throw sourceError(error, join(root, rel), rel || ".");
    }
    names.sort((a, b) => compare(a.name, b.name));
    for (const entry of names) {
      if (truncated) return;
      if (depth === 0 && isReserved(entry.name)) continue;
      if (entries.length >= MAX_ENTRIES) {
        truncated = true;
        return;
      }
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      // A name Deno could not decode cannot be addressed again: record it unread.
      const problem = unwalkable(path);
      if (problem !== null) {
        entries.push({ type: "refused", path, problem });
        continue;
      }
      const full = join(dirReal, entry.name);
      const inPayload = depth > 0 || PAYLOAD_ROOTS.has(entry.name);
      let real = full;
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(full);
        if (info.isSymlink) {
          const target = Deno.readLinkSync(full);
          try {
            real = Deno.realPathSync(full);
          } catch {
            // Missing target, or a loop of links (ELOOP).
            entries.push({ type: "badlink", path, target, problem: "dangling" });
            continue;
          }
          if (real !== rootReal && !real.startsWith(rootReal + "/")) {
            entries.push({ type: "badlink", path, target, problem: "outside" });
            continue;
          }
          if (inGitDir(real.slice(rootReal.length + 1))) {
            entries.push({ type: "badlink", path, target, problem: "git" });
            continue;
          }
          info = Deno.statSync(real);
        }
      } catch (error) {
        throw sourceError(error, full, path);
      }
      if (info.isDirectory) {
        // A link back up the tree would walk forever.
        if (stack.has(real)) {
          entries.push({
            type: "badlink",
            path,
            target: Deno.readLinkSync(full),
            problem: "cycle",
          });
          continue;
        }
        if (depth + 1 >= MAX_DEPTH) {
          entries.push({ type: "refused", path, problem: "depth" });
          continue;
        }
        entries.push({ type: "dir", path });
        if (inPayload) walk(real, path, depth + 1, new Set([...stack, real]));
      } else if (info.isFile) {
        if (++files > MAX_FILES) {
          truncated = true;
          return;
        }
        const worldReadable = ((info.mode ?? 0o644) & 0o004) !== 0;
        let content: Uint8Array | null = null;
        if (inPayload && info.size <= MAX_FILE_SIZE) {
          bytes += info.size;
          if (bytes > MAX_TOTAL_SIZE) {
            truncated = true;
            truncatedBy = "size";
            return;
          }
          try {
            content = Deno.readFileSync(real);
          } catch (error) {
            throw sourceError(error, full, path);
          }
        }
        entries.push({ type: "file", path, size: info.size, content, worldReadable });
      } else {
        entries.push({ type: "special", path });
      }
    }
  }

  walk(rootReal, "", 0, new Set([rootReal]));
  return truncatedBy ? { entries, truncated, truncatedBy } : { entries, truncated };
}

/** Code-point order: stable across locales, unlike `localeCompare`. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Maps a failure to read the source to its exit code: missing and unreadable
 * are both 66, with different messages (permission denied is not "missing").
 */
export function sourceError(error: unknown, full: string, shown: string): CoreOpsError {
  if (error instanceof CoreOpsError) return error;
  if (error instanceof Deno.errors.NotFound) {
    return noInput("source path does not exist", shown, `looked for ${full}`);
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return noInput("permission denied reading the source", shown, `check the mode of ${full}`);
  }
  if (error instanceof Deno.errors.NotCapable) throw error;
  const message = error instanceof Error ? error.message : String(error);
  return new CoreOpsError(Exit.noInput, "source", [{
    message: `cannot read the source: ${message}`,
    location: { file: shown },
  }]);
}
