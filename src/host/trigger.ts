/**
 * The run trigger (SPEC §8): a file beside the run lock whose existence asks
 * for one agent run. `core-ops-trigger.path` (`PathExists=`) starts
 * core-ops.service while it exists; the agent removes it right after taking
 * the lock, before it fetches. A trigger set during a run therefore survives
 * that run, and systemd, which checks the path again when the service goes
 * inactive, starts exactly one more run for any number of them.
 *
 * The file carries no content: its existence is the whole message, so a
 * reader can never see half of it.
 *
 * @module
 */
import { dirname, join } from "../paths.ts";

/** The trigger file for a run lock at `lockPath`: `/run/core-ops/trigger` by default. */
export function triggerPath(lockPath: string): string {
  return join(dirname(lockPath), "trigger");
}

/** Sets the trigger at `path` (idempotent); its dir is created 0700 when missing. */
export async function setTrigger(path: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // No truncate, no temp file: an existing trigger stays as it is.
  const file = await Deno.open(path, { write: true, create: true, mode: 0o600 });
  file.close();
}

/** Removes the trigger at `path`; a missing one is nothing to do. */
export function clearTrigger(path: string): Promise<void> {
  // Synchronous: every tick clears it, and an async remove waits for the thread pool.
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return Promise.reject(error);
  }
  return Promise.resolve();
}
