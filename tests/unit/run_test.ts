/**
 * The run core (src/run/run.ts) against recording fakes: the exact adapter call sequence
 * (one daemon-reload per run that changes unit files, one `systemctl start`
 * per tier, never enable/disable), idempotence, rollback, and the records it
 * leaves in the state dir.
 */
import assert from "node:assert/strict";
import { applyRevision, type ApplyRunContext } from "../../src/run/run.ts";
import { CoreOpsError } from "../../src/errors.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { StateStore } from "../../src/state/store.ts";
import { FakeFiles, fakeGenerator, FakeSystemd } from "../helpers/fakes.ts";
import { committed, DIRS, runContext, STATE } from "../helpers/run_context.ts";
import { type Files, memoryTree } from "../helpers/repo.ts";

const CONTAINER = "[Container]\nImage=localhost/busybox:latest\n" +
  "Volume=data.volume:/data\nVolume=/etc/web/app.conf:/app.conf:ro\nNetwork=app.network\n" +
  "[Install]\nWantedBy=multi-user.target\n";

function repo(extra: Files = {}): Files {
  return {
    "services/web/quadlet/web.container": CONTAINER,
    "services/web/quadlet/data.volume": "[Volume]\n",
    "services/web/quadlet/app.network": "[Network]\n",
    "services/web/config/app.conf": "greeting=hello\n",
    "services/other/quadlet/other.container": "[Container]\nImage=x\n[Install]\nWantedBy=a\n",
    ...extra,
  };
}

interface Host {
  files: FakeFiles;
  systemd: FakeSystemd;
  generator: ReturnType<typeof fakeGenerator>;
}

function host(): Host {
  return { files: new FakeFiles(), systemd: new FakeSystemd(), generator: fakeGenerator() };
}

function context(h: Host, files: Files, revision = "r1"): ApplyRunContext {
  return runContext(h, committed(files, revision));
}

Deno.test("first apply: writes, ONE reload, ONE start per tier, never enable/disable", async () => {
  const h = host();
  const report = await applyRevision(context(h, repo()));
  assert.equal(report.outcome, "success");
  assert.equal(report.exitCode, 0);
  assert.deepEqual(h.systemd.jobs(), [
    // New containers: their images first, before anything is written or started (SPEC §9).
    "pull x --policy=missing (900 s)",
    "pull localhost/busybox:latest --policy=missing (900 s)",
    "daemon-reload",
    "start app-network.service data-volume.service",
    "start other.service web.service",
  ]);
  assert.ok(h.systemd.calls.every((c) => !/^(enable|disable)/.test(c)));
  assert.deepEqual(h.files.calls.sort(), [
    "write /etc/web/app.conf",
    "write /q/app.network",
    "write /q/data.volume",
    "write /q/other.container",
    "write /q/web.container",
  ]);
  assert.equal(h.files.text("/q/web.container"), CONTAINER);
  // Verified in one batched show per poll of every started unit.
  const shows = h.systemd.calls.filter((c) => c.startsWith("show "));
  assert.ok(shows.length >= 1);
  assert.equal(
    shows[0],
    "show app-network.service data-volume.service other.service web.service",
  );
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.status, "success");
  assert.equal(state.generation, 1);
  assert.equal(state.last_applied_revision, "r1");
  assert.equal(state.in_progress, null);
  const manifest = await new StateStore(STATE, h.files).readManifest();
  assert.equal(manifest?.files.length, 5);
});

Deno.test("second and third apply: nothing planned, no write, no reload, no job", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  for (const round of [2, 3]) {
    h.systemd.calls.length = 0;
    h.files.calls.length = 0;
    const report = await applyRevision(context(h, repo()));
    assert.equal(report.outcome, "noop", `round ${round}`);
    assert.deepEqual(h.systemd.jobs(), []);
    assert.deepEqual(h.files.calls, []);
    // Planning asked systemd once, with list-units, not show.
    assert.deepEqual(h.systemd.calls.map((c) => c.split(" ")[0]), ["list-units"]);
  }
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.generation, 1, "a no-op run does not bump the generation");
  assert.equal(state.last_run?.outcome, "noop");
});

