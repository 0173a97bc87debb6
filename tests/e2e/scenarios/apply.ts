/**
 * `core-ops apply` and `status` on a real systemd 257 + Podman 5.4 host, the
 * way an operator exercises them: converge, converge again (nothing happens),
 * change one thing (exactly its unit restarts), remove a service, hand-edit a
 * file, and break a revision (it is rolled back).
 *
 * @module
 */
import assert from "node:assert/strict";
import { describe, type Files, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import {
  applyRepo,
  container,
  EXAMPLE_NAS_UNITS,
  exampleFiles,
  exampleOnTestHost,
  REPO,
  webService,
} from "./fixtures.ts";

interface Step {
  op: string;
  target: string;
  status: string;
}

function steps(doc: Record<string, unknown>): Step[] {
  return doc.steps as Step[];
}

function ran(doc: Record<string, unknown>, op: string): string[] {
  return steps(doc).filter((s) => s.op === op && s.status === "ok").map((s) => s.target);
}

async function invocations(t: ScenarioContext, units: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const u of units) out[u] = (await t.unit(u, ["InvocationID"])).InvocationID;
  return out;
}

async function status(t: ScenarioContext): Promise<Record<string, unknown>> {
  return await t.coreOpsJson(["status", "--json"]);
}

/** A plain oneshot service: it runs when new or changed, never because it is inactive. */
const ONESHOT: Files = {
  "services/job/systemd/job.service":
    "[Unit]\nDescription=e2e oneshot\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'date >> /var/tmp/job.runs'\n",
};

