/**
 * Running the packaged agent in the guest with a pause point armed, for the
 * fault matrix. The release launcher (bin/core-ops) bakes the production
 * flags, under which `CORE_OPS_TEST_PAUSE_AT` cannot be read and every pause
 * point is inert; here the package's own runtime runs its bundle with the
 * launcher's arguments (tools/package.ts, `runtimeArgs`) but under
 * `faultPermissions()` — production plus that one variable.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { PausePoint } from "../../../src/host/faults.ts";
import { PAUSE_VARIABLE } from "../../../src/host/faults.ts";
import { faultPermissions } from "../../../tools/permissions.ts";
import { GUEST_PACKAGE_DIR } from "./guest.ts";
import { PACKAGE_ENV } from "./packaged.ts";
import { runtimeArgs } from "../../../tools/package.ts";
import type { ScenarioContext } from "./scenario.ts";

/** argv of the packaged core-ops under the fault permission set (no pause armed by itself). */
export function faultCoreOpsArgv(args: readonly string[]): string[] {
  return [
    `${GUEST_PACKAGE_DIR}/bin/deno`,
    ...runtimeArgs(GUEST_PACKAGE_DIR, faultPermissions()),
    ...args,
  ];
}

/** A background agent run that reached its pause point. */
export interface PausedRun {
  /** The guest pid of the paused core-ops (the runtime process). */
  pid: number;
  /** What it wrote to stderr so far. */
  stderr: string;
  /** SIGKILLs it (the main process only) and waits until it and its unit are gone. */
  kill(): Promise<void>;
}

const UNIT = "core-ops-fault.service";
const STDERR = "/run/core-ops-fault.stderr";
const STDOUT = "/run/core-ops-fault.stdout";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts `core-ops <args>` in the background (a transient unit, so it
 * outlives the exec that started it) with `point` armed, and waits until it
 * says `core-ops: paused at <point>` on stderr.
 */
export async function startPaused(
  t: ScenarioContext,
  point: PausePoint,
  args: readonly string[],
  timeoutMs = 90_000,
): Promise<PausedRun> {
  await t.exec(["rm", "-f", STDERR, STDOUT]);
  const env = { ...PACKAGE_ENV, [PAUSE_VARIABLE]: point };
  await t.ok([
    "systemd-run",
    `--unit=${UNIT}`,
    "--collect",
    "--quiet",
    `--property=StandardOutput=file:${STDOUT}`,
    `--property=StandardError=file:${STDERR}`,
    ...Object.entries(env).map(([k, v]) => `--setenv=${k}=${v}`),
    ...faultCoreOpsArgv(args),
  ]);
  const deadline = Date.now() + timeoutMs;
  let stderr = "";
  while (Date.now() < deadline) {
    stderr = (await t.exec(["cat", STDERR])).stdout;
    if (stderr.includes(`core-ops: paused at ${point}\n`)) break;
    const state = await t.unit(UNIT, ["ActiveState"]);
    if (state.ActiveState !== "active" && state.ActiveState !== "activating") {
      const stdout = (await t.exec(["cat", STDOUT])).stdout;
      assert.fail(
        `the armed run ended (${state.ActiveState}) before pausing at ${point}\n--- stdout\n${stdout}--- stderr\n${stderr}`,
      );
    }
    await sleep(200);
  }
  assert.match(stderr, new RegExp(`core-ops: paused at ${point}\n`), `never paused at ${point}`);
  const pid = Number((await t.unit(UNIT, ["MainPID"])).MainPID);
  assert.ok(pid > 0, `${UNIT} has no main pid`);
  return {
    pid,
    stderr,
    async kill() {
      // The guest has no kill(1): systemd sends SIGKILL to the unit's main process only.
      await t.ok(["systemctl", "kill", "--signal=SIGKILL", "--kill-whom=main", UNIT]);
      for (let i = 0; i < 100; i++) {
        const gone = (await t.exec(["test", "-d", `/proc/${pid}`])).code !== 0;
        const state = await t.unit(UNIT, ["ActiveState"]);
        if (gone && state.ActiveState !== "active" && state.ActiveState !== "deactivating") return;
        await sleep(100);
      }
      assert.fail(`core-ops (pid ${pid}) did not die after SIGKILL`);
    },
  };
}
