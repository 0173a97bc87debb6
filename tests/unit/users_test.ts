/**
 * User (rootless) services, SPEC §7: the loader's `user:`, the uid placement,
 * the preconditions before any write, and a whole run through the run core
 * with recording fakes — every systemctl call for a user unit goes to its
 * login's manager, each manager reloads once, private files become the
 * login's.
 */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { byManager } from "../../src/host/systemd.ts";
import { parsePasswd } from "../../src/host/users.ts";
import { artifactOwner } from "../../src/model.ts";
import { planRollback } from "../../src/apply/rollback.ts";
import { stepLine } from "../../src/report/run_text.ts";
import type { DryRunOptions, QuadletGenerator } from "../../src/plan/dryrun.ts";
import { nameUnits } from "../../src/run/naming.ts";
import { applyRevision, type ApplyRunContext, planRevision } from "../../src/run/run.ts";
import { placeUsers, requireUserManagers } from "../../src/run/users.ts";
import { assertRefused, load } from "../helpers/layout.ts";
import { FakeFiles, FakeSystemd, FakeUsers } from "../helpers/fakes.ts";
import { committed, runContext, STATE } from "../helpers/run_context.ts";
import { generationSource } from "../../src/run/generation.ts";
import { StateStore } from "../../src/state/store.ts";
import { type Files, memoryTree } from "../helpers/repo.ts";

const APP = "[Container]\nImage=localhost/busybox:latest\nPull=never\n" +
  "Volume=/etc/app/app.conf:/app.conf:ro\nVolume=cache.volume:/cache\n" +
  "[Install]\nWantedBy=default.target\n";

function repo(extra: Files = {}): Files {
  return {
    "services/app/service.yaml": "user: alice\n",
    "services/app/quadlet/app.container": APP,
    "services/app/quadlet/cache.volume": "[Volume]\n",
    "services/app/config/app.conf": "greeting=hello\n",
    "services/web/quadlet/web.container":
      "[Container]\nImage=localhost/busybox:latest\nPull=never\n[Install]\nWantedBy=multi-user.target\n",
    ...extra,
  };
}

/** `files` loaded as the layout tests load a repository without hosts/. */
function loaded(files: Files) {
  return load(memoryTree(files), { host: null });
}

Deno.test("loader: user: puts a service's units under its login, named <login>:<unit>", () => {
  const desired = loaded(repo());
  const app = desired.artifacts.find((a) => a.source === "services/app/quadlet/app.container")!;
  assert.equal(app.unit, "alice:app.service");
  assert.equal(app.destination, "/q/users/alice/app.container");
  assert.deepEqual(app.user, { login: "alice", uid: null, gid: null });
  const volume = desired.artifacts.find((a) => a.kind === "volume")!;
  assert.equal(volume.unit, "alice:cache-volume.service");
  const conf = desired.artifacts.find((a) => a.kind === "config")!;
  assert.equal(conf.destination, "/etc/app/app.conf", "config stays under the config dir");
  assert.equal(conf.user?.login, "alice");
  const web = desired.artifacts.find((a) => a.unit === "web.service")!;
  assert.equal(web.user, undefined);
  assert.equal(web.destination, "/q/web.container");
});

Deno.test("loader: one unit name in two managers is two units, not a clash", () => {
  const desired = loaded(repo({ "services/web/quadlet/app.container": APP }));
  const units = desired.artifacts.filter((a) => a.kind === "container").map((a) => a.unit).sort();
  assert.deepEqual(units, ["alice:app.service", "app.service", "web.service"]);
});

Deno.test("loader: a native unit in a user service, root and a bad login are refused (65)", () => {
  assertRefused(
    memoryTree(repo({ "services/app/systemd/tick.timer": "[Timer]\n" })),
    "services/app/systemd/tick.timer",
    /native unit tick\.timer in a user service \(user: alice\)/,
    { host: null },
  );
  for (const login of ["root", "Alice", "1abc", "a b"]) {
    assertRefused(
      memoryTree(repo({ "services/app/service.yaml": `user: "${login}"\n` })),
      "services/app/service.yaml:1:7",
      /./,
      { host: null },
    );
  }
});

