/**
 * Where this copy of core-ops was built from. A checkout holds `null` (not
 * stamped: `--version` asks git); `deno task package` and `deno task compile`
 * replace this file in the copy they build from (tools/package.ts,
 * `stampModule`), so a package or a binary knows its commit without git.
 *
 * @module
 */
import type { BuiltFrom } from "./version.ts";

/** The stamp: null in a checkout. */
export const STAMP: BuiltFrom | null = null;