/** The apply scenarios. */
export const applyScenarios: Scenario[] = [
  {
    name: "apply: examples/homelab converges for host nas; two more applies change nothing",
    timeoutMs: 8 * 60_000,
    async run(t) {
      const sha = await t.writeRepo(REPO, await exampleOnTestHost());
      const first = await applyRepo(t, ["--host", "nas"]);
      assert.equal(first.outcome, "success");
      for (const unit of EXAMPLE_NAS_UNITS) {
        await t.assertUnit(unit, { LoadState: "loaded", ActiveState: "active" });
      }
      // Timer- and socket-activated services are left to their trigger.
      assert.ok(!ran(first, "start").includes("backup.service"), ran(first, "start").join(" "));
      await t.podman(["volume", "exists", "systemd-web-data"]);
      await t.podman(["network", "exists", "systemd-frontend"]);
      // The socket really serves: one connection, one echo@ instance. The example's own
      // echo service (DynamicUser, cat) is not core-ops' code: give it three tries, and show
      // its journal when it never answers.
      let echoed = "";
      for (let attempt = 0; attempt < 3 && echoed !== "hi\n"; attempt++) {
        const echo = await t.exec([
          "bash",
          "-c",
          'exec 3<>/dev/tcp/127.0.0.1/7777; echo hi >&3; read -t 5 -r line <&3; echo "$line"',
        ]);
        echoed = echo.stdout;
      }
      if (echoed !== "hi\n") {
        const journal = await t.exec(["journalctl", "--no-pager", "-n", "30", "-u", "echo@*"]);
        assert.fail(`echo.socket never echoed (got ${JSON.stringify(echoed)}):\n${journal.stdout}`);
      }
      // Exactly one reload, and no enable/disable.
      assert.equal(ran(first, "reload").length, 1);
      // The host overlay's config replaced the service's, at the service's config root.
      const files = await exampleFiles();
      const nasConf = files["hosts/nas/web/config/nginx.conf"];
      assert.equal(
        await t.readFile("/etc/web/nginx.conf"),
        typeof nasConf === "string" ? nasConf : nasConf.content,
      );
      const before = await invocations(t, ["web.service", "prometheus.service", "echo.socket"]);
      for (const round of [2, 3]) {
        const again = await applyRepo(t, ["--host", "nas"]);
        assert.equal(again.outcome, "noop", `apply #${round}: ${JSON.stringify(again.actions)}`);
        assert.deepEqual(again.actions, []);
        assert.deepEqual(steps(again), []);
      }
      assert.deepEqual(
        await invocations(t, ["web.service", "prometheus.service", "echo.socket"]),
        before,
      );
      const st = await status(t);
      assert.equal(st.last_applied_revision, sha);
      assert.equal(st.status, "success");
      assert.deepEqual(st.drift, []);
      assert.equal((st.last_run as { outcome: string }).outcome, "noop");
      const units = st.units as Record<string, { active: string }>;
      assert.equal(units["web.service"]?.active, "active", JSON.stringify(units));
    },
  },
  {
    name: "apply: a native oneshot runs once when new, not on later applies",
    async run(t) {
      await t.writeRepo(REPO, ONESHOT);
      const first = await applyRepo(t, []);
      assert.deepEqual(ran(first, "start"), ["job.service"]);
      await t.assertUnit("job.service", { Result: "success", ActiveState: "inactive" });
      for (const round of [2, 3]) {
        const again = await applyRepo(t, []);
        assert.equal(again.outcome, "noop", `apply #${round}: ${JSON.stringify(again.actions)}`);
      }
      const runs = (await t.readFile("/var/tmp/job.runs")).trim().split("\n");
      assert.equal(runs.length, 1, `job ran ${runs.length} times`);
    },
  },
  {
    name: "apply: a mounted config change restarts only its container; a drop-in only its unit",
    async run(t) {
      const files: Files = {
        ...webService("Volume=/etc/web/app.conf:/app.conf:ro\n"),
        "services/web/config/app.conf": "greeting=hello\n",
        "services/other/quadlet/other.container": container(),
        "services/other/quadlet/other.container.d/10-env.conf": "[Container]\nEnvironment=A=1\n",
      };
      await t.writeRepo(REPO, files);
      await applyRepo(t, []);
      const units = ["web.service", "other.service"];
      const v1 = await invocations(t, units);

      await t.writeRepo(REPO, { "services/web/config/app.conf": "greeting=bonjour\n" });
      const plan = await t.coreOps(["plan", "--source-repo", REPO, "--diff"]);
      assert.equal(plan.code, 0, describe(["plan --diff"], plan));
      assert.match(plan.stdout, /-greeting=hello\n\+greeting=bonjour/);
      const changed = await applyRepo(t, []);
      assert.deepEqual(ran(changed, "restart"), ["web.service"]);
      assert.deepEqual(ran(changed, "reload"), [], "a config change needs no daemon-reload");
      const v2 = await invocations(t, units);
      assert.notEqual(v2["web.service"], v1["web.service"]);
      assert.equal(v2["other.service"], v1["other.service"]);
      assert.equal(await t.readFile("/etc/web/app.conf"), "greeting=bonjour\n");

      await t.writeRepo(REPO, {
        "services/other/quadlet/other.container.d/10-env.conf": "[Container]\nEnvironment=A=2\n",
      });
      const human = await t.coreOps(["apply", "--source-repo", REPO, "--diff"]);
      assert.equal(human.code, 0, describe(["apply --diff"], human));
      assert.match(human.stdout, /-Environment=A=1\n\+Environment=A=2/);
      assert.match(human.stdout, /^restart other\.service … ok /m);
      const v3 = await invocations(t, units);
      assert.notEqual(v3["other.service"], v2["other.service"]);
      assert.equal(v3["web.service"], v2["web.service"]);
    },
  },
  {
    name: "apply: removing a service stops (and resets) its units before deleting its files",
    async run(t) {
      await t.writeRepo(REPO, {
        ...webService(),
        "services/flaky/systemd/flaky.service":
          "[Service]\nExecStart=/bin/sleep infinity\nRestart=no\n",
      });
      await applyRepo(t, []);
      // flaky.service dies: a failed unit that must not linger once it is gone from the repo.
      await t.ok(["systemctl", "kill", "--signal=KILL", "flaky.service"]);
      await t.ok([
        "sh",
        "-c",
        "for i in $(seq 50); do systemctl is-failed -q flaky.service && exit 0; sleep 0.1; done; exit 1",
      ]);

      await t.writeRepo(REPO, webService(), { replace: true });
      const removed = await applyRepo(t, []);
      const order = steps(removed).map((s) => `${s.op} ${s.target}`);
      const stop = order.indexOf("stop flaky.service");
      const reset = order.indexOf("reset-failed flaky.service");
      const rm = order.indexOf("remove /etc/systemd/system/flaky.service");
      assert.ok(stop >= 0 && reset > stop && rm > reset, order.join("\n"));
      assert.equal(await t.exists("/etc/systemd/system/flaky.service"), false);
      await t.assertUnit("flaky.service", { LoadState: "not-found", ActiveState: "inactive" });
      const failed = await t.ok(["systemctl", "list-units", "--failed", "--plain", "--no-legend"]);
      assert.doesNotMatch(failed.stdout, /flaky/);
      await t.assertUnit("web.service", { ActiveState: "active" });
    },
  },
  {
    name: "apply: hand-placed quadlets are never touched; hand edits are drift, restored by apply",
    async run(t) {
      const sha = await t.writeRepo(REPO, webService());
      await t.writeFile("/etc/containers/systemd/mine.container", container());
      await applyRepo(t, []);
      await t.writeFile("/etc/containers/systemd/data.volume", "[Volume]\nLabel=edited=1\n");

      const plan = await t.coreOpsJson(["plan", "--source-repo", REPO, "--json"]);
      const drift = plan.drift as { path: string }[];
      assert.deepEqual(drift.map((d) => d.path), ["/etc/containers/systemd/data.volume"]);
      const st = await status(t);
      assert.deepEqual((st.drift as { path: string }[]).map((d) => d.path), [
        "/etc/containers/systemd/data.volume",
      ]);

      const fixed = await applyRepo(t, []);
      assert.deepEqual(ran(fixed, "write"), ["/etc/containers/systemd/data.volume"]);
      assert.equal(
        await t.readFile("/etc/containers/systemd/data.volume"),
        "[Volume]\nLabel=app=e2e\n",
      );
      assert.equal(await t.readFile("/etc/containers/systemd/mine.container"), container());
      const after = await status(t);
      assert.deepEqual(after.drift, []);
      assert.equal(after.last_applied_revision, sha);
    },
  },
  {
    name: "apply: a container that fails to start is rolled back; the old one runs again",
    async run(t) {
      const good = await t.writeRepo(REPO, webService());
      await applyRepo(t, []);
      const goodFile = await t.readFile("/etc/containers/systemd/web.container");

      const bad = await t.writeRepo(REPO, {
        "services/web/quadlet/web.container": container(
          "Volume=data.volume:/data\nNetwork=app.network\n",
        ).replace(/^Exec=.*$/m, "Exec=/bin/false"),
      });
      const failed = await applyRepo(t, ["--verify-timeout", "30"], 1);
      assert.equal(failed.outcome, "failure");
      const failure = failed.failure as { units: { unit: string }[]; rollback: string };
      assert.ok(failure.units.some((u) => u.unit === "web.service"), JSON.stringify(failure));
      assert.equal(failure.rollback, "ok");
      assert.equal(await t.readFile("/etc/containers/systemd/web.container"), goodFile);
      await t.assertUnit("web.service", { ActiveState: "active" });
      const st = await status(t);
      assert.equal(st.last_applied_revision, good);
      assert.equal(st.last_attempted_revision, bad);
      assert.equal(st.status, "failed");

      // "Why did my container not start?" in one command each.
      const last = await t.coreOps(["explain", "last"]);
      assert.equal(last.code, 0, describe(["explain last"], last));
      assert.match(last.stdout, /last run \S+: failure/);
      assert.match(last.stdout, /web\.service: .*(Result=|failed)/);
      assert.match(last.stdout, /rolled back to the last applied revision/);
      const unit = await t.coreOps(["explain", "web.service"]);
      assert.equal(unit.code, 0, describe(["explain web.service"], unit));
      assert.match(unit.stdout, /from services\/web\/quadlet\/web\.container @ /);
      // The restart itself fails, or it starts and verification fails: either is named.
      assert.match(
        unit.stdout,
        /restart web\.service: web\.container changed — failed|verify web\.service: verification — failed/,
      );
      assert.match(unit.stdout, /live: web\.service active \(running\)/);
    },
  },
  {
    name: "apply: a crash-looping Restart=always container fails verification and is rolled back",
    async run(t) {
      await t.writeRepo(REPO, webService());
      await applyRepo(t, []);
      const goodFile = await t.readFile("/etc/containers/systemd/web.container");
      await t.writeRepo(REPO, {
        "services/web/quadlet/web.container": container(
          "Volume=data.volume:/data\nNetwork=app.network\n",
        ).replace(/^Exec=.*$/m, "Exec=/bin/sh -c 'sleep 1; exit 3'") +
          "\n[Service]\nRestart=always\nRestartSec=1\n",
      });
      // The default 3 s settle window outlasts each 1 s life of the container.
      const failed = await applyRepo(t, ["--verify-timeout", "40"], 1, "3");
      assert.equal(failed.outcome, "failure");
      const verdicts = failed.verification as { unit: string; status: string }[];
      assert.deepEqual(
        verdicts.filter((v) => v.unit === "web.service").map((v) => v.status),
        ["failed"],
      );
      assert.equal(await t.readFile("/etc/containers/systemd/web.container"), goodFile);
      await t.assertUnit("web.service", { ActiveState: "active" });
    },
  },
  {
    name: "apply: a quadlet the generator rejects exits 65 and changes no file",
    async run(t) {
      await t.writeRepo(REPO, webService());
      await applyRepo(t, []);
      const before = await t.snapshot([
        "/etc/containers/systemd",
        "/var/lib/core-ops/manifest.json",
      ]);
      await t.writeRepo(REPO, {
        "services/web/quadlet/data.volume": "[Volume]\nNoSuchKey=1\n",
      });
      const result = await t.coreOps(["apply", "--source-repo", REPO]);
      assert.equal(result.code, 65, describe(["apply"], result));
      assert.match(result.stderr, /services\/web\/quadlet\/data\.volume/);
      assert.equal(
        await t.snapshot(["/etc/containers/systemd", "/var/lib/core-ops/manifest.json"]),
        before,
      );
      const st = await status(t);
      assert.equal(st.status, "failed");
      assert.equal((st.failure as { class: string }).class, "validation");
    },
  },
  {
    name: "apply: a volume whose unit does not exist after reload fails verification",
    async run(t) {
      // A quadlet dir the system generator does not read: the dry-run (staged) accepts the
      // file, but after daemon-reload systemd has no such unit — never "verified".
      await t.writeRepo(REPO, { "services/v/quadlet/lost.volume": "[Volume]\n" });
      const failed = await applyRepo(t, ["--quadlet-dir", "/etc/containers/not-read"], 1);
      assert.equal(failed.outcome, "failure");
      // systemd refuses to start what it does not have, or verification finds it not-found.
      const failure = failed.failure as { units: { unit: string; reason: string }[] };
      const lost = failure.units.find((u) => u.unit === "lost-volume.service");
      assert.ok(lost, JSON.stringify(failure));
      assert.match(lost.reason, /not.found|not loaded/i);
      const verdicts = failed.verification as { unit: string; status: string }[];
      assert.ok(!verdicts.some((v) => v.unit === "lost-volume.service" && v.status === "ok"));
      assert.equal(
        await t.exists("/etc/containers/not-read/lost.volume"),
        false,
        "not rolled back",
      );
    },
  },
];