Deno.test("placement: the uid from the user database; an unknown login is a warning off-host", async () => {
  const placed = await placeUsers(loaded(repo()), "/q", new FakeUsers({ alice: 1001 }));
  const app = placed.artifacts.find((a) => a.unit === "alice:app.service")!;
  assert.equal(app.destination, "/q/users/1001/app.container");
  assert.deepEqual(app.user, { login: "alice", uid: 1001, gid: 1001 });
  // Placing twice (a kept generation is already placed) changes nothing.
  const again = await placeUsers(placed, "/q", new FakeUsers({ alice: 1001 }));
  assert.deepEqual(
    again.artifacts.map((a) => a.destination),
    placed.artifacts.map((a) => a.destination),
  );
  const unknown = await placeUsers(loaded(repo()), "/q", new FakeUsers({}));
  assert.equal(
    unknown.artifacts.find((a) => a.unit === "alice:app.service")!.destination,
    "/q/users/alice/app.container",
  );
  assert.match(unknown.warnings.map((w) => w.message).join("\n"), /login alice does not exist/);
});

Deno.test("preconditions: missing login, no linger, manager not running — each named with its fix", async () => {
  const desired = loaded(repo());
  const systemd = new FakeSystemd();
  const fail = async (users: FakeUsers) => {
    try {
      await requireUserManagers(desired, users, systemd);
    } catch (error) {
      assert.ok(error instanceof CoreOpsError);
      return error;
    }
    assert.fail("expected a refusal");
  };
  const missing = await fail(new FakeUsers({}));
  assert.equal(missing.exitCode, 1);
  assert.equal(missing.blame, "host", "a host fault never backs the revision off");
  assert.match(
    missing.message,
    /login alice \(user: of services\/app\/service\.yaml\) does not exist/,
  );
  const noLinger = await fail(new FakeUsers({ alice: 1001 }, new Set()));
  assert.match(noLinger.message, /lingering is not enabled for alice/);
  assert.match(noLinger.diagnostics[0].hint ?? "", /loginctl enable-linger alice/);
  const stopped = await fail(new FakeUsers({ alice: 1001 }));
  assert.match(stopped.message, /user@1001\.service, the systemd manager of alice, is inactive/);
  systemd.running("user@1001.service");
  await requireUserManagers(desired, new FakeUsers({ alice: 1001 }), systemd);
});

Deno.test("naming: each login's quadlets go through the user generator over users/<uid>", async () => {
  const seen: { dir: string; user: boolean; files: string[] }[] = [];
  const generator: QuadletGenerator = {
    dryRun(quadlets, dir, _extra, how: DryRunOptions = {}) {
      seen.push({ dir, user: how.user ?? false, files: quadlets.map((q) => q.destination) });
      const generated = quadlets.filter((q) => q.kind === "container").map((q) => ({
        unit: q.destination.endsWith("app.container") ? "app.service" : "web.service",
        source: q.destination,
      }));
      return Promise.resolve({ status: "ok", generator: "fake", units: [], generated });
    },
  };
  const placed = await placeUsers(loaded(repo()), "/q", new FakeUsers({ alice: 1001 }));
  const named = await nameUnits(placed, "/q", generator, undefined, [
    { path: "/q/hand.container", content: new Uint8Array() },
    { path: "/q/users/1001/hand.container", content: new Uint8Array() },
    { path: "/q/users/1002/other.container", content: new Uint8Array() },
  ]);
  assert.deepEqual(seen, [
    { dir: "/q", user: false, files: ["/q/web.container"] },
    {
      dir: "/q/users/1001",
      user: true,
      files: ["/q/users/1001/app.container", "/q/users/1001/cache.volume"],
    },
  ]);
  const app = named.desired.artifacts.find((a) => a.kind === "container" && a.user)!;
  assert.equal(app.unit, "alice:app.service", "the user generator's name, qualified");
});

Deno.test("byManager: plan names grouped per manager, PID 1 first, as each manager names them", () => {
  assert.deepEqual(
    [...byManager(["alice:a.service", "b.service", "bob:c.service", "alice:d.service"])],
    [[null, ["b.service"]], ["alice", ["a.service", "d.service"]], ["bob", ["c.service"]]],
  );
  assert.deepEqual([...byManager(["alice:a.service"])], [["alice", ["a.service"]]]);
});

