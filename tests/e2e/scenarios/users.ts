/**
 * User (rootless) services on the real test host (issue 18, SPEC §7): the
 * shipped, hardened core-ops.service with the user-services drop-in deploys a
 * service as a login's own units beside a system service, in one run; the
 * container runs as the login and reads its config (a private file handed to
 * the login); a config change restarts only it; a failing revision is rolled
 * back; a login without lingering, or none at all, is refused before any
 * write; removal stops it and removes its files; plan, status and explain
 * name the unit `<login>:<unit>` with its scope.
 *
 * @module
 */
import assert from "node:assert/strict";
import { encryptArmored, newIdentity } from "../../helpers/age.ts";
import { TEST_IMAGE } from "../lib/rootfs.ts";
import type { Files, Login, Scenario, ScenarioContext } from "../lib/scenario.ts";
import { container } from "./fixtures.ts";
import { FILE_URL, installAgent, publish, REMOTE, runService } from "./agent.ts";
import { exposure } from "./units.ts";

const IDENTITY = "/etc/core-ops/age.key";
const QUADLETS = "/etc/containers/systemd";
const USER_DROPIN = "/etc/systemd/system/core-ops.service.d/user-services.conf";
/**
 * Highest `systemd-analyze security` exposure of core-ops.service with the
 * user-services drop-in (the shipped unit alone: 2.0, units.ts).
 */
const USER_SERVICES_EXPOSURE = 2.5;
const CHECKOUT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");

/** A rootless container that says hello in its journal, then waits for SIGTERM. */
function appContainer(exec = "echo app-started; trap 'exit 0' TERM; while :; do sleep 1; done") {
  return `[Unit]
Description=e2e rootless app

[Container]
Image=${TEST_IMAGE}
ContainerName=app
Exec=/bin/sh -c "${exec}"
Volume=/etc/app/app.conf:/app.conf:ro
Volume=/etc/app/token:/token:ro

[Install]
WantedBy=default.target
`;
}

/** `app` as `login`'s service (its token an age-encrypted secret), `web` as a system service. */
function revision(
  login: string,
  greeting: string,
  token: string,
  opts: { failing?: boolean } = {},
): Files {
  return {
    "services/app/service.yaml": `user: ${login}\n`,
    "services/app/quadlet/app.container": appContainer(
      opts.failing ? "echo app-failing; exit 3" : undefined,
    ),
    "services/app/config/app.conf": `greeting=${greeting}\n`,
    // A secret: decrypted on the host into a file of the login's, 0600.
    "services/app/secrets/token.age": token,
    "services/web/quadlet/web.container": container("ContainerName=web\n"),
  };
}

async function runLog(t: ScenarioContext): Promise<string> {
  return (await t.exec(["journalctl", "-u", "core-ops.service", "--no-pager", "-n", "60"])).stdout;
}

/** The agent with the user-services drop-in, tracking the shared remote; its identity too. */
async function installUserAgent(t: ScenarioContext): Promise<void> {
  await t.ok(["git", "init", "-q", "--bare", "-b", "main", REMOTE]);
  await installAgent(t, FILE_URL, { "verify-timeout": 60, "age-identity": IDENTITY });
  await t.writeFile(
    USER_DROPIN,
    await Deno.readTextFile(`${CHECKOUT}/systemd/core-ops.service.d/user-services.conf`),
  );
  await t.ok(["systemctl", "daemon-reload"]);
}

/** `plan --json` of the remote's main, as an operator on the host asks it. */
const PLAN_JSON = ["plan", "--json", "--repo", FILE_URL, "--rev", "main"];

/** One run of the shipped core-ops.service; its exit code. */
async function serviceRun(t: ScenarioContext): Promise<number> {
  return (await runService(t)).code;
}

