/**
 * Issue 19's pre-pull on the real host (SPEC §9): the image of a container
 * whose image reference changed is pulled through systemd (a transient
 * `core-ops-pull-*.service`) before anything is written, stopped or started;
 * the old container keeps serving meanwhile; a pull that fails ends the run
 * there, with the old container untouched.
 *
 * No registry here: the new image is an `oci-archive:` that Podman pulls like
 * a remote one, built in the guest from the imported busybox. A prefix
 * drop-in (`core-ops-pull-.service.d/`) makes every pull unit wait 8 s first,
 * so "meanwhile" is long enough to look at.
 *
 * @module
 */
import assert from "node:assert/strict";
import { TEST_IMAGE } from "../lib/rootfs.ts";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { container, REPO } from "./fixtures.ts";
import { waitFor } from "./service.ts";

const QUADLET = "/etc/containers/systemd/web.container";
const ARCHIVE = "/srv/images/app-v2.tar";
const SLOW_PULL = "/etc/systemd/system/core-ops-pull-.service.d/e2e-slow.conf";

interface Step {
  op: string;
  target: string;
  status: string;
}

function web(image: string): Record<string, string> {
  return {
    "services/web/quadlet/web.container": container().replace(
      `Image=${TEST_IMAGE}`,
      `Image=${image}`,
    ),
  };
}

function applyArgs(): string[] {
  return ["apply", "--source-repo", REPO, "--json", "--verify-settle", "1"];
}

/** Builds app v2 (busybox plus a label) and saves it as an OCI archive; removes the local copy. */
async function buildArchive(t: ScenarioContext): Promise<void> {
  await t.writeFile("/srv/image/Containerfile", `FROM ${TEST_IMAGE}\nLABEL app.version=2\n`);
  await t.ok(["podman", "build", "-q", "-t", "localhost/app:v2", "/srv/image"], {
    timeoutMs: 120_000,
  });
  await t.ok(["mkdir", "-p", "/srv/images"]);
  await t.ok(["podman", "save", "--format", "oci-archive", "-o", ARCHIVE, "localhost/app:v2"]);
  await t.ok(["podman", "rmi", "localhost/app:v2"]);
}

async function invocation(t: ScenarioContext): Promise<string> {
  return (await t.unit("web.service", ["InvocationID"])).InvocationID;
}

/** The pre-pull scenarios. */
export const pullScenarios: Scenario[] = [
  {
    name:
      "pull: a changed image is pulled through systemd first, while the old container keeps serving",
    async run(t) {
      await t.writeRepo(REPO, web(TEST_IMAGE));
      await t.coreOpsJson(applyArgs());
      const oldFile = await t.readFile(QUADLET);
      const oldRun = await invocation(t);
      await buildArchive(t);
      await t.writeFile(SLOW_PULL, "[Service]\nExecStartPre=/bin/sleep 8\n");
      await t.ok(["systemctl", "daemon-reload"]);

      await t.writeRepo(REPO, web(`oci-archive:${ARCHIVE}`));
      const applying = t.coreOps(applyArgs(), { timeoutMs: 180_000 });
      // While the pull unit runs: the old container serves, its file is as it was.
      await waitFor(30_000, "the pull unit", async () => {
        const units = await t.exec([
          "systemctl",
          "list-units",
          "--plain",
          "--no-legend",
          "core-ops-pull-*",
        ]);
        return units.stdout.includes("core-ops-pull-") ? true : undefined;
      });
      for (let i = 0; i < 3; i++) {
        await t.assertUnit("web.service", { ActiveState: "active", SubState: "running" });
        assert.equal(await invocation(t), oldRun, "web restarted during the pull");
        assert.equal(await t.readFile(QUADLET), oldFile);
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const result = await applying;
      assert.equal(result.code, 0, describe(applyArgs(), result));
      const doc = JSON.parse(result.stdout);
      const steps = doc.steps as Step[];
      assert.deepEqual(steps[0], { ...steps[0], op: "pull", target: `oci-archive:${ARCHIVE}` });
      assert.equal(steps[0].status, "ok");
      assert.deepEqual(steps.map((s) => s.op), ["pull", "write", "reload", "restart"]);
      assert.notEqual(await invocation(t), oldRun);
      const label = await t.podman([
        "inspect",
        "--format",
        '{{index .Config.Labels "app.version"}}',
        "systemd-web",
      ]);
      assert.equal(label.stdout.trim(), "2");
      // The pull ran as a transient unit, and nothing of it is left.
      const log = await t.ok(["journalctl", "--no-pager", "-o", "cat", "-u", "core-ops-pull-*"]);
      assert.match(log.stdout, /core-ops: podman pull --quiet -- oci-archive:/);
      const left = await t.exec([
        "systemctl",
        "list-units",
        "--all",
        "--plain",
        "--no-legend",
        "core-ops-pull-*",
      ]);
      assert.equal(left.stdout.trim(), "");
    },
  },
  {
    name: "pull: a failed pull fails the run before anything is stopped; the old container runs on",
    async run(t) {
      const good = await t.writeRepo(REPO, web(TEST_IMAGE));
      await t.coreOpsJson(applyArgs());
      const oldFile = await t.readFile(QUADLET);
      const oldRun = await invocation(t);

      const missing = "oci-archive:/srv/images/missing.tar";
      await t.writeRepo(REPO, web(missing));
      const failed = await t.coreOpsJson(applyArgs(), 1, { timeoutMs: 180_000 });
      assert.equal(failed.outcome, "failure");
      const failure = failed.failure as {
        class: string;
        reason: string;
        units: { unit: string; reason: string }[];
        rollback: string;
      };
      assert.equal(failure.class, "apply");
      assert.deepEqual(failure.units.map((u) => u.unit), [missing]);
      assert.match(
        failure.reason,
        /pull oci-archive:\/srv\/images\/missing\.tar failed: .*no such file or directory/,
      );
      const steps = failed.steps as Step[];
      assert.equal(steps[0].status, "failed");
      assert.ok(steps.slice(1).every((s) => s.status === "not-run"), JSON.stringify(steps));
      // Nothing changed: same file, same running container, nothing to roll back.
      assert.equal(await t.readFile(QUADLET), oldFile);
      assert.equal(await invocation(t), oldRun);
      await t.assertUnit("web.service", { ActiveState: "active", SubState: "running" });
      assert.equal(failure.rollback, "ok");
      const st = await t.coreOpsJson(["status", "--json"]);
      assert.equal(st.last_applied_revision, good);
    },
  },
];