Deno.test("a no-change run reuses the generator's verdict from the state dir: no second dry-run", async () => {
  const h = host();
  // A generator that says which binary it is: only then is its verdict kept (dryrun_cache.ts).
  const generator = Object.assign(fakeGenerator(), {
    identity: () => Promise.resolve("quadlet 5.4.2"),
  });
  h.generator = generator;
  await applyRevision(context(h, repo()));
  assert.equal(generator.calls, 1);
  const report = await applyRevision(context(h, repo()));
  assert.equal(report.outcome, "noop");
  assert.equal(generator.calls, 1, "the second run took the kept verdict");
  await applyRevision(context(h, repo({ "services/web/quadlet/more.volume": "[Volume]\n" })));
  assert.equal(generator.calls, 2, "a changed quadlet set is judged again");
});

Deno.test("a changed mounted config restarts only its container, with no reload", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  h.systemd.calls.length = 0;
  const report = await applyRevision(
    context(h, repo({ "services/web/config/app.conf": "greeting=bonjour\n" }), "r2"),
  );
  assert.equal(report.outcome, "success");
  assert.deepEqual(h.systemd.jobs(), ["restart web.service"]);
  const manifest = await new StateStore(STATE, h.files).readManifest();
  const revisions = Object.fromEntries(manifest!.files.map((f) => [f.path, f.revision]));
  assert.equal(revisions["/etc/web/app.conf"], "r2");
  assert.equal(revisions["/q/web.container"], "r1", "unchanged files keep their revision");
});

Deno.test("a unit failing verification rolls back files and restarts the old unit", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  h.systemd.calls.length = 0;
  h.files.calls.length = 0;
  h.systemd.behaviour.set("web.service", "fails");
  const broken = CONTAINER.replace("Image=", "Exec=/bin/false\nImage=");
  const report = await applyRevision(
    context(h, repo({ "services/web/quadlet/web.container": broken }), "r2"),
  );
  assert.equal(report.outcome, "failure");
  assert.equal(report.exitCode, 1);
  assert.equal(report.rollback.status, "failed", "the fake's web.service keeps failing");
  assert.deepEqual(h.files.calls, ["write /q/web.container", "write /q/web.container"]);
  assert.equal(h.files.text("/q/web.container"), CONTAINER, "file back at r1's content");
  assert.deepEqual(h.systemd.jobs(), [
    "daemon-reload",
    "restart web.service",
    "daemon-reload",
    "reset-failed web.service",
    "restart web.service",
  ]);
  assert.deepEqual(report.failure?.units.map((u) => u.unit), ["web.service"]);
  assert.equal(report.failure?.units[0].result, "exit-code");
  assert.deepEqual(report.failure?.units[0].journal, ["web.service: last 10 lines"]);
  const store = new StateStore(STATE, h.files);
  const state = await store.readState();
  assert.equal(state.status, "failed");
  assert.equal(state.last_applied_revision, "r1");
  assert.equal(state.last_attempted_revision, "r2");
  assert.equal(state.consecutive_failures, 1);
  const manifest = await store.readManifest();
  assert.ok(manifest!.files.every((f) => f.revision === "r1"), "manifest stays at r1");
});

Deno.test("rollback of a new unit: stopped, reset, its files removed; old units untouched", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  h.systemd.calls.length = 0;
  h.files.calls.length = 0;
  h.systemd.behaviour.set("new.service", "fails");
  const report = await applyRevision(
    context(
      h,
      repo({
        "services/web/quadlet/new.container": "[Container]\nImage=x\n[Install]\nWantedBy=a\n",
      }),
      "r2",
    ),
  );
  assert.equal(report.outcome, "failure");
  assert.equal(report.rollback.status, "ok");
  assert.deepEqual(h.files.calls, ["write /q/new.container", "remove /q/new.container"]);
  assert.deepEqual(h.systemd.jobs(), [
    "pull x --policy=missing (900 s)",
    "daemon-reload",
    "start new.service",
    "stop new.service",
    "reset-failed new.service",
    "daemon-reload",
  ]);
  // What never ran is not reported as done.
  assert.ok(report.steps.every((s) => s.status !== "not-run" || s.op !== "start"));
});

