/**
 * How a checkout runs the CLI: `main.ts` under a permission set from
 * `tools/permissions.ts`. `deno task core-ops` runs this file (production
 * flags, stdio and exit code forwarded); the demo and the test launcher build
 * their processes with {@link coreOpsArgs}, so all three run core-ops alike.
 *
 * @module
 */
import { type PermissionSet, PRODUCTION, toFlags } from "./permissions.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** `deno` arguments that run core-ops with `set` and `args`. */
export function coreOpsArgs(set: PermissionSet, args: readonly string[]): string[] {
  return ["run", "--quiet", ...toFlags(set), MAIN, ...args];
}

/** Runs core-ops with the production flags and inherited stdio; resolves to its exit code. */
export async function runCoreOps(args: readonly string[], env?: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: coreOpsArgs(PRODUCTION, args),
    env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  return status.signal ? 128 + signalNumber(status.signal) : status.code;
}

function signalNumber(signal: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}

if (import.meta.main) Deno.exit(await runCoreOps(Deno.args));
