/**
 * The planner's dependency order, cycles, native oneshots, StartWithPod=no
 * pod members and template instances (SPEC §2).
 */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { CoreOpsError } from "../../src/errors.ts";
import type { DesiredState } from "../../src/model.ts";
import { isInstanceOf, plan, type PlanInput, templatesOfInterest } from "../../src/plan/planner.ts";
import { type Action, type UnitState } from "../../src/model.ts";
import { withBuiltInNaming } from "../../src/plan/naming.ts";
import { describeUnits } from "../../src/plan/units.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { type Files, manifestOf, memoryTree } from "../helpers/repo.ts";

function desired(files: Files): DesiredState {
  return loadDesiredState(memoryTree(files), { host: null, dirs: DIRS });
}

/** A host converged to `state`, every unit in `active` (default active). */
function converged(
  state: DesiredState,
  active: Record<string, string> = {},
): Omit<PlanInput, "desired"> {
  const files = new Map(
    state.artifacts.map((a) => [a.destination, a.sha256] as [string, string | null]),
  );
  const units = new Map<string, UnitState>();
  for (const a of state.artifacts) {
    if (a.unit) units.set(a.unit, { load: "loaded", active: active[a.unit] ?? "active" });
  }
  return { manifest: manifestOf(state.artifacts), observed: { files, units }, adopt: false };
}

function fresh(state: DesiredState): PlanInput {
  return {
    desired: state,
    manifest: null,
    observed: { files: new Map(), units: null },
    adopt: false,
  };
}

function starts(actions: Action[]): string[] {
  return actions.filter((a) => a.op === "start").map((a) => a.target);
}

function show(actions: Action[]): string[] {
  return actions.map((a) => `${a.op} ${a.target}`);
}

const C = "[Container]\nImage=x\n";
const INSTALL = "[Install]\nWantedBy=multi-user.target\n";

Deno.test("real dependencies beat kind tiers: a .build starts after the network it uses", () => {
  const result = plan(fresh(desired({
    "services/a/quadlet/app.build": "[Build]\nImageTag=app\nNetwork=net.network\n",
    "services/a/quadlet/net.network": "[Network]\n",
    "services/a/quadlet/x.image": "[Image]\nImage=x\n",
    "services/a/quadlet/web.container": C + "Image=app.build\n" + INSTALL,
  })));
  assert.deepEqual(starts(result.actions), [
    "x-image.service", // tier 0, ready at once
    "net-network.service", // before the build that needs it
    "app-build.service",
    "web.service",
  ]);
});

Deno.test("a container that Requires= a native service starts after it; Before= orders too", () => {
  const result = plan(fresh(desired({
    "services/a/quadlet/web.container": "[Unit]\nRequires=db.service\nAfter=db.service\n" + C +
      INSTALL,
    "services/a/systemd/db.service": "[Service]\nExecStart=/bin/sleep infinity\n",
    "services/a/systemd/prep.service":
      "[Unit]\nBefore=data-volume.service\n[Service]\nExecStart=/bin/true\n",
    "services/a/quadlet/data.volume": "[Volume]\n",
  })));
  assert.deepEqual(starts(result.actions), [
    "prep.service",
    "data-volume.service",
    "db.service",
    "web.service",
  ]);
});

Deno.test("Wants= and PartOf= do not order (no false cycles)", () => {
  const result = plan(fresh(desired({
    "services/a/quadlet/a.container": "[Unit]\nAfter=b.container\n" + C + INSTALL,
    "services/a/quadlet/b.container": "[Unit]\nWants=a.container\nPartOf=a.container\n" + C +
      INSTALL,
  })));
  assert.deepEqual(starts(result.actions), ["b.service", "a.service"]);
});

Deno.test("a dependency cycle is refused with 65, naming the units and their files", () => {
  const state = desired({
    "services/a/quadlet/a.container": "[Unit]\nAfter=b.container\n" + C + INSTALL,
    "services/a/quadlet/b.container": C + "Volume=v.volume:/v\n" + INSTALL,
    "services/a/quadlet/v.volume": "[Unit]\nAfter=a.service\n[Volume]\n",
    "services/a/quadlet/ok.container": C + INSTALL,
  });
  assert.throws(() => plan(fresh(state)), (e: unknown) => {
    assert.ok(e instanceof CoreOpsError);
    assert.equal(e.exitCode, 65);
    const [d] = e.diagnostics;
    assert.match(d.message, /dependency cycle: /);
    for (const unit of ["a.service", "b.service", "v-volume.service"]) {
      assert.ok(d.message.includes(unit), d.message);
    }
    assert.doesNotMatch(d.message, /ok\.service/);
    for (const file of ["a.container", "b.container", "v.volume"]) {
      assert.ok(d.hint?.includes(`services/a/quadlet/${file}`), d.hint);
    }
    return true;
  });
});

