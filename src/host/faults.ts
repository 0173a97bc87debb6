/**
 * Deterministic fault points for the fault matrix (issue: reliability): a
 * test names one step in `CORE_OPS_TEST_PAUSE_AT`, the run announces on
 * stderr that it reached it and then waits forever, and the test SIGKILLs it
 * there; or it names `throw:<step>`, and the run throws an unexpected error
 * there, as a bug or a failing adapter would. The release permission set does
 * not grant reading that variable, so in the shipped artifact every point is
 * inert; only a launcher built from the test permission set can arm one.
 *
 * @module
 */

/** The variable that arms a pause point; not in the production permission set. */
export const PAUSE_VARIABLE = "CORE_OPS_TEST_PAUSE_AT";

/** The steps a run can be paused at, in run order. */
export const PAUSE_POINTS = [
  "after-lock",
  "after-fetch",
  "mid-write",
  "after-reload",
  "mid-start",
  "mid-verify",
  "before-commit",
  "manifest-write",
] as const;

/** One pause point. */
export type PausePoint = (typeof PAUSE_POINTS)[number];

function armed(): string | undefined {
  const permission = Deno.permissions.querySync({ name: "env", variable: PAUSE_VARIABLE });
  return permission.state === "granted" ? Deno.env.get(PAUSE_VARIABLE) : undefined;
}

/** Pauses forever at `point` (or throws there) when a test armed it; returns at once otherwise. */
export async function pausePoint(point: PausePoint): Promise<void> {
  const arm = armed();
  if (arm === `throw:${point}`) {
    Deno.stderr.writeSync(new TextEncoder().encode(`core-ops: fault at ${point}\n`));
    throw new Error(`injected fault at ${point}`);
  }
  if (arm !== point) return;
  Deno.stderr.writeSync(new TextEncoder().encode(`core-ops: paused at ${point}\n`));
  await new Promise<never>(() => {
    // Keeps the process alive until the test kills it.
    setInterval(() => {}, 60_000);
  });
}
