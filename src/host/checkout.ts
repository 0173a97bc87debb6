/**
 * Reads a source checkout from disk into a {@link RepoTree}: plain data that
 * the pure layout loader judges. This is the only part of loading that touches
 * the file system.
 *
 * @module
 */
import { join } from "../paths.ts";
import { CoreOpsError, Exit, noInput } from "../errors.ts";
import {
  compare,
  inGitDir,
  MAX_DEPTH,
  MAX_FILE_SIZE,
  PAYLOAD_ROOTS,
  type RepoTree,
  TreeWalk,
} from "../tree.ts";

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

  const walked = new TreeWalk();
  const entries = walked.entries;

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
      // A name Deno could not decode cannot be addressed again: recorded unread.
      const path = walked.enter(rel, entry.name, depth);
      if (path === null) {
        if (walked.stopped) return;
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
        if (!walked.file()) return;
        const worldReadable = ((info.mode ?? 0o644) & 0o004) !== 0;
        let content: Uint8Array | null = null;
        if (inPayload && info.size <= MAX_FILE_SIZE) {
          if (!walked.content(info.size)) return;
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
  return walked.tree();
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