Deno.test("a failed write stops the run: later steps are not-run, written files rolled back", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  h.files.calls.length = 0;
  h.systemd.calls.length = 0;
  h.files.failWrites.add("/q/web.container");
  const report = await applyRevision(context(
    h,
    repo({
      "services/web/quadlet/app.network": "[Network]\nLabel=x=1\n",
      "services/web/quadlet/web.container": CONTAINER + "# changed\n",
    }),
    "r2",
  ));
  assert.equal(report.outcome, "failure");
  assert.equal(report.failure?.class, "apply");
  const status = Object.fromEntries(report.steps.map((s) => [`${s.op} ${s.target}`, s.status]));
  assert.equal(status["write /q/app.network"], "ok");
  assert.equal(status["write /q/web.container"], "failed");
  assert.equal(status["reload daemon-reload"], "not-run");
  assert.equal(h.files.text("/q/app.network"), "[Network]\n", "restored");
  assert.deepEqual(h.systemd.jobs(), ["daemon-reload"], "rollback reloads once, starts nothing");
});

Deno.test("a crash-looping unit never passes verification", async () => {
  const h = host();
  let now = 1_700_000_000_000;
  h.systemd.behaviour.set("web.service", "crash-loops");
  const ctx: ApplyRunContext = {
    ...context(h, repo()),
    verifySettleMs: 3_000,
    verifyTimeoutMs: 20_000,
    now: () => now,
    sleep: (ms) => {
      now += ms;
      return Promise.resolve();
    },
    pollMs: 250,
  };
  const fake = new FakeSystemd(() => now);
  fake.behaviour.set("web.service", "crash-loops");
  const report = await applyRevision({ ...ctx, systemd: fake });
  assert.equal(report.outcome, "failure");
  const web = report.verification.find((v) => v.unit === "web.service");
  assert.equal(web?.status, "failed");
  assert.match(web!.message, /NRestarts=/);
  for (const other of report.verification.filter((v) => v.unit !== "web.service")) {
    assert.equal(other.status, "ok", other.unit);
  }
});

Deno.test("a unit systemd does not know after reload fails verification", async () => {
  const h = host();
  h.systemd.loadable = (unit) => unit !== "data-volume.service";
  const report = await applyRevision(context(h, repo()));
  assert.equal(report.outcome, "failure");
  const volume = report.verification.find((v) => v.unit === "data-volume.service");
  // Its start failed already, so it was never verified as passing.
  const step = report.steps.find((s) => s.target === "data-volume.service");
  assert.ok(step?.status === "failed" || volume?.status === "failed");
  assert.equal(report.rollback.status, "ok");
  assert.equal(h.files.calls.filter((c) => c.startsWith("remove")).length, 5, "all new files go");
});

Deno.test("a conflict or a generator rejection writes nothing and exits 65", async () => {
  const h = host();
  h.files.put("/q/web.container", "[Container]\nImage=mine\n");
  await assert.rejects(
    applyRevision(context(h, repo())),
    (e: unknown) => e instanceof CoreOpsError && e.exitCode === 65 && /not owned/.test(e.message),
  );
  assert.deepEqual(h.files.calls, []);
  assert.deepEqual(h.systemd.jobs(), []);

  const g = host();
  g.generator = fakeGenerator({
    status: "rejected",
    generator: "fake",
    diagnostics: [{ message: "rejected by the quadlet generator: bad key" }],
  });
  await assert.rejects(
    applyRevision(context(g, repo())),
    (e: unknown) => e instanceof CoreOpsError && e.exitCode === 65,
  );
  assert.deepEqual(g.files.calls, []);
  const state = await new StateStore(STATE, g.files).readState();
  assert.equal(state.status, "failed");
  assert.equal(state.failure?.class, "validation");
  assert.equal(state.last_attempted_revision, "r1");
});

