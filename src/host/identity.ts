/**
 * The host's age identity file (setting `age-identity`, SPEC §6): read only
 * when the revision has secrets, and only when it is safe — a regular file
 * owned by root that neither group nor others may read or write. Anything
 * else is this host's fault (never the revision's) and names the setting,
 * the file and the fix. The content (private keys) never reaches a message.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";

/** The identity file: its text, or that there is none. */
export type IdentityFile = { status: "missing" } | { status: "ok"; text: string };

/** Reads and checks an identity file; the real one is {@link readIdentityFile}. */
export type IdentityReader = (path: string) => Promise<IdentityFile>;

/** A problem with the identity file, told the same way wherever it is found. */
export function identityProblem(path: string, problem: string, hint: string): CoreOpsError {
  return new CoreOpsError(Exit.failed, "apply", [{
    message: `age identity ${path} (setting age-identity) ${problem}`,
    location: { file: path },
    hint,
  }], { blame: "host" });
}

const FIX_MODE = "chown root:root it and chmod 0400 (or 0600)";

/** The real identity file. */
export const readIdentityFile: IdentityReader = async (path) => {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { status: "missing" };
    if (error instanceof Deno.errors.PermissionDenied) {
      throw identityProblem(path, "cannot be read: permission denied", `run as root; ${FIX_MODE}`);
    }
    throw error;
  }
  if (!info.isFile) {
    throw identityProblem(path, "is not a regular file", "put the identity file there");
  }
  if (info.uid !== 0) {
    throw identityProblem(path, `is owned by uid ${info.uid}, not root`, FIX_MODE);
  }
  const mode = (info.mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    const what = (mode & 0o044) !== 0 ? "readable by group or others" : "open to group or others";
    throw identityProblem(path, `is ${what} (mode ${mode.toString(8).padStart(4, "0")})`, FIX_MODE);
  }
  try {
    return { status: "ok", text: await Deno.readTextFile(path) };
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) {
      throw identityProblem(path, "cannot be read: permission denied", `run as root; ${FIX_MODE}`);
    }
    throw error;
  }
};
