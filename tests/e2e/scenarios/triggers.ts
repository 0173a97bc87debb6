/**
 * Issue 19's triggers on the real host (SPEC §8): the shipped
 * core-ops-trigger.path starts the shipped core-ops.service when
 * `core-ops trigger` sets /run/core-ops/trigger, so a push converges the host
 * in one run with no timer tick (the timer is held far away); a burst of
 * triggers during a run gives exactly one more run.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { JournalEntry, Scenario, ScenarioContext } from "../lib/scenario.ts";
import { publish, runEvents, setUpAgent } from "./agent.ts";
import { webService } from "./fixtures.ts";
import { waitFor } from "./service.ts";

const UNITS_DIR = new URL("../../../systemd/", import.meta.url).pathname;
export const TRIGGER = "/run/core-ops/trigger";

/** The agent set up as in agent.ts plus the shipped core-ops-trigger.path, started. */
export async function setUpTriggeredAgent(
  t: ScenarioContext,
  files: Parameters<typeof publish>[1],
  settings: Record<string, string | number | boolean> = {},
): Promise<string> {
  const sha = await setUpAgent(t, files, undefined, settings);
  await t.writeFile(
    "/etc/systemd/system/core-ops-trigger.path",
    await Deno.readTextFile(`${UNITS_DIR}core-ops-trigger.path`),
  );
  await t.ok(["systemctl", "daemon-reload"]);
  await t.ok(["systemctl", "start", "core-ops-trigger.path"]);
  await t.assertUnit("core-ops-trigger.path", { ActiveState: "active", SubState: "waiting" });
  return sha;
}

/** Waits until the run events number `count` and core-ops.service is idle again. */
export async function eventsAfter(t: ScenarioContext, count: number): Promise<JournalEntry[]> {
  return await waitFor(120_000, `${count} run event(s)`, async () => {
    const events = await runEvents(t);
    if (events.length < count) return undefined;
    const state = (await t.unit("core-ops.service", ["ActiveState"])).ActiveState;
    return state === "activating" ? undefined : events;
  });
}

/** Asserts nothing more runs for a while: no new event, the trigger gone, the path waiting. */
export async function assertQuiet(t: ScenarioContext, count: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 5_000));
  const events = await runEvents(t);
  assert.equal(events.length, count, JSON.stringify(events.map((e) => e.MESSAGE)));
  assert.equal(await t.exists(TRIGGER), false, "the trigger is still set");
  await t.assertUnit("core-ops-trigger.path", { ActiveState: "active", SubState: "waiting" });
  await t.assertUnit("core-ops.service", { ActiveState: "inactive" });
}

/** The trigger scenarios. */
export const triggerScenarios: Scenario[] = [
  {
    name:
      "trigger: `core-ops trigger` after a push converges in one run; a burst during a run gives exactly one more",
    async run(t) {
      await setUpTriggeredAgent(t, webService(), { "verify-settle": 3 });
      // No timer tick and no trigger yet: nothing ran.
      assert.equal((await runEvents(t)).length, 0);

      const first = (await t.ok(["git", "-C", "/srv/git/core-ops.git", "rev-parse", "main"]))
        .stdout.trim();
      await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      let events = await eventsAfter(t, 1);
      assert.equal(events[0].CORE_OPS_STATUS, "success", JSON.stringify(events[0]));
      assert.equal(events[0].CORE_OPS_REVISION, first);
      await assertQuiet(t, 1);
      await t.assertUnit("web.service", { ActiveState: "active" });

      // A push, then one trigger: the host converges to it in exactly one run.
      const second = await publish(t, webService("Environment=E2E_REVISION=2\n"));
      await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      events = await eventsAfter(t, 2);
      assert.equal(events[1].CORE_OPS_STATUS, "success", JSON.stringify(events[1]));
      assert.equal(events[1].CORE_OPS_REVISION, second);
      await assertQuiet(t, 2);
      const env = await t.podman(["inspect", "--format", "{{.Config.Env}}", "systemd-web"]);
      assert.match(env.stdout, /E2E_REVISION=2/);

      // A push and a trigger start a run (it restarts web and settles 3 s); five
      // more triggers while it runs, after it cleared the first: one more run.
      const third = await publish(t, webService("Environment=E2E_REVISION=3\n"));
      await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      await waitFor(30_000, "the run to take the trigger", async () => {
        const state = (await t.unit("core-ops.service", ["ActiveState"])).ActiveState;
        return state === "activating" && !(await t.exists(TRIGGER)) ? true : undefined;
      });
      for (let i = 0; i < 5; i++) await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      const running = (await t.unit("core-ops.service", ["ActiveState"])).ActiveState;
      assert.equal(
        running,
        "activating",
        "the run ended before the burst: the test proves nothing",
      );
      events = await eventsAfter(t, 4);
      assert.equal(events[2].CORE_OPS_STATUS, "success", JSON.stringify(events[2]));
      assert.equal(events[2].CORE_OPS_REVISION, third);
      assert.equal(events[3].CORE_OPS_STATUS, "noop", JSON.stringify(events[3]));
      assert.equal(events[3].CORE_OPS_REVISION, third);
      await assertQuiet(t, 4);
    },
  },
];