Deno.test("tear-down is the reverse of the previous revision's bring-up", () => {
  const before = desired({
    "services/a/quadlet/app.build": "[Build]\nImageTag=app\nNetwork=net.network\n",
    "services/a/quadlet/net.network": "[Network]\n",
    "services/a/quadlet/web.container": C + "Image=app.build\n" + INSTALL,
    "services/b/systemd/keep.service": "[Service]\nExecStart=/bin/sleep infinity\n",
  });
  const after = desired({
    "services/b/systemd/keep.service": "[Service]\nExecStart=/bin/sleep infinity\n",
  });
  const result = plan({ desired: after, ...converged(before), previous: before.artifacts });
  assert.deepEqual(result.actions.filter((a) => a.op === "stop").map((a) => a.target), [
    "web.service",
    "app-build.service",
    "net-network.service",
  ]);
  // Without the previous revision: kind tiers in reverse (build before network is wrong, but known).
  const tiers = plan({ desired: after, ...converged(before) });
  assert.deepEqual(tiers.actions.filter((a) => a.op === "stop").map((a) => a.target), [
    "web.service",
    "net-network.service",
    "app-build.service",
  ]);
});

Deno.test("a native oneshot runs when new or changed, never because it is inactive", () => {
  const files: Files = {
    "services/a/systemd/migrate.service": "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    "services/a/systemd/keep.service":
      "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
  };
  const state = desired(files);
  const infos = describeUnits(state.artifacts);
  assert.deepEqual(infos.map((u) => [u.unit, u.oneshot]), [
    ["keep.service", false],
    ["migrate.service", true],
  ]);
  assert.deepEqual(starts(plan(fresh(state)).actions), ["keep.service", "migrate.service"]);
  // After its run it is inactive (Result=success): a second plan does nothing for it.
  const ran = converged(state, { "migrate.service": "inactive", "keep.service": "inactive" });
  assert.deepEqual(show(plan({ desired: state, ...ran }).actions), ["start keep.service"]);
  // Also when it failed: a failed run is the apply's failure, not a reason to run it again.
  const failed = converged(state, { "migrate.service": "failed" });
  assert.deepEqual(plan({ desired: state, ...failed }).actions, []);
  const next = desired({
    ...files,
    "services/a/systemd/migrate.service": "[Service]\nType=oneshot\nExecStart=/bin/echo 2\n",
  });
  assert.deepEqual(show(plan({ desired: next, ...ran }).actions), [
    "write /s/migrate.service",
    "reload daemon-reload",
    "start keep.service",
    "start migrate.service",
  ]);
  assert.equal(
    plan({ desired: next, ...ran }).actions.find((a) => a.target === "migrate.service")?.reason,
    "migrate.service changed",
  );
});

Deno.test("a StartWithPod=no pod member is never started on its own, only restarted while running", () => {
  const files: Files = {
    "services/a/quadlet/p.pod": "[Pod]\n",
    "services/a/quadlet/member.container": C + "Pod=p.pod\n" + INSTALL,
    "services/a/quadlet/manual.container": C + "Pod=p.pod\nStartWithPod=no\n" + INSTALL,
    "services/a/quadlet/solo.container": C + "StartWithPod=no\n" + INSTALL,
  };
  const state = desired(files);
  assert.deepEqual(starts(plan(fresh(state)).actions), [
    "p-pod.service",
    "member.service",
    "solo.service", // StartWithPod= means nothing outside a pod
  ]);
  const idle = converged(state, { "manual.service": "inactive" });
  assert.deepEqual(plan({ desired: state, ...idle }).actions, []);
  const changed = desired({
    ...files,
    "services/a/quadlet/manual.container": C + "Pod=p.pod\nStartWithPod=no\nExec=x\n" + INSTALL,
  });
  assert.deepEqual(show(plan({ desired: changed, ...idle }).actions), [
    "write /q/manual.container",
    "reload daemon-reload",
  ]);
  assert.deepEqual(show(plan({ desired: changed, ...converged(state) }).actions), [
    "write /q/manual.container",
    "reload daemon-reload",
    "restart manual.service",
  ]);
});

Deno.test("instances belong to their template by name", () => {
  assert.ok(isInstanceOf("web@a.service", "web@.service"));
  assert.ok(isInstanceOf("web@b\\x2dc.service", "web@.service"));
  assert.ok(!isInstanceOf("web@.service", "web@.service"));
  assert.ok(!isInstanceOf("web@a.socket", "web@.service"));
  assert.ok(!isInstanceOf("webx@a.service", "web@.service"));
  assert.ok(!isInstanceOf("web.service", "web.service"));
});

