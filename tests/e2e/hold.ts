/**
 * Helper process for the harness self-test: boots one guest, prints
 * `READY <run dir> <nspawn pid>` and waits to be interrupted. The self-test
 * sends it SIGINT and then checks that nothing of the guest is left, which is
 * what Ctrl-C on `deno task e2e` must guarantee.
 *
 * Usage: hold.ts <pristine> <run-root> <log-dir> <guest-name>
 *
 * @module
 */
import { Guest, installInterruptTeardown } from "./lib/guest.ts";

if (import.meta.main) {
  const [pristine, runRoot, logDir, name] = Deno.args;
  installInterruptTeardown();
  const guest = await Guest.boot({ name, pristine, runRoot, logDir });
  console.log(`READY ${guest.runDir} ${guest.nspawnPid}`);
  // Keeps the event loop alive until the signal handler exits the process.
  setInterval(() => {}, 60_000);
}