/** Leaves the state a run of `files` at r2 leaves when killed after writing /q/extra.volume. */
async function killedAfterWritingExtra(h: Host, files: Files): Promise<void> {
  const store = new StateStore(STATE, h.files);
  const desired = loadDesiredState(memoryTree(files), { host: null, dirs: DIRS });
  const extra = desired.artifacts.find((a) => a.destination === "/q/extra.volume")!;
  h.files.put("/q/extra.volume", "[Volume]\n");
  await store.writeState({
    ...(await store.readState()),
    status: "in_progress",
    in_progress: {
      run_id: "dead",
      revision: "r2",
      started: new Date().toISOString(),
      pending: [{
        path: extra.destination,
        sha256: extra.sha256,
        service: "web",
        kind: "volume",
        unit: "extra-volume.service",
        revision: "r2",
      }],
    },
  });
}

Deno.test("a run killed mid-way: its files are recognised as owned, not conflicts", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  // A run of r2 wrote a new file and died before committing state.
  const store = new StateStore(STATE, h.files);
  const next = repo({ "services/web/quadlet/extra.volume": "[Volume]\n" });
  await killedAfterWritingExtra(h, next);
  const report = await applyRevision(context(h, next, "r2"));
  assert.equal(report.outcome, "success");
  assert.deepEqual(report.plan.conflicts, []);
  assert.equal((await store.readState()).in_progress, null);
});

Deno.test("removed units are stopped and reset before their files go", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  h.systemd.calls.length = 0;
  h.files.calls.length = 0;
  const without = repo();
  delete without["services/other/quadlet/other.container"];
  const report = await applyRevision(context(h, without, "r2"));
  assert.equal(report.outcome, "success");
  assert.deepEqual(h.systemd.jobs(), [
    "stop other.service",
    "reset-failed other.service",
    "daemon-reload",
  ]);
  assert.deepEqual(h.files.calls, ["remove /q/other.container"]);
});

/**
 * The state a run of `next` (revision r2) leaves when SIGKILLed after it
 * wrote every file and removed what r2 drops, but before any restart, reload
 * or state commit: files on disk as r2 wants, state.json `in_progress`.
 */
async function killedAfterWrites(h: Host, next: Files): Promise<StateStore> {
  const store = new StateStore(STATE, h.files);
  const desired = loadDesiredState(memoryTree(next), { host: null, dirs: DIRS });
  const stored = await store.readManifest();
  const wanted = new Set(desired.artifacts.map((a) => a.destination));
  for (const f of stored?.files ?? []) if (!wanted.has(f.path)) await h.files.remove(f.path);
  for (const a of desired.artifacts) await h.files.write(a.destination, a.content, a.mode);
  const state = await store.readState();
  await store.writeState({
    ...state,
    status: "in_progress",
    in_progress: {
      run_id: "killed",
      revision: "r2",
      started: new Date().toISOString(),
      pending: desired.artifacts.map((a) => ({
        path: a.destination,
        sha256: a.sha256,
        service: a.service,
        kind: a.kind,
        unit: a.unit,
        revision: "r2",
        source: a.source,
      })),
    },
  });
  h.systemd.calls.length = 0;
  h.files.calls.length = 0;
  return store;
}

Deno.test("a run killed after its writes: the next run still reloads and restarts what changed", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  const next = repo({
    "services/web/quadlet/web.container": CONTAINER.replace(
      "[Install]",
      "Environment=R=2\n[Install]",
    ),
  });
  delete next["services/other/quadlet/other.container"];
  await killedAfterWrites(h, next);

  const report = await applyRevision(context(h, next, "r2"));
  assert.equal(report.outcome, "success");
  // Nothing to write (the files are r2's already), but the killed run's reload and
  // restart still happen, and the unit whose file it removed is stopped.
  assert.deepEqual(h.files.calls, []);
  assert.deepEqual(h.systemd.jobs(), [
    "stop other.service",
    "reset-failed other.service",
    "daemon-reload",
    "restart web.service",
  ]);
  // Read as the next process would: a store belongs to one run.
  const store = new StateStore(STATE, h.files);
  const manifest = await store.readManifest();
  assert.deepEqual(
    manifest?.files.map((f) => f.path).sort(),
    ["/etc/web/app.conf", "/q/app.network", "/q/data.volume", "/q/web.container"],
  );
  const state = await store.readState();
  assert.equal(state.in_progress, null);
  assert.equal(state.last_applied_revision, "r2");

  // Converged: the next run plans nothing.
  const again = await applyRevision(context(h, next, "r2"));
  assert.equal(again.outcome, "noop");
  assert.deepEqual(again.plan.drift, []);
});