Deno.test("a template's changed drop-in restarts its running instances, and only those", () => {
  const files: Files = {
    "services/a/quadlet/web@.container": C + INSTALL,
    "services/a/quadlet/web@.container.d/10.conf": "[Container]\nEnvironment=A=1\n",
    "services/a/systemd/echo@.service": "[Service]\nExecStart=/bin/cat\n",
  };
  const state = desired(files);
  assert.deepEqual(templatesOfInterest(state, null), ["web@.service", "echo@.service"]);
  const host = converged(state);
  host.observed = {
    ...host.observed,
    instances: new Map<string, UnitState>([
      ["web@b.service", { load: "loaded", active: "active" }],
      ["web@a.service", { load: "loaded", active: "active" }],
      ["web@c.service", { load: "loaded", active: "failed" }],
      ["echo@x.service", { load: "loaded", active: "active" }],
    ]),
  };
  assert.deepEqual(plan({ desired: state, ...host }).actions, [], "unchanged: no restarts");
  const next = desired({
    ...files,
    "services/a/quadlet/web@.container.d/10.conf": "[Container]\nEnvironment=A=2\n",
  });
  const result = plan({ desired: next, ...host });
  assert.deepEqual(show(result.actions), [
    "write /q/web@.container.d/10.conf",
    "reload daemon-reload",
    "restart web@a.service",
    "restart web@b.service",
  ]);
  assert.equal(result.actions[2].reason, "drop-in 10.conf changed (instance of web@.service)");
  const native = desired({
    ...files,
    "services/a/systemd/echo@.service": "[Service]\nExecStart=/bin/tac\n",
  });
  assert.deepEqual(show(plan({ desired: native, ...host }).actions).slice(2), [
    "restart echo@x.service",
  ]);
});

Deno.test("a removed template's running instances are stopped and reset before its files go", () => {
  const before = desired({ "services/a/systemd/echo@.service": "[Service]\nExecStart=/bin/cat\n" });
  const after = desired({ "services/b/systemd/other.service": "[Service]\nExecStart=/bin/cat\n" });
  const host = converged(before);
  host.observed = {
    ...host.observed,
    instances: new Map<string, UnitState>([
      ["echo@1.service", { load: "loaded", active: "active" }],
      ["echo@2.service", { load: "loaded", active: "inactive" }],
    ]),
  };
  assert.deepEqual(show(plan({ desired: after, ...host }).actions).slice(0, 3), [
    "stop echo@1.service",
    "reset-failed echo@1.service",
    "remove /s/echo@.service",
  ]);
});

Deno.test("a template quadlet is never started by name, whatever Podman calls its unit", () => {
  // Podman 5.4 names cache@.volume `cache@-volume.service`: to systemd an instance, not a template.
  const state = withBuiltInNaming(
    desired({
      "services/web/quadlet/cache@.volume": "[Volume]\n",
      "services/web/quadlet/app.volume": "[Volume]\n",
    }),
    "podman<5.7",
  );
  assert.deepEqual(
    state.artifacts.map((a) => a.unit),
    ["app-volume.service", "cache@-volume.service"],
  );
  const first = plan({
    desired: state,
    manifest: null,
    observed: { files: new Map(), units: new Map() },
    adopt: false,
  });
  const starts = first.actions.filter((a) => a.op === "start").map((a) => a.target);
  assert.deepEqual(starts, ["app-volume.service"]);
});

Deno.test("a container that binds the whole root does not restart on every config change", () => {
  const files = {
    "services/mon/quadlet/exporter.container":
      "[Container]\nImage=x\nVolume=/:/host:ro,rslave\n[Install]\nWantedBy=a\n",
    "services/web/quadlet/web.container":
      "[Container]\nImage=x\nVolume=/etc/web/app.conf:/app.conf\n[Install]\nWantedBy=a\n",
    "services/web/config/app.conf": "v=1\n",
  };
  const before = desired(files);
  const after = desired({ ...files, "services/web/config/app.conf": "v=2\n" });
  const result = plan({ desired: after, ...converged(before) });
  assert.deepEqual(
    result.actions.filter((a) => a.op === "restart").map((a) => a.target),
    ["web.service"],
  );
});

Deno.test("a template's changed drop-in restarts an instance the repository deploys as its own file", () => {
  const files: Files = {
    "services/a/quadlet/web@.container": C + INSTALL,
    "services/a/quadlet/web@.container.d/10.conf": "[Container]\nEnvironment=A=1\n",
    "services/a/quadlet/web@a.container": C + INSTALL,
    "services/a/quadlet/other.container": C + INSTALL,
  };
  const state = desired(files);
  const host = converged(state);
  assert.deepEqual(plan({ desired: state, ...host }).actions, [], "unchanged: nothing");
  const next = desired({
    ...files,
    "services/a/quadlet/web@.container.d/10.conf": "[Container]\nEnvironment=A=2\n",
  });
  const result = plan({ desired: next, ...host });
  assert.deepEqual(show(result.actions), [
    "write /q/web@.container.d/10.conf",
    "reload daemon-reload",
    "restart web@a.service",
  ]);
  assert.equal(
    result.actions[2].reason,
    "drop-in 10.conf changed (template web@.service)",
  );
});
