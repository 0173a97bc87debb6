/**
 * age files (SPEC §6): the format check the layout does on every secret
 * (off-host too, without any identity), the identity file's syntax, and the
 * decryption itself — in memory, with the age authors' `age-encryption`
 * package, loaded only when there is something to decrypt. Pure: reading the identity file and the state dir's key is the
 * host's (src/host/identity.ts, src/run/decrypt.ts).
 *
 * @module
 */

const VERSION_LINE = "age-encryption.org/v1";
const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
const ARMOR_END = "-----END AGE ENCRYPTED FILE-----";
const ARMOR_LINE = /^[A-Za-z0-9+/=]+$/;
/** A header's stanza body lines are base64 without padding, 64 columns, the last one shorter. */
const BODY_LINE = /^[A-Za-z0-9+/]{0,64}$/;
const ARG = /^[\x21-\x7e]+$/;
const MAC_LINE = /^--- [A-Za-z0-9+/]{43}$/;
/** The payload holds at least its 16-byte nonce and one 16-byte tag (an empty last chunk). */
const MIN_PAYLOAD = 32;

/** Whether `bytes` start like an armored age file (PEM-like text). */
function isArmored(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith(ARMOR_BEGIN);
}

/**
 * The binary age file of `bytes`: armored files are decoded strictly (trailing
 * garbage, bad line lengths or base64 are errors), binary ones returned as
 * they are. Throws an Error saying what is wrong.
 */
export function dearmor(bytes: Uint8Array): Uint8Array {
  if (!isArmored(bytes)) return bytes;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error("armored age file that is not text");
  }
  // age's armor is a strict PEM: whitespace around it, CRLF or LF, and nothing else.
  const lines = text.trim().replaceAll("\r\n", "\n").split("\n");
  if (lines.shift() !== ARMOR_BEGIN) throw new Error("malformed ASCII armor (invalid header)");
  if (lines.pop() !== ARMOR_END) {
    throw new Error("malformed ASCII armor (invalid footer, or text after it)");
  }
  const lengthOk = (line: string, i: number) =>
    i === lines.length - 1
      ? line.length > 0 && line.length <= 64 && line.length % 4 === 0
      : line.length === 64;
  if (lines.length === 0 || !lines.every(lengthOk)) {
    throw new Error("malformed ASCII armor (invalid line length)");
  }
  if (!lines.every((l) => ARMOR_LINE.test(l))) {
    throw new Error("malformed ASCII armor (invalid base64)");
  }
  try {
    return Uint8Array.fromBase64(lines.join(""));
  } catch {
    throw new Error("malformed ASCII armor (invalid base64)");
  }
}

/**
 * What is wrong with `bytes` as an age file (`age-encryption.org/v1`, binary
 * or armored), or `null` when its header is well-formed and a payload
 * follows. This is all that can be known without an identity; the payload's
 * integrity is checked when it is decrypted.
 */
export function ageFileProblem(bytes: Uint8Array): string | null {
  let file: Uint8Array;
  try {
    file = dearmor(bytes);
  } catch (error) {
    return (error as Error).message;
  }
  // The header is ASCII lines up to the MAC line; read it without decoding the binary payload.
  const lines: string[] = [];
  let start = 0;
  let payload = -1;
  while (start < file.length && lines.length < 4096) {
    const end = file.indexOf(0x0a, start);
    if (end < 0) break;
    const line = String.fromCharCode(...file.subarray(start, Math.min(end, start + 256)));
    if (end - start > 256) return "not an age file: header line too long";
    lines.push(line);
    start = end + 1;
    if (line.startsWith("---")) {
      payload = start;
      break;
    }
  }
  if (lines[0] !== VERSION_LINE) {
    return `not an age file: it does not start with "${VERSION_LINE}"`;
  }
  if (payload < 0) return "truncated age file: its header never ends (no MAC line)";
  if (!MAC_LINE.test(lines.at(-1)!)) return "corrupt age file: malformed header MAC line";
  let stanzas = 0;
  let inBody = false;
  for (const line of lines.slice(1, -1)) {
    if (line.startsWith("-> ")) {
      if (inBody) return "corrupt age file: a stanza body does not end with a short line";
      const args = line.slice(3).split(" ");
      if (args.some((a) => !ARG.test(a))) return "corrupt age file: malformed stanza line";
      stanzas++;
      inBody = true;
      continue;
    }
    if (!inBody || !BODY_LINE.test(line)) return "corrupt age file: malformed header";
    if (line.length < 64) inBody = false;
  }
  if (inBody) return "corrupt age file: a stanza body does not end with a short line";
  if (stanzas === 0) return "corrupt age file: no recipient stanza";
  if (file.length - payload < MIN_PAYLOAD) return "truncated age file: the payload is missing";
  return null;
}

/** The outcome of decrypting one secret. */
export type Decrypted =
  | { ok: true; plaintext: Uint8Array }
  | { ok: false; problem: "recipients" | "corrupt"; detail: string };

/**
 * Decrypts an age file (binary or armored) with `identities`
 * (`AGE-SECRET-KEY-1…` strings), in memory.
 */
export async function decryptAge(
  bytes: Uint8Array,
  identities: readonly string[],
): Promise<Decrypted> {
  const problem = ageFileProblem(bytes);
  if (problem !== null) return { ok: false, problem: "corrupt", detail: problem };
  // The package (and its curves and ciphers) is loaded only by a run that has secrets.
  const { Decrypter } = await import("age-encryption");
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    return { ok: true, plaintext: await decrypter.decrypt(dearmor(bytes), "uint8array") };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    // The package's words for "no stanza is for any of these identities".
    if (/no identity matched/.test(detail)) return { ok: false, problem: "recipients", detail };
    return { ok: false, problem: "corrupt", detail };
  }
}

/**
 * The identities of an identity file's text (age's format: one
 * `AGE-SECRET-KEY-1…` per line, `#` comments and blank lines ignored), or
 * the 1-based line that is not one — never its content, which is a key.
 */
export function parseIdentities(
  text: string,
): { ok: true; identities: string[] } | { ok: false; line: number } {
  const identities: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    if (!/^AGE-SECRET-KEY-1[02-9ACDEFGHJKLMNPQRSTUVWXYZ]{58}$/.test(line)) {
      return { ok: false, line: i + 1 };
    }
    identities.push(line);
  }
  return { ok: true, identities };
}