Deno.test("parsePasswd: name, uid, gid and home of each line; malformed lines skipped", () => {
  const parsed = parsePasswd("alice:x:1001:1002:Alice:/home/alice:/bin/sh\nbroken\nbob:x:x:1:::\n");
  assert.deepEqual([...parsed], [["alice", {
    login: "alice",
    uid: 1001,
    gid: 1002,
    home: "/home/alice",
  }]]);
});

Deno.test("owner: a user service's private files are the login's, everything else root's", async () => {
  const tree = memoryTree(repo({ "services/app/config/token": "s3cret\n" }));
  // A file others may not read in the repository (mode 0600 in Git's terms).
  const token = tree.entries.find((e) => e.path === "services/app/config/token")!;
  if (token.type === "file") token.worldReadable = false;
  const desired = await placeUsers(
    load(tree, { host: null }),
    "/q",
    new FakeUsers({ alice: 1001 }),
  );
  const owners = Object.fromEntries(desired.artifacts.map((a) => [a.source, artifactOwner(a)]));
  assert.deepEqual(owners["services/app/config/token"], { uid: 1001, gid: 1001 });
  assert.equal(owners["services/app/config/app.conf"], undefined, "world-readable stays root's");
  assert.equal(owners["services/app/quadlet/app.container"], undefined, "units stay root's");
});

Deno.test("rollback: each manager whose unit files were restored reloads once", () => {
  const rollback = planRollback({
    steps: [
      {
        order: 1,
        op: "write",
        target: "/q/users/1001/app.container",
        reason: "",
        status: "ok",
        message: "",
        durationMs: 0,
      },
      {
        order: 2,
        op: "write",
        target: "/q/web.container",
        reason: "",
        status: "ok",
        message: "",
        durationMs: 0,
      },
    ],
    restores: new Map([
      ["/q/users/1001/app.container", {
        path: "/q/users/1001/app.container",
        content: null,
        reload: "alice:daemon-reload",
      }],
      ["/q/web.container", { path: "/q/web.container", content: null, reload: "daemon-reload" }],
    ]),
    before: null,
    kinds: new Map(),
  });
  assert.deepEqual(
    rollback.actions.filter((a) => a.op === "reload").map((a) => a.target),
    ["alice:daemon-reload", "daemon-reload"].sort(),
  );
});

function context(
  files: Files,
  h: { files: FakeFiles; systemd: FakeSystemd },
  users: FakeUsers,
  revision = "r1",
): ApplyRunContext {
  return runContext(h, committed(files, revision), { users });
}

Deno.test("a run with system and user services: each manager reloads once and starts its own units", async () => {
  const h = { files: new FakeFiles(), systemd: new FakeSystemd() };
  h.systemd.running("user@1001.service");
  const users = new FakeUsers({ alice: 1001 });
  const first = await applyRevision(context(repo(), h, users));
  assert.equal(first.outcome, "success");
  assert.deepEqual(h.systemd.jobs(), [
    "daemon-reload",
    "alice:daemon-reload",
    "start alice:cache-volume.service",
    // One tier, two managers: one call each.
    "start alice:app.service",
    "start web.service",
  ]);
  assert.ok(h.files.text("/q/users/1001/app.container")?.includes("Image=localhost/busybox"));
  assert.deepEqual(
    users.lookups,
    [["alice"]],
    "one lookup per run for placement and preconditions",
  );

  // A config change restarts only the user unit that mounts it.
  h.systemd.calls.length = 0;
  const changed = await applyRevision(
    context(repo({ "services/app/config/app.conf": "greeting=bye\n" }), h, users, "r2"),
  );
  assert.equal(changed.outcome, "success");
  assert.deepEqual(h.systemd.jobs(), ["restart alice:app.service"]);

  // Removal: the user's units stop in its manager, their files go, its manager reloads.
  h.systemd.calls.length = 0;
  const {
    "services/app/service.yaml": _y,
    "services/app/quadlet/app.container": _a,
    "services/app/quadlet/cache.volume": _v,
    "services/app/config/app.conf": _c,
    ...rest
  } = repo();
  const removed = await applyRevision(context(rest, h, users, "r3"));
  assert.equal(removed.outcome, "success");
  assert.deepEqual(h.systemd.jobs(), [
    "stop alice:app.service",
    "stop alice:cache-volume.service",
    "reset-failed alice:app.service",
    "reset-failed alice:cache-volume.service",
    "alice:daemon-reload",
  ]);
  assert.equal(h.files.text("/q/users/1001/app.container"), undefined);
});

