/**
 * age identities and age files for tests, made with the same npm package
 * core-ops decrypts with (the `age` CLI is not needed to write a test).
 *
 * @module
 */
import { armor, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";

/** A new X25519 identity and its recipient. */
export async function newIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** `plaintext` encrypted to `recipients`, as a binary age file. */
export async function encrypt(plaintext: string, ...recipients: string[]): Promise<Uint8Array> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return await e.encrypt(plaintext);
}

/** `plaintext` encrypted to `recipients`, ASCII-armored (`age -a`). */
export async function encryptArmored(plaintext: string, ...recipients: string[]): Promise<string> {
  return armor.encode(await encrypt(plaintext, ...recipients));
}
