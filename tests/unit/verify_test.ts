/** Health rules per unit kind, and the settle window of verification (SPEC §2). */
import assert from "node:assert/strict";
import { assess } from "../../src/apply/health.ts";
import { verify } from "../../src/apply/verify.ts";
import type { UnitProperties } from "../../src/host/systemd.ts";
import { parseListUnits, parseShowBlocks, parseTimestamp } from "../../src/host/systemd.ts";
import { FakeSystemd, stamp } from "../helpers/fakes.ts";

const up: UnitProperties = { LoadState: "loaded", ActiveState: "active", SubState: "running" };

Deno.test("health: LoadState=not-found is always a failure, whatever the kind", () => {
  for (const kind of ["container", "volume", "service", "socket"] as const) {
    const h = assess({ LoadState: "not-found", ActiveState: "inactive" }, { kind });
    assert.equal(h.status, "failed", kind);
  }
  const bad = assess({ LoadState: "bad-setting", LoadError: "x" }, { kind: "service" });
  assert.deepEqual(bad, { status: "failed", message: "LoadState=bad-setting: x" });
});

Deno.test("health: containers and services must be active; transitions are progressing", () => {
  assert.deepEqual(assess(up, { kind: "container" }), { status: "healthy", active: true });
  const starting = assess({ ...up, ActiveState: "activating", SubState: "auto-restart" }, {
    kind: "container",
  });
  assert.equal(starting.status, "progressing");
  const exited = assess({ ...up, ActiveState: "inactive", SubState: "dead" }, {
    kind: "container",
  });
  assert.equal(exited.status, "failed");
  const failed = assess(
    { ...up, ActiveState: "failed", SubState: "failed", Result: "exit-code", ExecMainStatus: "1" },
    { kind: "service" },
  );
  assert.deepEqual(failed, {
    status: "failed",
    message: "failed (failed), Result=exit-code, ExecMainStatus=1",
  });
});

Deno.test("health: volumes and networks pass when loaded and not failed", () => {
  const done = { ...up, ActiveState: "inactive", SubState: "dead" };
  assert.equal(assess(done, { kind: "volume" }).status, "healthy");
  assert.equal(assess(up, { kind: "network" }).status, "healthy");
  assert.equal(assess({ ...up, ActiveState: "failed" }, { kind: "image" }).status, "failed");
});

Deno.test("health: a plain oneshot passes inactive with Result=success only", () => {
  const ran = {
    ...up,
    ActiveState: "inactive",
    SubState: "dead",
    Type: "oneshot",
    RemainAfterExit: "no",
    Result: "success",
  };
  assert.deepEqual(assess(ran, { kind: "service" }), { status: "healthy", active: false });
  assert.equal(assess({ ...ran, Result: "exit-code" }, { kind: "service" }).status, "failed");
});

Deno.test("health: a socket-activated service passes inactive while its socket is active", () => {
  const idle = { ...up, ActiveState: "inactive", SubState: "dead" };
  const trigger = { unit: "echo.socket", props: up };
  assert.equal(assess(idle, { kind: "service", trigger }).status, "healthy");
  const down = { unit: "echo.socket", props: { ...up, ActiveState: "failed" } };
  assert.equal(assess(idle, { kind: "service", trigger: down }).status, "failed");
});

function clock(start = 1_800_000_000_000) {
  let now = start;
  return {
    now: () => now,
    sleep: (ms: number) => {
      now += ms;
      return Promise.resolve();
    },
  };
}

Deno.test("verify: a unit passes only after the settle window from its own activation", async () => {
  const c = clock();
  const systemd = new FakeSystemd(c.now);
  systemd.running("web.service");
  const verdicts = await verify([{ unit: "web.service", kind: "container" }], systemd, {
    timeoutMs: 10_000,
    settleMs: 3_000,
    pollMs: 250,
    ...c,
  });
  assert.equal(verdicts[0].status, "ok");
  const polls = systemd.calls.filter((x) => x.startsWith("show")).length;
  // Active at t=0: polls at 0, 250, …, 3000 ms.
  assert.equal(polls, 13);
});

Deno.test("verify: a unit active for longer than the window passes at the first poll", async () => {
  const c = clock();
  const systemd = new FakeSystemd(c.now);
  systemd.running("web.service");
  systemd.units.get("web.service")!.ActiveEnterTimestamp = stamp(c.now() - 10_000);
  const verdicts = await verify([{ unit: "web.service", kind: "container" }], systemd, {
    timeoutMs: 10_000,
    settleMs: 3_000,
    ...c,
  });
  assert.equal(verdicts[0].status, "ok");
  assert.equal(systemd.calls.filter((x) => x.startsWith("show")).length, 1);
});

Deno.test("verify: NRestarts moving restarts the window; a crash loop fails at the deadline", async () => {
  const c = clock();
  const systemd = new FakeSystemd(c.now);
  systemd.behaviour.set("web.service", "crash-loops");
  systemd.running("web.service");
  const verdicts = await verify([{ unit: "web.service", kind: "container" }], systemd, {
    timeoutMs: 5_000,
    settleMs: 1_000,
    ...c,
  });
  assert.equal(verdicts[0].status, "failed");
  assert.match(
    verdicts[0].message,
    /not settled by the deadline: active \(running\), NRestarts=\d+/,
  );
});

Deno.test("verify: once one unit failed, the rest get one settle window, not the deadline", async () => {
  const c = clock();
  const systemd = new FakeSystemd(c.now);
  systemd.behaviour.set("bad.service", "fails");
  systemd.behaviour.set("slow.service", "crash-loops");
  systemd.running("slow.service");
  await systemd.job("start", ["bad.service"]);
  const started = c.now();
  const verdicts = await verify(
    [{ unit: "bad.service", kind: "service" }, { unit: "slow.service", kind: "service" }],
    systemd,
    { timeoutMs: 60_000, settleMs: 2_000, ...c },
  );
  assert.deepEqual(verdicts.map((v) => v.status), ["failed", "failed"]);
  assert.match(verdicts[1].message, /not settled when the run failed/);
  assert.ok(c.now() - started <= 2_250, `took ${c.now() - started} ms`);
  assert.equal(verdicts[0].result, "exit-code");
});

Deno.test("systemctl output parsers", () => {
  assert.deepEqual(
    [
      ...parseListUnits(
        '[{"unit":"a.service","load":"loaded","active":"active","sub":"running","description":"A"}]',
      ),
    ],
    [["a.service", { load: "loaded", active: "active" }]],
  );
  assert.deepEqual(parseShowBlocks("Id=a\nX=1\n\nId=b\nX=\n"), [{ Id: "a", X: "1" }, {
    Id: "b",
    X: "",
  }]);
  assert.equal(
    parseTimestamp("Thu 2026-11-26 01:02:41.422335 UTC"),
    Date.UTC(2026, 10, 26, 1, 2, 41, 422),
  );
  assert.equal(parseTimestamp(""), null);
  assert.equal(parseTimestamp("n/a"), null);
});

Deno.test("verify: a Notify=healthy container passes once active — its start waited for health", async () => {
  const c = clock();
  const systemd = new FakeSystemd(c.now);
  systemd.running("web.service");
  const verdicts = await verify(
    [{ unit: "web.service", kind: "container", healthChecked: true }],
    systemd,
    { timeoutMs: 10_000, settleMs: 3_000, pollMs: 250, ...c },
  );
  assert.equal(verdicts[0].status, "ok");
  assert.equal(systemd.calls.filter((x) => x.startsWith("show")).length, 1);
});