Deno.test("a run whose login does not linger is refused before any write, recorded, not backed off", async () => {
  const h = { files: new FakeFiles(), systemd: new FakeSystemd() };
  await assert.rejects(
    applyRevision(context(repo(), h, new FakeUsers({ alice: 1001 }, new Set()))),
    (error: unknown) =>
      error instanceof CoreOpsError && /lingering is not enabled for alice/.test(error.message),
  );
  assert.deepEqual(h.files.calls, [], "nothing written");
  assert.deepEqual(h.systemd.jobs(), []);
});

Deno.test("pulls: a user container's image goes to its login's store, named in the step line", async () => {
  const h = { files: new FakeFiles(), systemd: new FakeSystemd() };
  h.systemd.running("user@1001.service");
  const steps: string[] = [];
  const files = repo({
    "services/app/quadlet/app.container": APP.replace("Pull=never\n", ""),
    "services/web/quadlet/web.container":
      "[Container]\nImage=localhost/busybox:latest\n[Install]\nWantedBy=multi-user.target\n",
  });
  const report = await applyRevision({
    ...context(files, h, new FakeUsers({ alice: 1001 })),
    onStep: (phase, step) => steps.push(stepLine(phase, step)),
  });
  assert.equal(report.outcome, "success");
  const pulls = h.systemd.jobs().filter((j) => j.startsWith("pull "));
  assert.deepEqual(pulls.sort(), [
    "pull localhost/busybox:latest --policy=missing (900 s)",
    "pull localhost/busybox:latest --policy=missing (900 s) as alice",
  ]);
  const plan = report.plan.actions.filter((a) => a.op === "pull");
  assert.deepEqual(plan.map((a) => a.user ?? null).sort(), ["alice", null].sort());
  assert.ok(
    steps.some((l) => l.startsWith("pull localhost/busybox:latest as alice … ok")),
    steps.join(""),
  );
});

Deno.test("rollback to a kept generation brings a removed user service back under its login", async () => {
  const h = { files: new FakeFiles(), systemd: new FakeSystemd() };
  h.systemd.running("user@1001.service");
  const users = new FakeUsers({ alice: 1001 });
  await applyRevision(context(repo(), h, users, "r1"));
  const { "services/app/service.yaml": _y, ...noYaml } = repo();
  const systemOnly = Object.fromEntries(
    Object.entries(noYaml).filter(([path]) => !path.startsWith("services/app/")),
  );
  await applyRevision(context(systemOnly, h, users, "r2"));
  assert.equal(h.files.text("/q/users/1001/app.container"), undefined);

  h.systemd.calls.length = 0;
  const store = new StateStore(STATE, h.files);
  const { resolved } = await generationSource(store, null);
  const report = await applyRevision(runContext(h, { resolved }, { users }));
  assert.equal(report.outcome, "success");
  assert.ok(h.files.text("/q/users/1001/app.container")?.includes("Image=localhost/busybox"));
  assert.deepEqual(h.systemd.jobs(), [
    "alice:daemon-reload",
    "start alice:cache-volume.service",
    "start alice:app.service",
  ]);
});

Deno.test("plan: a login that cannot run its units is a warning, and its manager is never asked", async () => {
  const h = { files: new FakeFiles(), systemd: new FakeSystemd() };
  const users = new FakeUsers({ alice: 1001 }, new Set());
  const planned = await planRevision(context(repo(), h, users));
  const warnings = planned.plan.warnings.map((w) => w.message).join("\n");
  assert.match(warnings, /lingering is not enabled for alice.*states are unknown/);
  assert.ok(
    !h.systemd.calls.some((c) => / alice:/.test(c)),
    `asked alice's manager: ${h.systemd.calls.join("; ")}`,
  );
  assert.ok(planned.plan.actions.some((a) => a.op === "start" && a.target === "alice:app.service"));
  assert.deepEqual(h.files.calls, [], "plan writes nothing");
});
