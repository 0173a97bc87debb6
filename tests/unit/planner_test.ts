/** The planner (SPEC §2): ordering, restart-what-changed, ownership, drift, idempotence. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import type { DesiredState } from "../../src/model.ts";
import { plan, type PlanInput } from "../../src/plan/planner.ts";
import { type Action, type UnitState } from "../../src/model.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import type { OwnershipManifest } from "../../src/state/manifest.ts";
import { baseRepo, type Files, manifestOf, memoryTree, sha256 } from "../helpers/repo.ts";

function desired(files: Files, host: string | null = "h1"): DesiredState {
  return loadDesiredState(memoryTree(files), { host, dirs: DIRS });
}

/** A host converged to `state`: manifest, files and active units all match. */
function converged(state: DesiredState): Omit<PlanInput, "desired"> {
  const manifest: OwnershipManifest = manifestOf(state.artifacts);
  const files = new Map(
    state.artifacts.map((a) => [a.destination, a.sha256] as [string, string | null]),
  );
  const units = new Map<string, UnitState>();
  for (const a of state.artifacts) {
    if (a.unit) units.set(a.unit, { load: "loaded", active: "active" });
  }
  return { manifest, observed: { files, units }, adopt: false };
}

function show(actions: Action[]): string[] {
  return actions.map((a) => `${a.op} ${a.target}`);
}

function changed(files: Files, path: string, content: string): Files {
  return { ...files, [path]: content };
}

Deno.test("first run on an empty host: writes, one reload, starts in bring-up order", () => {
  const state = desired(baseRepo());
  const result = plan({
    desired: state,
    manifest: null,
    observed: { files: new Map(), units: null },
    adopt: false,
  });
  assert.deepEqual(show(result.actions), [
    "write /q/app.network",
    "write /q/data.volume",
    "write /q/web.container",
    "write /q/web.container.d/10-mem.conf",
    "write /etc/web/app.conf",
    "write /etc/web/unrelated.txt",
    "write /s/echo.socket",
    "write /s/echo@.service",
    "reload daemon-reload",
    "start app-network.service",
    "start data-volume.service",
    "start web.service",
    "start echo.socket",
  ]);
  assert.ok(result.actions.filter((a) => a.op === "write").every((a) => a.reason === "new"));
});

Deno.test("bring-up order: image/build, volume/network, pod, container/kube, native units", () => {
  const files: Files = {
    "services/a/systemd/z.service": "[Service]\nExecStart=/bin/true\n",
    "services/a/quadlet/a.container":
      "[Container]\nImage=i.image\nPod=p.pod\n[Install]\nWantedBy=x\n",
    "services/a/quadlet/k.kube": "[Kube]\nYaml=/etc/a/k.yaml\n",
    "services/a/quadlet/p.pod": "[Pod]\n",
    "services/a/quadlet/n.network": "[Network]\n",
    "services/a/quadlet/v.volume": "[Volume]\n",
    "services/a/quadlet/i.image": "[Image]\nImage=x\n",
    "services/a/quadlet/b.build": "[Build]\nImageTag=x\n",
  };
  const result = plan({
    desired: desired(files, null),
    manifest: null,
    observed: { files: new Map(), units: null },
    adopt: false,
  });
  assert.deepEqual(show(result.actions.filter((a) => a.op === "start")), [
    "start b-build.service",
    "start i-image.service",
    "start n-network.service",
    "start v-volume.service",
    "start p-pod.service",
    "start a.service",
    "start k.service",
    "start z.service",
  ]);
});

Deno.test("within a tier, a container starts after the containers it requires", () => {
  const files: Files = {
    "services/a/quadlet/app.container":
      "[Unit]\nRequires=db.container\nAfter=db.container\n[Container]\nImage=x\n[Install]\nWantedBy=x\n",
    "services/a/quadlet/db.container":
      "[Unit]\nAfter=cache.service\n[Container]\nImage=x\n[Install]\nWantedBy=x\n",
    "services/a/quadlet/cache.container": "[Container]\nImage=x\n[Install]\nWantedBy=x\n",
  };
  const result = plan({
    desired: desired(files, null),
    manifest: null,
    observed: { files: new Map(), units: null },
    adopt: false,
  });
  assert.deepEqual(show(result.actions.filter((a) => a.op === "start")), [
    "start cache.service",
    "start db.service",
    "start app.service",
  ]);
});

Deno.test("a converged host plans zero actions", () => {
  const state = desired(baseRepo());
  const result = plan({ desired: state, ...converged(state) });
  assert.deepEqual(result.actions, []);
  assert.deepEqual(result.drift, []);
  assert.deepEqual(result.conflicts, []);
});

Deno.test("a changed drop-in restarts only its unit, after one reload", () => {
  const before = desired(baseRepo());
  const after = desired(
    changed(
      baseRepo(),
      "services/web/quadlet/web.container.d/10-mem.conf",
      "[Container]\nPodmanArgs=--memory=128m\n",
    ),
  );
  const result = plan({ desired: after, ...converged(before) });
  assert.deepEqual(show(result.actions), [
    "write /q/web.container.d/10-mem.conf",
    "reload daemon-reload",
    "restart web.service",
  ]);
  assert.equal(result.actions[2].reason, "drop-in 10-mem.conf changed");
});

