/**
 * Reads what is at destination paths on the host, as sha256 digests.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { CoreOpsError, Exit } from "../errors.ts";

/**
 * The sha256 of each file in `paths`, or `null` where nothing is (a missing
 * target dir is simply empty). A path that exists but cannot be read is an
 * error: planning around a file we cannot see would be a guess.
 */
export async function observeFiles(paths: readonly string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  await Promise.all(paths.map(async (path) => {
    out.set(path, await digest(path));
  }));
  return out;
}

async function digest(path: string): Promise<string | null> {
  try {
    const bytes = await Deno.readFile(path);
    return createHash("sha256").update(bytes).digest("hex");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new CoreOpsError(Exit.dataErr, "plan", [{
        message: "a directory stands where core-ops deploys a file",
        location: { file: path },
        hint: "move it away",
      }]);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new CoreOpsError(Exit.noInput, "plan", [{
        message: "permission denied reading a target file",
        location: { file: path },
        hint: "run as root, or plan into other --quadlet-dir/--systemd-unit-dir/--config-dir",
      }]);
    }
    throw error;
  }
}
