/**
 * Where this copy of core-ops was built from. A checkout holds `null` (not
 * stamped: `--version` asks git); `deno task package` and `deno task compile`
 * replace this file in the copy they build from (tools/package.ts,
 * `stampModule`), so a package or a binary knows its commit without git.
 *
 * @module
 */

/**
 * The stamp: null in a checkout. Spelled out rather than imported, so the
 * stamp depends on nothing (version.ts reads it as a `BuiltFrom`).
 */
export const STAMP: { commit: string | null; dirty: boolean } | null = null;
