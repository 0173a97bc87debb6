/**
 * Hostile entries (SPEC §1): links that leave the repository or loop, special
 * files, nested repositories, names no terminal should print, oversized files
 * and paths. Every entry is judged on its own, wherever it lies (any host's
 * overlay included), before the layout is read, so no later message prints a
 * hostile name and no later step reads a hostile file.
 *
 * @module
 */
import { segmentProblem, showPath } from "./names.ts";
import type { Problems } from "./problems.ts";
import {
  isReserved,
  MAX_DEPTH,
  MAX_FILE_SIZE,
  MAX_PATH_BYTES,
  type RepoTree,
  type TreeEntry,
} from "../tree.ts";

/** Whether `path` lies under `services/` or `hosts/`, whose file contents the readers read. */
function inPayloadRoot(path: string): boolean {
  const top = path.split("/", 1)[0];
  return top === "services" || top === "hosts";
}

/** Records an error for every hostile entry of `tree`: bad names first, then each entry's kind. */
export function checkEntries(tree: RepoTree, problems: Problems): void {
  const seen = new Set<string>();
  const reported = new Set<string>();
  for (const entry of tree.entries) {
    const segments = entry.path.split("/");
    let bad = false;
    for (let i = 0; i < segments.length && !bad; i++) {
      const problem = segmentProblem(segments[i]);
      if (problem === null) continue;
      bad = true;
      // One message per bad directory, not one per entry below it.
      const prefix = segments.slice(0, i + 1).join("/");
      if (reported.has(prefix)) break;
      reported.add(prefix);
      problems.error(
        prefix,
        problem,
        "rename it: repository paths are printable UTF-8 without '.', '..' or empty segments",
      );
    }
    if (bad) continue;
    // The reader skips reserved top-level names; a tree from elsewhere may not have.
    if (isReserved(segments[0])) continue;
    if (seen.has(entry.path)) {
      problems.error(entry.path, "the path appears twice in the tree");
      continue;
    }
    seen.add(entry.path);
    if (segments.length > 1 && segments.includes(".git")) {
      problems.error(
        entry.path,
        "a nested git repository or submodule",
        "core-ops reads one repository: vendor the files instead",
      );
      continue;
    }
    checkEntry(entry, problems);
  }
}

/** Judges one entry by its kind: links, special files, refused names, sizes and depth. */
function checkEntry(entry: TreeEntry, problems: Problems): void {
  switch (entry.type) {
    case "badlink":
      problems.error(
        entry.path,
        {
          dangling: `symbolic link to "${showPath(entry.target)}" does not resolve`,
          outside: `symbolic link to "${showPath(entry.target)}" points outside the repository`,
          cycle: `symbolic link to "${
            showPath(entry.target)
          }" points to a directory that contains it`,
          git: `symbolic link to "${showPath(entry.target)}" points into .git`,
        }[entry.problem],
        "symbolic links may only point inside the repository, and not into .git",
      );
      return;
    case "special":
      problems.error(
        entry.path,
        "not a regular file or directory (a FIFO, socket or device)",
        "a repository holds files, directories and links inside itself only",
      );
      return;
    case "refused":
      problems.error(
        entry.path,
        {
          encoding: "name is not valid UTF-8",
          depth: `directories nested deeper than ${MAX_DEPTH} levels`,
          length: `path longer than ${MAX_PATH_BYTES} bytes`,
          gitlink: "a gitlink (submodule)",
        }[entry.problem],
        {
          encoding: "rename it with a UTF-8 name",
          depth: "flatten the directory tree",
          length: "shorten the path",
          gitlink: "core-ops reads one repository: vendor the submodule's files instead",
        }[entry.problem],
      );
      return;
    case "file":
      if (inPayloadRoot(entry.path) && entry.size > MAX_FILE_SIZE) {
        problems.error(entry.path, `file is larger than 1 MiB (${entry.size} bytes)`);
      }
      return;
    case "dir":
      if (entry.path.split("/").length >= MAX_DEPTH) {
        problems.error(entry.path, `directories nested deeper than ${MAX_DEPTH} levels`);
      }
      return;
  }
}

/**
 * Whether `entry` is one {@link checkEntries} refused: the layout readers
 * skip it, so it is reported once, by its hostile kind, and never read.
 */
export function rejectBadEntry(entry: TreeEntry): boolean {
  if (entry.type === "badlink" || entry.type === "special" || entry.type === "refused") {
    return true;
  }
  return entry.type === "file" && entry.size > MAX_FILE_SIZE;
}
