/**
 * The agent's check step on the real host (issue 15): a tick at the revision
 * the last no-op saw, on a host that did not move, is answered by the
 * converged record (src/run/converged.ts) — and everything that can move
 * under it is still seen and converged: an in-place edit that keeps the
 * size, a stopped unit, a hand-placed quadlet, a new commit.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { exampleOnTestHost } from "./fixtures.ts";
import { field, FILE_URL, oneEvent, publish, runService, setUpAgent, STATE_DIR } from "./agent.ts";

const RECORD = `${STATE_DIR}/converged.json`;
const MATCHED = /core-ops trace: [0-9.]+ check: converged record matched/;
const NOT_MATCHED = /core-ops trace: [0-9.]+ check: converged record not matched/;

/** One agent tick run by hand with the phase marks on; its stdout and stderr. */
async function tracedTick(t: ScenarioContext): Promise<{ stdout: string; stderr: string }> {
  const r = await t.coreOps(["agent"], { env: { CORE_OPS_TRACE: "1" }, timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return r;
}

async function status(t: ScenarioContext) {
  const event = oneEvent(await runService(t));
  return { status: field(event, "CORE_OPS_STATUS"), event };
}

/** A config file the example deploys: where it is, and its file in the repository. */
async function ownedConfig(t: ScenarioContext): Promise<{ path: string; source: string }> {
  const manifest = JSON.parse(
    await Deno.readTextFile(`${t.guest.root}${STATE_DIR}/manifest.json`),
  ) as { files: { path: string; kind: string; source?: string }[] };
  const config = manifest.files.find((f) => f.kind === "config" && f.source !== undefined);
  assert.ok(config, "the example deploys a config file");
  return { path: config.path, source: config.source! };
}

export const convergedScenarios: Scenario[] = [
  {
    name:
      "agent check: a no-change tick is answered by the converged record; a same-size in-place edit, a stopped unit, a hand-placed quadlet and a new commit are still converged",
    timeoutMs: 8 * 60_000,
    async run(t) {
      const sha = await setUpAgent(t, await exampleOnTestHost(), FILE_URL, { host: "nas" });
      assert.equal((await status(t)).status, "success");
      // The first no-op plans as always and keeps what it saw, private to root.
      assert.equal((await status(t)).status, "noop");
      assert.equal((await t.ok(["stat", "-c", "%a %U", RECORD])).stdout.trim(), "600 root");

      // The next tick is answered by it: nothing to do, one event, and no pack was fetched.
      const answered = await tracedTick(t);
      assert.match(answered.stderr, MATCHED);
      assert.match(answered.stdout, new RegExp(`^nothing to do: the host matches revision ${sha}`));

      // An edit in place that keeps the size, right after the tick: seen, restored as drift.
      const { path, source } = await ownedConfig(t);
      const before = (await t.ok(["sha256sum", path])).stdout.split(" ")[0];
      const inode = (await t.ok(["stat", "-c", "%i %s", path])).stdout.trim();
      await t.ok(["sh", "-c", `printf '#' | dd of=${path} bs=1 count=1 conv=notrunc status=none`]);
      assert.equal((await t.ok(["stat", "-c", "%i %s", path])).stdout.trim(), inode, "in place");
      const repaired = await status(t);
      assert.equal(repaired.status, "success");
      assert.equal(field(repaired.event, "CORE_OPS_DRIFT"), path);
      assert.equal((await t.ok(["sha256sum", path])).stdout.split(" ")[0], before);

      // A unit stopped by hand: started again.
      assert.equal((await status(t)).status, "noop");
      assert.match((await tracedTick(t)).stderr, MATCHED);
      await t.ok(["systemctl", "stop", "web.service"]);
      const restarted = await status(t);
      assert.equal(restarted.status, "success");
      assert.match(field(restarted.event, "CORE_OPS_ACTIONS"), /\bweb\.service\b/);
      await t.assertUnit("web.service", { ActiveState: "active" });

      // A quadlet placed by hand beside ours: the generator would read it, so the tick plans.
      assert.equal((await status(t)).status, "noop");
      await t.writeFile("/etc/containers/systemd/e2e-by-hand.volume", "[Volume]\n");
      // Older than the margin a stamp needs (run/converged.ts RACY_MS) before the next no-op.
      await new Promise((r) => setTimeout(r, 2_500));
      const planned = await tracedTick(t);
      assert.match(planned.stderr, NOT_MATCHED);
      assert.match(planned.stdout, /^nothing to do: /);
      assert.match((await tracedTick(t)).stderr, MATCHED, "kept again, with that file in it");
      await t.ok(["rm", "/etc/containers/systemd/e2e-by-hand.volume"]);
      assert.match((await tracedTick(t)).stderr, NOT_MATCHED);

      // A new commit on the ref: found by the tick, applied at once.
      const content = await Deno.readTextFile(`${t.guest.root}${path}`);
      const next = await publish(t, { [source]: `${content}# a new commit\n` });
      const applied = await status(t);
      assert.equal(applied.status, "success");
      assert.equal(field(applied.event, "CORE_OPS_REVISION"), next);
      assert.equal((await status(t)).status, "noop");
      assert.match((await tracedTick(t)).stderr, MATCHED);
    },
  },
];
