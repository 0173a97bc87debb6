/**
 * The digests core-ops takes: sha256 of file contents and HMAC-SHA256 of
 * secrets (state/keyed.ts), both from `@noble/hashes` — not `node:crypto`,
 * whose Node layer costs ~20 ms of every start (BENCHMARKS.md). Evaluating
 * it still costs ~3 ms (its SHA-512 tables), so only code that hashes imports
 * it, and a tick that hashes nothing never does (bench/, issue 15).
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac";
import { sha256 as sha256Of } from "@noble/hashes/sha2";

/** sha256 of `bytes`, hex. */
export function sha256(bytes: Uint8Array): string {
  return sha256Of(bytes).toHex();
}

/** HMAC-SHA256 of `content` under `key`, hex. */
export function hmacSha256(key: Uint8Array, content: Uint8Array): string {
  return hmac(sha256Of, key, content).toHex();
}
