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
  /** A symbolic link to outside the repository, to nowhere, or to a directory above itself. */
  | { type: "badlink"; path: string; target: string; problem: "outside" | "dangling" | "cycle" }
  /** A FIFO, socket or device node. */
  | { type: "special"; path: string };

/** A source checkout as data. */
export interface RepoTree {
  /** Every entry below the root, except reserved top-level names (`.git`, `_drafts`, …). */
  entries: TreeEntry[];
  /** Set when the walk stopped at {@link MAX_FILES} files. */
  truncated: boolean;
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
  let truncated = false;

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
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
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
            entries.push({ type: "badlink", path, target, problem: "dangling" });
            continue;
          }
          if (real !== rootReal && !real.startsWith(rootReal + "/")) {
            entries.push({ type: "badlink", path, target, problem: "outside" });
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
  return { entries, truncated };
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