Deno.test("a run killed after writing everything: the next run owns the files, reloads once more", async () => {
  const h = host();
  const next = repo({ "services/web/quadlet/extra.volume": "[Volume]\n" });
  await applyRevision(context(h, repo()));
  const store = new StateStore(STATE, h.files);
  // The killed run had written the file and started the unit, but never committed state.
  await killedAfterWritingExtra(h, next);
  h.systemd.running("extra-volume.service");
  h.systemd.calls.length = 0;
  const recovered = await applyRevision(context(h, next, "r2"));
  // The state file cannot tell whether the killed run got to its reload: one more is
  // safe. A volume is never restarted, so that is all.
  assert.equal(recovered.outcome, "success");
  assert.deepEqual(h.systemd.jobs(), ["daemon-reload"]);
  const manifest = await store.readManifest();
  assert.ok(manifest!.files.some((f) => f.path === "/q/extra.volume"), "now owned");
  assert.equal((await store.readState()).in_progress, null);
  // Without the recorded ownership this run would call the file a conflict.
  const again = await applyRevision(context(h, next, "r2"));
  assert.equal(again.outcome, "noop");
});

Deno.test("apply --adopt of files that already match is a no-op that records ownership", async () => {
  const h = host();
  const desired = loadDesiredState(memoryTree(repo()), { host: null, dirs: DIRS });
  // The files are there, byte for byte, but no manifest says so (e.g. it was moved aside).
  for (const a of desired.artifacts) await h.files.write(a.destination, a.content, a.mode);
  for (
    const unit of ["web.service", "other.service", "data-volume.service", "app-network.service"]
  ) {
    h.systemd.running(unit);
  }
  h.files.calls.length = 0;
  await assert.rejects(applyRevision(context(h, repo())), CoreOpsError, "unowned files conflict");
  const adopted = await applyRevision({ ...context(h, repo()), adopt: true });
  assert.equal(adopted.outcome, "noop");
  assert.deepEqual(h.files.calls, []);
  const manifest = await new StateStore(STATE, h.files).readManifest();
  assert.equal(manifest?.files.length, desired.artifacts.length);
  // Now owned: a run without --adopt is a no-op, not a conflict, and writes no manifest.
  const before = h.files.text(`${STATE}/manifest.json`);
  assert.equal((await applyRevision(context(h, repo()))).outcome, "noop");
  assert.equal(h.files.text(`${STATE}/manifest.json`), before);
});

Deno.test("a throw from verification's systemctl show after the writes: rolled back and recorded", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  h.files.calls.length = 0;
  const changed = repo({ "services/web/config/app.conf": "greeting=bye\n" });
  // The first show (verification) throws; rollback's own show works again.
  const show = h.systemd.show.bind(h.systemd);
  let shows = 0;
  h.systemd.show = (units, props) => {
    if (shows++ === 0) return Promise.reject(new Error("Failed to connect to bus"));
    return show(units, props);
  };
  const report = await applyRevision(context(h, changed, "r2"));
  assert.equal(report.outcome, "failure");
  assert.equal(report.exitCode, 70, "an internal error keeps its exit code");
  assert.equal(report.rollback.status, "ok");
  assert.equal(h.files.text("/etc/web/app.conf"), "greeting=hello\n", "config back at r1");
  assert.deepEqual(h.files.calls, ["write /etc/web/app.conf", "write /etc/web/app.conf"]);
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.status, "failed");
  assert.equal(state.in_progress, null);
  assert.equal(state.last_applied_revision, "r1");
  assert.match(state.failure!.reason, /Failed to connect to bus/);
  assert.equal(state.last_run?.outcome, "failure");
});

