/**
 * Runs `main.ts` under the production permission flags, forwarding stdio and
 * the exit code. This is what `deno task core-ops` runs, so a checkout behaves
 * like the release binary.
 *
 * @module
 */
import { PRODUCTION, toFlags } from "./permissions.ts";

const main = new URL("../main.ts", import.meta.url).pathname;
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--quiet", ...toFlags(PRODUCTION), main, ...Deno.args],
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const status = await child.status;
Deno.exit(status.signal ? 128 + signalNumber(status.signal) : status.code);

function signalNumber(signal: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}
