/**
 * Template quadlets on whichever host the run boots (issue 20): the unit
 * names in the plan are the ones the host's own generator gives — Podman
 * before 5.7 names `cache@.volume` `cache@-volume.service`, which systemd
 * reads as an instance of `cache@.service`; 5.7 and later name it
 * `cache-volume@.service` — and apply starts nothing that is a template in
 * the repository, whatever name it got.
 *
 * @module
 */
import assert from "node:assert/strict";
import { TEST_IMAGE } from "../lib/rootfs.ts";
import {
  type Files,
  type Scenario,
  type ScenarioContext,
  versionAtLeast,
} from "../lib/scenario.ts";
import { applyRepo, REPO } from "./fixtures.ts";

interface PlanArtifact {
  kind: string;
  source: string;
  destination: string;
  unit: string | null;
}

interface Step {
  op: string;
  target: string;
  status: string;
}

const QUADLET_DIR = "/etc/containers/systemd";
const SRC = "services/tpl/quadlet";
const LOOP = `/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'`;

/** A container quadlet without [Install]: templates and their instances start only when asked. */
function container(extra = ""): string {
  return `[Container]\nImage=${TEST_IMAGE}\nExec=${LOOP}\n${extra}`;
}

/**
 * The repository: a template volume and network, a template container with a
 * drop-in, an instance file of it with a drop-in of its own, and a plain
 * volume. With Podman ≥ 5.7 also a template container that uses the template
 * volume and network (`Volume=cache@.volume`): before 5.7 that would need a
 * volume named `systemd-cache@`, which Podman refuses.
 */
function repo(templateDeps: boolean): Files {
  const files: Files = {
    [`${SRC}/cache@.volume`]: "[Volume]\nLabel=app=tpl\n",
    [`${SRC}/net@.network`]: "[Network]\nLabel=app=tpl\n",
    [`${SRC}/plain.volume`]: "[Volume]\nLabel=app=plain\n",
    [`${SRC}/web@.container`]: container(),
    [`${SRC}/web@.container.d/10-env.conf`]: `[Container]\nEnvironment=TPL=1\n`,
    [`${SRC}/web@a.container`]: container(),
    [`${SRC}/web@a.container.d/20-env.conf`]: "[Container]\nEnvironment=INST=a\n",
  };
  if (templateDeps) {
    files[`${SRC}/app@.container`] = container(
      "Volume=cache@.volume:/data\nNetwork=net@.network\n",
    );
  }
  return files;
}

/** Quadlet file (base name) → unit, from the units systemd's run of the generator wrote. */
async function generatedUnits(t: ScenarioContext): Promise<Record<string, string>> {
  const dir = "/run/systemd/generator";
  const found = await t.ok(["grep", "-r", "--include=*.service", "^SourcePath=", dir]);
  const units: Record<string, string> = {};
  for (const line of found.stdout.trim().split("\n")) {
    // `/run/systemd/generator/web@.service:SourcePath=/etc/containers/systemd/web@.container`
    const match = /^([^:]+):SourcePath=(.*)$/.exec(line);
    assert.ok(match, `unexpected grep line ${line}`);
    if (!match[2].startsWith(`${QUADLET_DIR}/`)) continue; // not a quadlet
    units[match[2].slice(QUADLET_DIR.length + 1)] = match[1].slice(dir.length + 1);
  }
  return units;
}

/** Base name of each quadlet in the plan → its unit. */
function plannedUnits(plan: Record<string, unknown>): Record<string, string> {
  const units: Record<string, string> = {};
  for (const a of plan.artifacts as PlanArtifact[]) {
    if (a.kind === "dropin" || a.unit === null) continue;
    units[a.source.slice(SRC.length + 1)] = a.unit;
  }
  return units;
}

/** Units systemd has loaded (any state) whose name has an `@`: templates' instances. */
async function loadedInstances(t: ScenarioContext): Promise<Map<string, string>> {
  const list = await t.ok(["systemctl", "list-units", "--all", "--no-legend", "--plain", "*@*"]);
  const units = new Map<string, string>();
  for (const line of list.stdout.trim().split("\n").filter((l) => l !== "")) {
    const [unit, , active] = line.trim().split(/\s+/);
    units.set(unit, active);
  }
  return units;
}

async function names(t: ScenarioContext, what: "volume" | "network"): Promise<string[]> {
  const out = await t.podman([what, "ls", "--format", "{{.Name}}"]);
  return out.stdout.trim().split("\n").filter((n) => n.startsWith("systemd-")).sort();
}

/** The environment of the container `unit` runs (asserting there is one). */
async function containerEnv(t: ScenarioContext, unit: string): Promise<string> {
  const cid = (await t.podman([
    "ps",
    "--filter",
    `label=PODMAN_SYSTEMD_UNIT=${unit}`,
    "--format",
    "{{.ID}}",
  ])).stdout.trim();
  assert.notEqual(cid, "", `no container for ${unit}`);
  return (await t.podman(["inspect", "--format", "{{.Config.Env}}", cid])).stdout;
}

