/**
 * On a real host Podman's generator decides unit names, and a template's
 * drop-in reaches its running instances (SPEC §2).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Scenario, versionAtLeast } from "../lib/scenario.ts";
import { applyRepo, container, REPO } from "./fixtures.ts";

interface PlanArtifact {
  service: string;
  kind: string;
  source: string;
  destination: string;
  unit: string | null;
  sha256: string;
}

interface PlanAction {
  op: string;
  target: string;
  reason: string;
}

/** Template quadlets: names from the generator, drop-in changes restart running instances. */
export const namingScenarios: Scenario[] = [
  {
    name: "naming: on the host the generator's names win over --podman-version",
    async run(t) {
      // A --podman-version whose naming differs from the guest's Podman: the generator decides.
      const newNaming = versionAtLeast((await t.versions()).podman, 5, 7);
      const other = newNaming ? "5.4.0" : "5.7.0";
      const cache = newNaming ? "cache-volume@.service" : "cache@-volume.service";
      await t.writeRepo(REPO, {
        "services/web/quadlet/cache@.volume": "[Volume]\n",
        // (Podman < 5.7 cannot refer to a template volume from a template container: 5.7 can.)
        "services/web/quadlet/web@.container": container(),
        "services/web/quadlet/named.container": container("ServiceName=custom\n"),
      });
      const plan = await t.coreOpsJson([
        "plan",
        "--source-repo",
        REPO,
        "--json",
        "--podman-version",
        other,
      ]);
      const naming = plan.naming as { by: string; generator?: string };
      assert.deepEqual(naming, { by: "generator", generator: "/usr/libexec/podman/quadlet" });
      const units = Object.fromEntries(
        (plan.artifacts as PlanArtifact[]).map((a) => [a.source.split("/quadlet/")[1], a.unit]),
      );
      assert.deepEqual(units, {
        "cache@.volume": cache,
        "named.container": "custom.service",
        "web@.container": "web@.service",
      });
      const text = await t.coreOps(["plan", "--source-repo", REPO, "--podman-version", other]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /unit names from the quadlet generator/);

      // The same names are what systemd knows once the files are in place.
      await applyRepo(t);
      // (`systemctl show` of a template fails on systemd 262; `cat` shows it on every version.)
      const unitFile = await t.ok(["systemctl", "cat", cache]);
      assert.match(unitFile.stdout, /^SourcePath=\/etc\/containers\/systemd\/cache@\.volume$/m);
      await t.assertUnit("custom.service", { LoadState: "loaded" });
    },
  },
  {
    name: "naming: a template's changed drop-in restarts its running instances only",
    async run(t) {
      const base = {
        "services/web/quadlet/web@.container": container(),
        "services/web/quadlet/web@.container.d/10-env.conf": "[Container]\nEnvironment=V=1\n",
        "services/echo/systemd/echo@.service": "[Service]\nExecStart=/bin/sleep infinity\n",
      };
      await t.writeRepo(REPO, base);
      await applyRepo(t);
      await t.ok(["systemctl", "start", "web@a.service", "echo@x.service"]);
      await t.assertUnit("web@a.service", { ActiveState: "active" });
      await t.assertUnit("web@b.service", { ActiveState: "inactive" });

      const idle = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      assert.deepEqual(idle.actions, [], "converged: nothing to do");

      await t.writeRepo(REPO, {
        ...base,
        "services/web/quadlet/web@.container.d/10-env.conf": "[Container]\nEnvironment=V=2\n",
        "services/echo/systemd/echo@.service": "[Service]\nExecStart=/bin/sleep 1000000\n",
      });
      const plan = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      const restarts = (plan.actions as PlanAction[]).filter((a) => a.op === "restart");
      assert.deepEqual(restarts, [
        {
          op: "restart",
          target: "web@a.service",
          reason: "drop-in 10-env.conf changed (instance of web@.service)",
        },
        {
          op: "restart",
          target: "echo@x.service",
          reason: "echo@.service changed (instance of echo@.service)",
        },
      ]);

      // And apply does exactly that on the real host: the running instances restart with the
      // new drop-in; the instance that was not running stays down.
      const before = (await t.unit("web@a.service", ["InvocationID"])).InvocationID;
      const applied = await applyRepo(t);
      const ran = (applied.steps as { op: string; target: string; status: string }[])
        .filter((s) => s.op === "restart" && s.status === "ok").map((s) => s.target);
      assert.deepEqual(ran, ["web@a.service", "echo@x.service"]);
      assert.notEqual((await t.unit("web@a.service", ["InvocationID"])).InvocationID, before);
      await t.assertUnit("web@a.service", { ActiveState: "active" });
      await t.assertUnit("web@b.service", { ActiveState: "inactive" });
      const names = await t.podman([
        "ps",
        "--filter",
        "label=PODMAN_SYSTEMD_UNIT=web@a.service",
        "--format",
        "{{.Names}}",
      ]);
      const env = await t.podman(["inspect", "--format", "{{.Config.Env}}", names.stdout.trim()]);
      assert.match(env.stdout, /V=2/);
    },
  },
];
