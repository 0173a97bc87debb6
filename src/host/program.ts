/**
 * Which core-ops build is running, for caches whose content depends on the
 * code that computed it (the loaded desired state): a cache written by one
 * build is never trusted by another.
 *
 * @module
 */
import { VERSION } from "../version.ts";

/**
 * The running build: the release version plus the identity (inode, size,
 * mtime) of the executable and of the main module. A `deno compile`d binary
 * is its executable; the offline package is its Deno binary and its `app/`
 * tree, which every install writes anew, so its main module changes with it.
 * A file that cannot be stat'ed (e.g. the main module inside a compiled
 * binary) contributes its name only.
 */
export function buildIdentity(): Promise<string> {
  const parts = [VERSION];
  const main = Deno.mainModule.startsWith("file:") ? new URL(Deno.mainModule).pathname : null;
  for (const path of [Deno.execPath(), main]) {
    if (path === null) continue;
    try {
      // Synchronous: every agent tick asks (the first async file op waits for a thread pool).
      const s = Deno.statSync(path);
      parts.push(`${path}:${s.ino}:${s.size}:${s.mtime?.getTime()}`);
    } catch (error) {
      // Absent from the real file system (a compiled binary's own modules): the name stands.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      parts.push(path);
    }
  }
  return Promise.resolve(parts.join("\n"));
}