/** Template quadlets on this host's Podman, with this host's names. */
export const templateScenarios: Scenario[] = [
  {
    name: "templates: plan names = the host generator's; apply starts no template, only instances",
    async run(t) {
      const { podman } = await t.versions();
      const newNaming = versionAtLeast(podman, 5, 7);
      await t.writeRepo(REPO, repo(newNaming));

      const plan = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      assert.deepEqual(plan.naming, {
        by: "generator",
        generator: "/usr/libexec/podman/quadlet",
      });
      const planned = plannedUnits(plan);
      // What this Podman is documented to do, so that each host proves its own naming.
      const expected: Record<string, string> = {
        "cache@.volume": newNaming ? "cache-volume@.service" : "cache@-volume.service",
        "net@.network": newNaming ? "net-network@.service" : "net@-network.service",
        "plain.volume": "plain-volume.service",
        "web@.container": "web@.service",
        "web@a.container": "web@a.service",
      };
      if (newNaming) expected["app@.container"] = "app@.service";
      assert.deepEqual(planned, expected, `plan's unit names on Podman ${podman}`);

      // Nothing that is a template in the repository is started, whatever the generator named it.
      const starts = (plan.actions as { op: string; target: string }[])
        .filter((a) => a.op === "start" || a.op === "restart").map((a) => a.target).sort();
      assert.deepEqual(starts, ["plain-volume.service", "web@a.service"]);

      const applied = await applyRepo(t);
      assert.equal(applied.outcome, "success", JSON.stringify(applied));
      const ran = (applied.steps as Step[]).filter((s) => s.op === "start").map((s) => s.target);
      assert.deepEqual(ran.sort(), ["plain-volume.service", "web@a.service"]);

      // The names systemd got from its own run of the generator at daemon-reload are the plan's.
      assert.deepEqual(await generatedUnits(t), planned, "generator output vs plan");

      // Running: the instance and nothing else with an `@` (before 5.7 `cache@-volume.service`
      // reads as an instance of `cache@.service`: it must not have been started).
      const instances = await loadedInstances(t);
      assert.deepEqual(
        [...instances].filter(([, active]) => active !== "inactive"),
        [["web@a.service", "active"]],
        `units with an @ after apply: ${JSON.stringify([...instances])}`,
      );
      if (!newNaming) {
        // systemd reads these names as instances of cache@.service and net@.service: they are
        // loaded, and nothing started them.
        for (const unit of ["cache@-volume.service", "net@-network.service"]) {
          await t.assertUnit(unit, { LoadState: "loaded", ActiveState: "inactive" });
        }
      }
      // Podman made exactly the plain volume: no `systemd-cache@…`, no template network.
      assert.deepEqual(await names(t, "volume"), ["systemd-plain"]);
      assert.deepEqual(await names(t, "network"), []);

      // The instance has the template's drop-in and its own.
      const env = await containerEnv(t, "web@a.service");
      assert.match(env, /\bTPL=1\b/);
      assert.match(env, /\bINST=a\b/);

      if (newNaming) {
        // A template instance brings up its own instances of the template volume and network,
        // under the names the plan gave their templates.
        await t.ok(["systemctl", "start", "app@one.service"]);
        await t.assertUnit("app@one.service", { ActiveState: "active" });
        await t.assertUnit("cache-volume@one.service", { ActiveState: "active" });
        await t.assertUnit("net-network@one.service", { ActiveState: "active" });
        assert.deepEqual(await names(t, "volume"), ["systemd-cache-one", "systemd-plain"]);
        assert.deepEqual(await names(t, "network"), ["systemd-net-one"]);
      }
      // Converged, running instances included: nothing to do.
      const idle = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      assert.deepEqual(idle.actions, [], "converged: nothing to do");

      // The template's drop-in changes: the instance deployed as a file of its own restarts
      // with it (its unit is `web@a.service`, an instance of the template).
      const changed = repo(newNaming);
      changed[`${SRC}/web@.container.d/10-env.conf`] = "[Container]\nEnvironment=TPL=2\n";
      await t.writeRepo(REPO, changed, { replace: true, message: "template drop-in" });
      const reapplied = await applyRepo(t);
      assert.equal(reapplied.outcome, "success", JSON.stringify(reapplied));
      const restarted = (reapplied.steps as Step[]).filter((s) => s.op === "restart");
      assert.deepEqual(restarted.map((s) => s.target), ["web@a.service"]);
      const newEnv = await containerEnv(t, "web@a.service");
      assert.match(newEnv, /\bTPL=2\b/);
    },
  },
];