Deno.test("a throw from the state store when recording a success: rolled back and recorded as failed", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  h.files.calls.length = 0;
  const changed = repo({ "services/web/config/app.conf": "greeting=bye\n" });
  const manifestPath = `${STATE}/manifest.json`;
  h.files.failWrites.add(manifestPath);
  const report = await applyRevision(context(h, changed, "r2"));
  assert.equal(report.outcome, "failure");
  assert.equal(report.rollback.status, "ok");
  assert.match(report.failure!.reason, /No space left/);
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.status, "failed", "the failure is recorded (state.json is written)");
  assert.equal(state.last_applied_revision, "r1");
  assert.equal(h.files.text("/etc/web/app.conf"), "greeting=hello\n", "config back at r1");
  h.files.failWrites.delete(manifestPath);
  // The next run picks up from the recorded start and converges.
  const next = await applyRevision(context(h, changed, "r2"));
  assert.equal(next.outcome, "success");
  assert.equal(h.files.text("/etc/web/app.conf"), "greeting=bye\n");
});

Deno.test("no systemd: refused before any write, recorded as a host fault", async () => {
  const h = host();
  h.systemd.available = () => Promise.resolve(false);
  await assert.rejects(
    applyRevision({ ...context(h, repo()), retry: { initialSeconds: 60, maxSeconds: 3600 } }),
    (error: unknown) => error instanceof CoreOpsError && error.blame === "host",
  );
  assert.deepEqual(h.files.calls, []);
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.retry, null, "a host fault never backs the revision off");
  assert.equal(state.last_run?.outcome, "failure");
  assert.equal(state.consecutive_failures, 1);
});

Deno.test("pre-pull: a changed image is pulled before anything changes; a failed pull stops the run there", async () => {
  const h = host();
  await applyRevision(context(h, repo()));
  const web = (image: string, extra = "") =>
    repo({
      "services/web/quadlet/web.container":
        `[Container]\nImage=${image}\nVolume=data.volume:/data\n${extra}[Install]\nWantedBy=a\n`,
    });

  // Same image, other settings: restarted, nothing pulled.
  h.systemd.calls.length = 0;
  let report = await applyRevision(
    context(h, web("localhost/busybox:latest", "Label=a=b\n"), "r2"),
  );
  assert.equal(report.outcome, "success");
  assert.ok(!h.systemd.jobs().some((j) => j.startsWith("pull")), h.systemd.jobs().join("\n"));

  // A new image: pulled (the container's Pull= policy) before the write and the restart.
  h.systemd.calls.length = 0;
  report = await applyRevision(context(h, web("registry.example/app:2", "Pull=newer\n"), "r3"));
  assert.equal(report.outcome, "success");
  assert.deepEqual(h.systemd.jobs(), [
    "pull registry.example/app:2 --policy=newer (900 s)",
    "daemon-reload",
    "restart web.service",
  ]);
  assert.match(report.steps[0].reason, /for web\.service \(image was localhost\/busybox:latest\)/);

  // A pull that fails: nothing written, nothing stopped or started, class apply, image named.
  h.systemd.calls.length = 0;
  h.files.calls.length = 0;
  h.systemd.failingPulls.add("registry.example/app:3");
  report = await applyRevision(context(h, web("registry.example/app:3"), "r4"));
  assert.equal(report.outcome, "failure");
  assert.equal(report.failure?.class, "apply");
  assert.match(report.failure?.reason ?? "", /pull registry\.example\/app:3 failed: .*manifest/);
  assert.deepEqual(h.systemd.jobs(), ["pull registry.example/app:3 --policy=missing (900 s)"]);
  assert.deepEqual(report.failure?.units.map((u) => u.unit), ["registry.example/app:3"]);
  assert.deepEqual(h.files.calls.filter((c) => !c.includes("/state/")), []);
  assert.equal(report.rollback?.status, "ok");

  // Pull=never and a quadlet .image are not pre-pulled.
  h.systemd.calls.length = 0;
  report = await applyRevision(context(h, web("registry.example/app:4", "Pull=never\n"), "r5"));
  assert.ok(!h.systemd.jobs().some((j) => j.startsWith("pull")), h.systemd.jobs().join("\n"));
});
