/** Batching of unit jobs, rollback planning, and `--diff` rendering: pure parts of apply. */
import assert from "node:assert/strict";
import { batches, type StepResult } from "../../src/apply/execute.ts";
import { planRollback, type Restore } from "../../src/apply/rollback.ts";
import type { Artifact, UnitKind } from "../../src/model.ts";
import { renderDiff } from "../../src/plan/diff.ts";
import type { Action, Op } from "../../src/model.ts";

const KINDS = new Map<string, UnitKind>([
  ["data-volume.service", "volume"],
  ["app-network.service", "network"],
  ["web.service", "container"],
  ["api.service", "container"],
  ["echo.socket", "socket"],
  ["old.service", "container"],
]);

const act = (op: Op, target: string, reason = "new"): Action => ({ op, target, reason });

Deno.test("batches: one job per op and tier; files and the reload stand alone", () => {
  const actions = [
    act("write", "/q/a"),
    act("write", "/q/b"),
    act("reload", "daemon-reload"),
    act("start", "data-volume.service"),
    act("start", "app-network.service"),
    act("start", "web.service"),
    act("start", "api.service"),
    act("restart", "echo.socket"),
  ];
  assert.deepEqual(
    batches(actions, KINDS).map((b) => b.actions.map((a) => `${a.op} ${a.target}`).join(", ")),
    [
      "write /q/a",
      "write /q/b",
      "reload daemon-reload",
      "start data-volume.service, start app-network.service",
      "start web.service, start api.service",
      "restart echo.socket",
    ],
  );
});

const step = (op: Op, target: string, status: StepResult["status"], reason = "x"): StepResult => ({
  order: 0,
  op,
  target,
  reason,
  status,
  message: "",
  durationMs: 0,
});

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("rollback: files back, new units stopped, changed and removed units back up", () => {
  const restores = new Map<string, Restore>([
    ["/q/web.container", {
      path: "/q/web.container",
      content: { content: bytes("old"), mode: 0o644 },
      reload: "daemon-reload",
    }],
    ["/q/api.container", { path: "/q/api.container", content: null, reload: "daemon-reload" }],
    ["/q/old.container", {
      path: "/q/old.container",
      content: { content: bytes("gone"), mode: 0o644 },
      reload: "daemon-reload",
    }],
  ]);
  const plan = planRollback({
    steps: [
      step("stop", "old.service", "ok"),
      step("remove", "/q/old.container", "ok"),
      step("write", "/q/web.container", "ok"),
      step("write", "/q/api.container", "ok"),
      step("reload", "daemon-reload", "ok"),
      step("restart", "web.service", "ok", "web.container changed"),
      step("start", "api.service", "failed", "new"),
      step("start", "echo.socket", "not-run", "new"),
    ],
    restores,
    before: new Map([
      ["web.service", { load: "loaded", active: "active" }],
      ["old.service", { load: "loaded", active: "active" }],
    ]),
    kinds: KINDS,
  });
  assert.deepEqual(plan.actions.map((a) => `${a.op} ${a.target}`), [
    "stop api.service",
    "reset-failed api.service",
    "write /q/old.container",
    "write /q/web.container",
    "remove /q/api.container",
    "reload daemon-reload",
    "reset-failed old.service",
    "reset-failed web.service",
    "restart old.service",
    "restart web.service",
  ]);
  assert.equal(new TextDecoder().decode(plan.contents.get("/q/web.container")!.content), "old");
  assert.deepEqual(plan.verify, ["old.service", "web.service"]);
});

