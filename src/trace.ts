/**
 * Phase marks for the bench (BENCHMARKS.md, "Where a no-change run spends its
 * time"): with `CORE_OPS_TRACE=1` in the environment, each {@link mark} writes
 * `core-ops trace: <ms since the process started> <phase>` to stderr. Off by
 * default, and then a mark costs one comparison; nothing reads the marks but
 * the bench, and no setting of the table depends on them.
 *
 * @module
 */

/** The variable that turns the marks on (allowed in tools/permissions.ts). */
export const TRACE_VARIABLE = "CORE_OPS_TRACE";

// Queried first, as faults.ts does: a program run without the permission traces nothing.
const on = Deno.permissions.querySync({ name: "env", variable: TRACE_VARIABLE }).state ===
    "granted" && Deno.env.get(TRACE_VARIABLE) === "1";
const encoder = new TextEncoder();

/** Marks that `phase` has just ended (when tracing is on). */
export function mark(phase: string): void {
  if (!on) return;
  Deno.stderr.writeSync(
    encoder.encode(`core-ops trace: ${performance.now().toFixed(1)} ${phase}\n`),
  );
}