Deno.test("a changed mounted config file restarts the container, with no reload", () => {
  const before = desired(baseRepo());
  const after = desired(changed(baseRepo(), "services/web/config/app.conf", "greeting=bye\n"));
  const result = plan({ desired: after, ...converged(before) });
  assert.deepEqual(show(result.actions), ["write /etc/web/app.conf", "restart web.service"]);
  assert.equal(result.actions[1].reason, "config /etc/web/app.conf changed");
});

Deno.test("a config file under a mounted directory restarts the container", () => {
  const base = changed(
    baseRepo(),
    "services/web/quadlet/web.container",
    "[Container]\nImage=x\nVolume=/etc/web/conf.d:/c:ro\n[Install]\nWantedBy=x\n",
  );
  base["services/web/config/conf.d/site.conf"] = "a";
  const result = plan({
    desired: desired(changed(base, "services/web/config/conf.d/site.conf", "b")),
    ...converged(desired(base)),
  });
  assert.deepEqual(show(result.actions), [
    "write /etc/web/conf.d/site.conf",
    "restart web.service",
  ]);
});

Deno.test("an unrelated config change restarts nothing", () => {
  const before = desired(baseRepo());
  const after = desired(
    changed(baseRepo(), "services/web/config/unrelated.txt", "still not mounted\n"),
  );
  const result = plan({ desired: after, ...converged(before) });
  assert.deepEqual(show(result.actions), ["write /etc/web/unrelated.txt"]);
});

Deno.test("a changed volume is never restarted, and the plan says so", () => {
  const before = desired(baseRepo());
  const after = desired(
    changed(baseRepo(), "services/web/quadlet/data.volume", "[Volume]\nLabel=a=b\n"),
  );
  const result = plan({ desired: after, ...converged(before) });
  assert.deepEqual(show(result.actions), ["write /q/data.volume", "reload daemon-reload"]);
  assert.ok(result.warnings.some((w) => /never restarts volumes/.test(w.message)));
});

Deno.test("a changed socket-activated service is restarted only when running", () => {
  const before = desired(baseRepo());
  const files = changed(
    baseRepo(),
    "services/echo/systemd/echo.socket",
    "[Socket]\nListenStream=7777\n",
  );
  files["services/echo/systemd/echo.service"] = "[Service]\nExecStart=/bin/cat\n";
  delete files["services/echo/systemd/echo@.service"];
  const mid = desired(files);
  const next = desired(
    changed(files, "services/echo/systemd/echo.service", "[Service]\nExecStart=/bin/echo\n"),
  );
  const idle = converged(mid);
  (idle.observed.units as Map<string, UnitState>).set("echo.service", {
    load: "loaded",
    active: "inactive",
  });
  assert.deepEqual(show(plan({ desired: next, ...idle }).actions), [
    "write /s/echo.service",
    "reload daemon-reload",
  ]);
  assert.deepEqual(show(plan({ desired: next, ...converged(mid) }).actions), [
    "write /s/echo.service",
    "reload daemon-reload",
    "restart echo.service",
  ]);
  // A new triggered service is not started by name: its socket is.
  const fresh = plan({ desired: mid, ...converged(before) });
  assert.ok(!show(fresh.actions).includes("start echo.service"));
});

Deno.test("removed units are stopped and reset-failed before their files go; reverse order", () => {
  const before = desired(baseRepo());
  const files = baseRepo();
  for (const k of Object.keys(files)) if (k.startsWith("services/web/quadlet/")) delete files[k];
  const result = plan({ desired: desired(files), ...converged(before) });
  assert.deepEqual(show(result.actions), [
    "stop web.service",
    "stop app-network.service",
    "stop data-volume.service",
    "reset-failed web.service",
    "reset-failed app-network.service",
    "reset-failed data-volume.service",
    "remove /q/app.network",
    "remove /q/data.volume",
    "remove /q/web.container",
    "remove /q/web.container.d/10-mem.conf",
    "reload daemon-reload",
  ]);
});

Deno.test("a removed drop-in restarts its unit; a removed mounted config restarts the container", () => {
  const before = desired(baseRepo());
  const files = baseRepo();
  delete files["services/web/quadlet/web.container.d/10-mem.conf"];
  delete files["services/web/config/app.conf"];
  const result = plan({ desired: desired(files), ...converged(before) });
  assert.deepEqual(show(result.actions), [
    "remove /q/web.container.d/10-mem.conf",
    "remove /etc/web/app.conf",
    "reload daemon-reload",
    "restart web.service",
  ]);
  assert.equal(
    result.actions[3].reason,
    "drop-in 10-mem.conf removed; config /etc/web/app.conf removed",
  );
});

