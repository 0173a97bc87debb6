/**
 * `core-ops plan` on a real host reads real unit states from systemd and
 * changes nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Result } from "../lib/proc.ts";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { REPO, webService } from "./fixtures.ts";

interface UnitState {
  load: string;
  active: string;
}

/** Runs core-ops in the guest as `nobody`: no home, no write access where the package or repo lives. */
function coreOpsAsNobody(t: ScenarioContext, args: string[]): Promise<Result> {
  const drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];
  return t.exec([...drop, "core-ops", ...args], { cwd: "/", env: { HOME: "/nonexistent" } });
}

/** Unit states in `plan --json`: active when running, not-found when absent. */
export const planScenarios: Scenario[] = [
  {
    name: "plan: --json reports real unit states (active, not-found)",
    async run(t) {
      const sha = await t.writeRepo(REPO, webService());
      // "Started by hand": a transient web.service, so no unowned file sits at a destination.
      await t.ok([
        "systemd-run",
        "--unit=web.service",
        "--quiet",
        "--",
        "/bin/sleep",
        "infinity",
      ]);
      await t.assertUnit("web.service", { LoadState: "loaded", ActiveState: "active" });

      const plan = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      assert.equal(plan.revision, sha);
      const units = plan.units as Record<string, UnitState> | undefined;
      assert.ok(units && typeof units === "object", `plan --json has no units object`);
      const pick = (u: UnitState | undefined) => u && { load: u.load, active: u.active };
      assert.deepEqual(pick(units["web.service"]), { load: "loaded", active: "active" });
      assert.deepEqual(pick(units["data-volume.service"]), {
        load: "not-found",
        active: "inactive",
      });

      const artifacts = plan.artifacts as {
        kind: string;
        unit: string | null;
        destination: string;
      }[];
      const web = artifacts.find((a) => a.kind === "container");
      assert.deepEqual(
        web && { unit: web.unit, destination: web.destination },
        { unit: "web.service", destination: "/etc/containers/systemd/web.container" },
      );
      // plan is read-only: nothing deployed, the hand-started unit untouched.
      assert.equal(await t.exists("/etc/containers/systemd/web.container"), false);
      await t.assertUnit("web.service", { LoadState: "loaded", ActiveState: "active" });
    },
  },
  {
    name: "plan: runs unprivileged (SPEC: no root needed) with the same result",
    async run(t) {
      const sha = await t.writeRepo(REPO, webService());
      const asRoot = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      const result = await coreOpsAsNobody(t, ["plan", "--source-repo", REPO, "--json"]);
      assert.equal(result.code, 0, describe(["plan as nobody"], result));
      const asNobody = JSON.parse(result.stdout);
      // Not asserted equal: git refuses a repo owned by another user (safe.directory),
      // and SPEC lets core-ops report "(stateless)" when git cannot tell.
      assert.ok([sha, "(stateless)"].includes(asNobody.revision), asNobody.revision);
      assert.deepEqual(asNobody.artifacts, asRoot.artifacts);
      assert.deepEqual(asNobody.actions, asRoot.actions);
    },
  },
  {
    name: "plan: a source the user may not read exits 66 (permission denied, not missing)",
    async run(t) {
      await t.writeRepo(REPO, webService());
      await t.ok(["chmod", "0700", `${REPO}/services/web/quadlet`]);
      const result = await coreOpsAsNobody(t, ["plan", "--source-repo", REPO]);
      assert.equal(result.code, 66, describe(["plan as nobody"], result));
      assert.match(result.stderr, /services\/web\/quadlet: permission denied/, result.stderr);
    },
  },
  {
    name: "plan: a hand-placed file at a destination is a conflict; others are left alone",
    async run(t) {
      await t.writeRepo(REPO, webService());
      await t.writeFile("/etc/containers/systemd/web.container", "[Container]\nImage=mine\n");
      await t.writeFile("/etc/containers/systemd/other.container", "[Container]\nImage=mine\n");
      const conflict = await t.coreOps(["plan", "--source-repo", REPO]);
      assert.equal(conflict.code, 65, describe(["plan"], conflict));
      assert.match(
        conflict.stderr,
        /\/etc\/containers\/systemd\/web\.container exists and is not owned/,
      );
      const adopted = await t.coreOpsJson(["plan", "--source-repo", REPO, "--adopt", "--json"]);
      const targets = (adopted.actions as { target: string }[]).map((a) => a.target);
      assert.ok(targets.includes("/etc/containers/systemd/web.container"), targets.join(" "));
      assert.ok(!targets.some((p) => p.includes("other.container")), targets.join(" "));
    },
  },
];
