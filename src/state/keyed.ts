/**
 * The keyed digest of secrets (SPEC §6): change and drift detection of a
 * deployed secret compare HMAC-SHA256 digests under a random key kept in the
 * state dir (mode 0600), never a plain hash of the plaintext — an unsalted
 * sha256 of a short password in manifest.json, `--json` or an event would be
 * a dictionary attack away from the password itself.
 *
 * @module
 */
import { hmacSha256 } from "../digest.ts";
import type { Files } from "../host/files.ts";

export { newSecretKey, SECRET_KEY_BYTES, SECRET_KEY_FILE } from "./secret_key.ts";

/** HMAC-SHA256 of `content` under `key`, hex: the same shape as a sha256, never the same value. */
export function keyedDigest(key: Uint8Array, content: Uint8Array): string {
  return hmacSha256(key, content);
}

/**
 * The digest of each of `paths` as the planner compares it: the keyed digest
 * of the content for paths in `secret` (which need `key`), the sha256 for
 * every other path; `null` where nothing is.
 */
export async function observeDigests(
  files: Files,
  paths: readonly string[],
  secret: { paths: ReadonlySet<string>; key: Uint8Array },
): Promise<Map<string, string | null>> {
  const plain = paths.filter((p) => !secret.paths.has(p));
  const out = await files.digests(plain);
  for (const path of paths) {
    if (!secret.paths.has(path)) continue;
    const current = await files.read(path);
    out.set(path, current === null ? null : keyedDigest(secret.key, current.content));
  }
  return out;
}