Deno.test("rollback: a failed (atomic) write is not restored; config needs no reload", () => {
  const plan = planRollback({
    steps: [
      step("write", "/etc/web/a.conf", "ok"),
      step("write", "/etc/web/b.conf", "failed"),
    ],
    restores: new Map([
      ["/etc/web/a.conf", {
        path: "/etc/web/a.conf",
        content: { content: bytes("a"), mode: 0o600 },
        reload: null,
      }],
      ["/etc/web/b.conf", { path: "/etc/web/b.conf", content: null, reload: null }],
    ]),
    before: new Map(),
    kinds: KINDS,
  });
  assert.deepEqual(plan.actions.map((a) => `${a.op} ${a.target}`), ["write /etc/web/a.conf"]);
  assert.equal(plan.contents.get("/etc/web/a.conf")?.mode, 0o600);
});

Deno.test("rollback: a unit restarted by the failed run is reset-failed after the reload, then restarted", () => {
  // The failed revision's container crash-looped into its start limit: a bare
  // restart would be refused ("start request repeated too quickly").
  const plan = planRollback({
    steps: [
      step("write", "/q/web.container", "ok"),
      step("reload", "daemon-reload", "ok"),
      step("restart", "web.service", "ok", "web.container changed"),
    ],
    restores: new Map([["/q/web.container", {
      path: "/q/web.container",
      content: { content: bytes("old"), mode: 0o644 },
      reload: "daemon-reload",
    }]]),
    before: new Map([["web.service", { load: "loaded", active: "active" }]]),
    kinds: KINDS,
  });
  assert.deepEqual(plan.actions.map((a) => `${a.op} ${a.target}`), [
    "write /q/web.container",
    "reload daemon-reload",
    "reset-failed web.service",
    "restart web.service",
  ]);
  assert.deepEqual(plan.verify, ["web.service"]);
});

function artifact(destination: string, text: string, mode = 0o644): Artifact {
  return {
    service: "web",
    kind: "config",
    source: `services/web/config/${destination}`,
    destination,
    unit: null,
    sha256: "",
    mode,
    origin: "service",
    content: bytes(text),
  };
}

Deno.test("diff: unified diff of writes and removals; secrets hidden; binary noted", () => {
  const out = renderDiff(
    [
      act("write", "/etc/web/app.conf", "changed"),
      act("write", "/etc/web/new.conf"),
      act("write", "/etc/web/token", "changed"),
      act("write", "/etc/web/blob", "changed"),
      act("remove", "/etc/web/old.conf", "gone"),
      act("restart", "web.service"),
    ],
    [
      artifact("/etc/web/app.conf", "a=1\nb=3\n"),
      artifact("/etc/web/new.conf", "new\n"),
      artifact("/etc/web/token", "s3cret-new\n", 0o600),
      artifact("/etc/web/blob", "\xff"),
    ],
    new Map([
      ["/etc/web/app.conf", { content: bytes("a=1\nb=2\n"), mode: 0o644 }],
      ["/etc/web/token", { content: bytes("s3cret-old\n"), mode: 0o600 }],
      ["/etc/web/blob", { content: new Uint8Array([0xff, 0xfe]), mode: 0o644 }],
      ["/etc/web/old.conf", { content: bytes("bye\n"), mode: 0o644 }],
    ]),
  );
  assert.match(out, /--- a\/etc\/web\/app\.conf\n\+\+\+ b\/etc\/web\/app\.conf\n/);
  assert.match(out, /@@ -1,2 \+1,2 @@\n a=1\n-b=2\n\+b=3\n/);
  assert.match(
    out,
    /--- \/dev\/null\n\+\+\+ b\/etc\/web\/new\.conf\n@@ -0,0 \+1,1 @@\n\+new\n/,
  );
  assert.match(out, /\+\+\+ b\/etc\/web\/token\n\(content hidden: not world-readable\)/);
  assert.doesNotMatch(out, /s3cret/);
  assert.match(out, /\(binary content differs\)/);
  assert.match(
    out,
    /--- a\/etc\/web\/old\.conf\n\+\+\+ \/dev\/null\n@@ -1,1 \+0,0 @@\n-bye\n/,
  );
  assert.doesNotMatch(out, /web\.service/);
});
