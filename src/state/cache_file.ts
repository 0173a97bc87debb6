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
import type { TargetDirs } from "../model.ts";

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

/**
 * sha256 of `value` as JSON, hex, in one native call (WebCrypto: no hash
 * library evaluated on a tick). What `JSON.parse` gives back stringifies the
 * same, so a cache's body read back has the digest it was written with.
 */
export async function jsonDigest(value: unknown): Promise<string> {
  const text = new TextEncoder().encode(JSON.stringify(value));
  return new Uint8Array(await crypto.subtle.digest("SHA-256", text)).toHex();
}

/** Replaces the cache at `path` with `value`, as JSON, mode 0600. */
export async function writeCacheFile(files: Files, path: string, value: unknown): Promise<void> {
  await files.write(path, new TextEncoder().encode(JSON.stringify(value) + "\n"), 0o600);
}

/** Everything besides the commit's tree that the loaded state depends on. */
export interface DesiredCacheKey {
  /** Full commit id: a checkout's provenance is not a key (its files can change under it). */
  commit: string;
  host: string | null;
  dirs: TargetDirs;
  configRoots: readonly string[] | null;
  /** The running build ({@link buildIdentity}); another build's cache is never trusted. */
  build: string;
}

/** `key` as one string: what the desired cache (run/desired_cache.ts) is kept under. */
export function desiredKeyText(key: DesiredCacheKey): string {
  return JSON.stringify([
    "desired/2",
    key.build,
    key.commit,
    key.host,
    // Every target dir, also any added to TargetDirs later.
    Object.entries(key.dirs).sort(([a], [b]) => a < b ? -1 : 1),
    key.configRoots,
  ]);
}
