/**
 * The key of the secrets' keyed digests (keyed.ts): its file in the state
 * dir and how a new one is made. Apart from the digests themselves, so the
 * state store can read and make the key without evaluating the hash library.
 *
 * @module
 */

/** The key's file name in the state dir. */
export const SECRET_KEY_FILE = "secret-key";
/** Bytes of key: HMAC-SHA256's block-size-safe, full-strength key length. */
export const SECRET_KEY_BYTES = 32;

/** A fresh random key. */
export function newSecretKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_KEY_BYTES));
}
