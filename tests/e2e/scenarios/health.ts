/**
 * Issue 19's health part on the real host (SPEC §9): a `Notify=healthy`
 * container whose check never passes fails its start (systemd's start job
 * waits for the check) and is rolled back; one whose check passes is
 * verified; the plan warns about a check that cannot work; an image that
 * `podman auto-update` replaced is not drift.
 *
 * @module
 */
import assert from "node:assert/strict";
import { TEST_IMAGE } from "../lib/rootfs.ts";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { container, REPO } from "./fixtures.ts";

const QUADLET = "/etc/containers/systemd/web.container";

async function apply(t: ScenarioContext, code: number): Promise<Record<string, unknown>> {
  return await t.coreOpsJson(
    ["apply", "--source-repo", REPO, "--json", "--verify-settle", "1", "--verify-timeout", "40"],
    code,
    { timeoutMs: 180_000 },
  );
}

/** Service `web` alone: one container with `extra` lines in [Container] (and [Service]). */
function web(extra: string, service = ""): Record<string, string> {
  const text = container(extra) + (service === "" ? "" : `\n[Service]\n${service}\n`);
  return { "services/web/quadlet/web.container": text };
}

async function healthOf(t: ScenarioContext): Promise<string> {
  const r = await t.podman(["inspect", "--format", "{{.State.Health.Status}}", "systemd-web"]);
  assert.equal(r.code, 0, describe(["podman", "inspect"], r));
  return r.stdout.trim();
}

/** The health scenarios. */
export const healthScenarios: Scenario[] = [
  {
    name:
      "health: a Notify=healthy container that never gets healthy is rolled back; one that does passes",
    async run(t) {
      await t.writeRepo(REPO, web(""));
      await apply(t, 0);
      const goodFile = await t.readFile(QUADLET);

      // The check never passes: the start job waits for it until TimeoutStartSec and fails.
      await t.writeRepo(
        REPO,
        web(
          "Notify=healthy\nHealthCmd=/bin/false\nHealthInterval=1s\nHealthRetries=1",
          "TimeoutStartSec=12",
        ),
      );
      const failed = await apply(t, 1);
      assert.equal(failed.outcome, "failure");
      const failure = failed.failure as { units: { unit: string }[]; rollback: string };
      assert.ok(failure.units.some((u) => u.unit === "web.service"), JSON.stringify(failure));
      assert.equal(failure.rollback, "ok");
      assert.equal(await t.readFile(QUADLET), goodFile);
      await t.assertUnit("web.service", { ActiveState: "active", SubState: "running" });

      // The check passes: systemd reports the unit started only after it did.
      await t.writeRepo(
        REPO,
        web(
          "Notify=healthy\nHealthCmd=/bin/true\nHealthInterval=1s\nHealthStartPeriod=5s",
        ),
      );
      const ok = await apply(t, 0);
      assert.equal(ok.outcome, "success", JSON.stringify(ok));
      await t.assertUnit("web.service", { ActiveState: "active", Type: "notify" });
      assert.equal(await healthOf(t), "healthy");
    },
  },
  {
    name:
      "health: plan warns about Notify=healthy without HealthCmd=; an image podman auto-update replaced is not drift",
    async run(t) {
      await t.writeRepo(REPO, {
        ...web("AutoUpdate=local"),
        "services/web/quadlet/lonely.container": container("Notify=healthy"),
      });
      const planned = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      const warnings = (planned.warnings as { message: string }[]).map((w) => w.message);
      assert.ok(
        warnings.some((w) => /lonely\.container has Notify=healthy but no HealthCmd=/.test(w)),
        JSON.stringify(warnings),
      );
      assert.ok(warnings.some((w) => /web\.container has AutoUpdate=local/.test(w)));

      await t.writeRepo(REPO, web("AutoUpdate=local"), { replace: true });
      await apply(t, 0);
      const before = (await t.podman(["inspect", "--format", "{{.Image}}", "systemd-web"])).stdout;

      // A new local image under the same name: podman auto-update (local policy) restarts web.
      await t.writeFile("/srv/image/Containerfile", `FROM ${TEST_IMAGE}\nLABEL e2e.revision=2\n`);
      await t.ok(["podman", "build", "-q", "-t", TEST_IMAGE, "/srv/image"], {
        timeoutMs: 120_000,
      });
      const update = await t.ok(["podman", "auto-update"], { timeoutMs: 120_000 });
      assert.match(update.stdout, /web\.service.*true/, update.stdout);
      await t.assertUnit("web.service", { ActiveState: "active" });
      const after = (await t.podman(["inspect", "--format", "{{.Image}}", "systemd-web"])).stdout;
      assert.notEqual(after, before, "auto-update did not replace the image");

      // core-ops sees nothing to do and no drift; a second apply changes nothing.
      const replanned = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      assert.deepEqual(replanned.actions, []);
      assert.deepEqual(replanned.drift, []);
      const again = await apply(t, 0);
      assert.equal(again.outcome, "noop", JSON.stringify(again));
    },
  },
];
