/**
 * The state dir's cache files (the generator's verdict, the loaded desired
 * state): JSON that only ever saves work and never decides anything on its
 * own. A cache that is absent or not JSON reads as none — a damaged cache is
 * only a missed saving — and is replaced by the next write, which is atomic
 * and private to root.
 *
 * @module
 */
import type { Files } from "../host/files.ts";

/** The parsed JSON at `path`; `undefined` when there is none or it is not JSON. */
export async function readCacheFile(files: Files, path: string): Promise<unknown> {
  const file = await files.read(path);
  if (file === null) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(file.content));
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Replaces the cache at `path` with `value`, as JSON, mode 0600. */
export async function writeCacheFile(files: Files, path: string, value: unknown): Promise<void> {
  await files.write(path, new TextEncoder().encode(JSON.stringify(value) + "\n"), 0o600);
}
