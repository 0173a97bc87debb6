/**
 * The `--version` line of the running code: its build stamp, or else — run
 * from a checkout — what git says of that checkout.
 *
 * @module
 */
import { BUILT_FROM, formatVersion } from "../version.ts";

/** `0.1.0 (commit <sha>[, dirty])`, or `(commit unknown)`. */
export async function versionText(): Promise<string> {
  if (BUILT_FROM !== null) return formatVersion(BUILT_FROM);
  const checkout = new URL("../..", import.meta.url);
  if (checkout.protocol !== "file:") return formatVersion({ commit: null, dirty: false });
  // Imported here: only --version ever runs git for this.
  const { builtFrom } = await import("../host/git.ts");
  return formatVersion(await builtFrom(checkout.pathname));
}