Deno.test("an owned file changed by hand is drift: reported and overwritten", () => {
  const state = desired(baseRepo());
  const host = converged(state);
  (host.observed.files as Map<string, string | null>).set("/q/web.container", sha256("edited"));
  (host.observed.files as Map<string, string | null>).set("/etc/web/unrelated.txt", null);
  const result = plan({ desired: state, ...host });
  assert.deepEqual(result.drift.map((d) => [d.path, d.actual]), [
    ["/q/web.container", sha256("edited")],
    ["/etc/web/unrelated.txt", null],
  ]);
  assert.deepEqual(result.actions.map((a) => `${a.op} ${a.target} ${a.reason}`), [
    "write /q/web.container drift",
    "write /etc/web/unrelated.txt missing",
    "reload daemon-reload unit files changed",
    "restart web.service web.container changed",
  ]);
});

Deno.test("an unowned file at a destination is a conflict unless adopted", () => {
  const state = desired(baseRepo());
  const files = new Map<string, string | null>([["/q/web.container", sha256("hand-placed")]]);
  const conflict = plan({
    desired: state,
    manifest: null,
    observed: { files, units: null },
    adopt: false,
  });
  assert.deepEqual(conflict.conflicts, [{
    path: "/q/web.container",
    source: "services/web/quadlet/web.container",
  }]);
  assert.deepEqual(conflict.actions, []);
  const adopted = plan({
    desired: state,
    manifest: null,
    observed: { files, units: null },
    adopt: true,
  });
  assert.deepEqual(adopted.conflicts, []);
  assert.equal(adopted.actions.find((a) => a.target === "/q/web.container")?.reason, "adopt");
});

Deno.test("adopt = matching (agent.toml): takes over files that match, differing ones stay conflicts", () => {
  const state = desired(baseRepo());
  const web = state.artifacts.find((a) => a.destination === "/q/web.container")!;
  const cases: [string, string | null, string[], string[]][] = [
    // [what is on disk, digest, conflicts, writes of web.container]
    ["the same bytes", web.sha256, [], []],
    ["other bytes", sha256("hand-placed"), ["/q/web.container"], []],
    ["nothing", null, [], ["new"]],
  ];
  for (const [what, digest, conflicts, writes] of cases) {
    const files = new Map<string, string | null>(
      state.artifacts.map((a) => [a.destination, a.sha256]),
    );
    files.set("/q/web.container", digest);
    const planned = plan({
      desired: state,
      manifest: null,
      observed: { files, units: null },
      adopt: "matching",
    });
    assert.deepEqual(planned.conflicts.map((c) => c.path), conflicts, what);
    assert.ok(planned.conflicts.every((c) => c.differs === true), what);
    assert.deepEqual(
      planned.actions.filter((a) => a.target === "/q/web.container").map((a) => a.reason),
      writes,
      what,
    );
  }
  // Matching files placed without a daemon-reload: systemd does not know their units yet.
  const files = new Map<string, string | null>(
    state.artifacts.map((a) => [a.destination, a.sha256]),
  );
  const unloaded = new Map(
    state.artifacts.flatMap((a) =>
      a.unit === null ? [] : [[a.unit, { load: "not-found", active: "inactive" }] as const]
    ),
  );
  const taken = plan({
    desired: state,
    manifest: null,
    observed: { files, units: unloaded },
    adopt: "matching",
  });
  assert.deepEqual(taken.actions.filter((a) => a.op === "write"), []);
  assert.deepEqual(taken.actions.filter((a) => a.op === "reload").map((a) => a.reason), [
    "adopted unit files systemd has not loaded",
  ]);
  assert.ok(taken.actions.some((a) => a.op === "start" && a.target === "web.service"));
  // Loaded already (the other tool reloaded): no reload.
  const loaded = new Map([...unloaded].map(([u]) => [u, { load: "loaded", active: "active" }]));
  assert.deepEqual(
    plan({ desired: state, manifest: null, observed: { files, units: loaded }, adopt: "matching" })
      .actions,
    [],
  );
});

Deno.test("files core-ops does not own and never deployed are not touched", () => {
  const state = desired(baseRepo());
  const host = converged(state);
  (host.observed.files as Map<string, string | null>).set("/q/hand.container", sha256("mine"));
  assert.deepEqual(plan({ desired: state, ...host }).actions, []);
});

Deno.test("with unit states known, an inactive unchanged unit is started", () => {
  const state = desired(baseRepo());
  const host = converged(state);
  (host.observed.units as Map<string, UnitState>).set("web.service", {
    load: "loaded",
    active: "failed",
  });
  assert.deepEqual(plan({ desired: state, ...host }).actions, [
    { op: "start", target: "web.service", reason: "not active (failed)" },
  ]);
});

Deno.test("a container without [Install] is warned about", () => {
  const files = changed(baseRepo(), "services/web/quadlet/web.container", "[Container]\nImage=x\n");
  const result = plan({
    desired: desired(files),
    manifest: null,
    observed: { files: new Map(), units: null },
    adopt: false,
  });
  assert.ok(
    result.warnings.some((w) =>
      w.file === "services/web/quadlet/web.container" && /no \[Install\]/.test(w.message)
    ),
  );
});

Deno.test("the plan is the same for the same input", () => {
  const input = (): PlanInput => ({
    desired: desired(baseRepo()),
    manifest: null,
    observed: { files: new Map(), units: null },
    adopt: false,
  });
  assert.deepEqual(plan(input()), plan(input()));
});