/** What the login's container sees at `path`. */
async function inApp(t: ScenarioContext, login: Login, path: string): Promise<string> {
  const r = await t.asLogin(login, ["podman", "exec", "app", "cat", path]);
  assert.equal(r.code, 0, `podman exec app cat ${path}: ${r.stderr}`);
  return r.stdout;
}

/** The uid a process runs as (the first field of `Uid:` in /proc/<pid>/status). */
async function uidOf(t: ScenarioContext, pid: string): Promise<number> {
  const status = await t.readFile(`/proc/${pid}/status`);
  const match = status.match(/^Uid:\s+(\d+)/m);
  assert.ok(match, status);
  return Number(match[1]);
}

export const userScenarios: Scenario[] = [
  {
    name:
      "users: a rootless service beside a system one, by the hardened service; config change, rollback, refusals, removal; scope in plan/status/explain",
    timeoutMs: 9 * 60_000,
    async run(t) {
      const alice = await t.createLogin("alice", { linger: true });
      const bob = await t.createLogin("bob", { linger: false });
      await t.importTestImage(alice);
      const host = await newIdentity();
      await t.writeFile(IDENTITY, { content: `${host.identity}\n`, mode: 0o400 });
      const token = await encryptArmored("token-of-app\n", host.recipient);
      await installUserAgent(t);
      const userDir = `${QUADLETS}/users/${alice.uid}`;

      // The drop-in's grants, measured: what a host with user services pays (README).
      const withUsers = await exposure(t, "core-ops.service");
      assert.ok(withUsers <= USER_SERVICES_EXPOSURE, `exposure ${withUsers} with the drop-in`);

      // First run: both services converge in one run of the sandboxed agent.
      await publish(t, revision("alice", "a", token), {
        replace: true,
        message: "app as alice, web as root",
      });
      assert.equal(await serviceRun(t), 0, await runLog(t));
      const app = await t.userUnit(alice, "app.service", [
        "ActiveState",
        "MainPID",
        "InvocationID",
      ]);
      assert.equal(app.ActiveState, "active");
      assert.equal(await uidOf(t, app.MainPID), alice.uid, "the app's main process is not alice's");
      assert.equal((await t.unit("web.service", ["ActiveState"])).ActiveState, "active");
      assert.equal(await inApp(t, alice, "/app.conf"), "greeting=a\n");
      assert.equal(await inApp(t, alice, "/token"), "token-of-app\n", "the secret, decrypted");
      assert.equal(
        (await t.ok(["stat", "-c", "%a %U", `${userDir}/app.container`])).stdout.trim(),
        "644 root",
        "the login's quadlet is root's: the login cannot change what Git says",
      );
      assert.equal(
        (await t.ok(["stat", "-c", "%a %U", "/etc/app/token"])).stdout.trim(),
        "600 alice",
      );
      assert.equal(
        (await t.ok(["stat", "-c", "%a %U", "/etc/app/app.conf"])).stdout.trim(),
        "644 root",
      );

      // plan, status and explain: `alice:app.service`, scope with the uid.
      const plan = await t.coreOpsJson(PLAN_JSON);
      const artifacts = plan.artifacts as { unit: string | null; scope: unknown; kind: string }[];
      const quadlet = artifacts.find((a) =>
        a.unit === "alice:app.service" && a.kind === "container"
      );
      assert.deepEqual(quadlet?.scope, { user: "alice", uid: alice.uid });
      assert.equal(artifacts.find((a) => a.unit === "web.service")?.scope, "system");
      assert.deepEqual(plan.actions, [], "a converged host plans nothing");
      const status = await t.coreOpsJson(["status", "--json"]);
      const units = status.units as Record<string, { active: string; scope: unknown }>;
      assert.equal(units["alice:app.service"]?.active, "active");
      assert.deepEqual(units["alice:app.service"]?.scope, { user: "alice", uid: alice.uid });
      assert.equal(units["web.service"]?.scope, "system");
      const explain = await t.coreOps(["explain", "alice:app.service"]);
      assert.equal(explain.code, 0, explain.stderr);
      assert.match(explain.stdout, /live: alice:app\.service active \(running\)/);
      assert.match(explain.stdout, /app-started/, "the user unit's own journal lines");
      assert.match(explain.stdout, /Started app\.service/, "its manager's lines about it");

      // A config change restarts only the user unit that mounts it.
      const web = (await t.unit("web.service", ["InvocationID"])).InvocationID;
      await publish(t, revision("alice", "b", token), { replace: true, message: "greeting b" });
      assert.equal(await serviceRun(t), 0, await runLog(t));
      const restarted = await t.userUnit(alice, "app.service", ["ActiveState", "InvocationID"]);
      assert.equal(restarted.ActiveState, "active");
      assert.notEqual(restarted.InvocationID, app.InvocationID, "app was not restarted");
      assert.equal(
        (await t.unit("web.service", ["InvocationID"])).InvocationID,
        web,
        "web restarted",
      );
      assert.equal(await inApp(t, alice, "/app.conf"), "greeting=b\n");

      // A failing user container: rolled back to b, running again.
      await publish(t, revision("alice", "c", token, { failing: true }), {
        replace: true,
        message: "app fails",
      });
      assert.equal(await serviceRun(t), 1, await runLog(t));
      assert.equal(await t.readFile("/etc/app/app.conf"), "greeting=b\n");
      assert.match(await t.readFile(`${userDir}/app.container`), /app-started/);
      assert.equal((await t.userUnit(alice, "app.service")).ActiveState, "active");
      const failed = await t.coreOpsJson(["status", "--json"]);
      assert.match(JSON.stringify(failed.failure), /alice:app\.service/);

      // A login that does not linger, and one that does not exist: refused before any write.
      for (const login of ["bob", "carol"]) {
        const sha = await publish(t, revision(login, "d", token), {
          replace: true,
          message: `app as ${login}`,
        });
        // plan shows it with a warning, and starts no manager for bob to ask it.
        const preview = await t.coreOps(PLAN_JSON);
        assert.equal(preview.code, 0, preview.stderr);
        assert.match(
          preview.stdout,
          login === "bob" ? /lingering is not enabled for bob/ : /login carol does not exist/,
        );
        const bobManager = await t.exec(["systemctl", "is-active", `user@${bob.uid}.service`]);
        assert.notEqual(bobManager.stdout.trim(), "active", "plan started bob's manager");
        const before = await t.snapshot([QUADLETS, "/etc/app"]);
        assert.equal(await serviceRun(t), 1, await runLog(t));
        assert.equal(await t.snapshot([QUADLETS, "/etc/app"]), before, `${login}: files changed`);
        const refused = await t.coreOpsJson(["status", "--json"]);
        const reason = JSON.stringify(refused.failure);
        assert.match(
          reason,
          login === "bob" ? /lingering is not enabled for bob/ : /login carol .*does not exist/,
        );
        const retry = refused.retry as { revision: string } | null;
        assert.notEqual(retry?.revision, sha, `${login}: a host fault backed the revision off`);
      }
      assert.equal((await t.userUnit(alice, "app.service")).ActiveState, "active");
      assert.equal(await t.exists(`${QUADLETS}/users/${bob.uid}`), false);

      // Removal: stopped in alice's manager, its files gone; web stays.
      await publish(
        t,
        { "services/web/quadlet/web.container": container("ContainerName=web\n") },
        { replace: true, message: "no app" },
      );
      assert.equal(await serviceRun(t), 0, await runLog(t));
      const gone = await t.userUnit(alice, "app.service", ["LoadState", "ActiveState"]);
      assert.notEqual(gone.ActiveState, "active");
      assert.equal(await t.exists(`${userDir}/app.container`), false);
      assert.equal(await t.exists("/etc/app/token"), false);
      assert.equal((await t.unit("web.service", ["ActiveState"])).ActiveState, "active");
    },
  },
];
