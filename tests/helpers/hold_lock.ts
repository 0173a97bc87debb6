/**
 * A second process for the run-lock tests: `hold_lock.ts PATH` takes the run
 * lock, prints "locked" and waits on stdin; on refusal it prints the error
 * and exits with its exit code.
 *
 * @module
 */
import { CoreOpsError } from "../../src/errors.ts";
import { acquireRunLock } from "../../src/host/lock.ts";

try {
  const lock = await acquireRunLock(Deno.args[0]);
  console.log("locked");
  // Hold until stdin closes (or the test kills this process).
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  await lock.release();
} catch (error) {
  if (!(error instanceof CoreOpsError)) throw error;
  console.log(error.message);
  Deno.exit(error.exitCode);
}
