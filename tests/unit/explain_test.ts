/** `explain`: which owned object a name means, and the last run told for people. */
import assert from "node:assert/strict";
import { explainObject, lastText, objectText, resolveTarget } from "../../src/cli/explain.ts";
import type { ManifestEntry } from "../../src/state/manifest.ts";
import { initialState } from "../../src/state/store.ts";

const entry = (
  path: string,
  unit: string | null,
  service = "web",
  source?: string,
): ManifestEntry => ({
  path,
  sha256: "0".repeat(64),
  service,
  kind: unit === null ? "config" : "container",
  unit,
  revision: "r1",
  ...(source === undefined ? {} : { source }),
});

const FILES = [
  entry("/q/web.container", "web.service", "web", "services/web/quadlet/web.container"),
  entry(
    "/q/web.container.d/10.conf",
    "web.service",
    "web",
    "services/web/quadlet/web.container.d/10.conf",
  ),
  entry("/etc/web/app.conf", null, "web", "services/web/config/app.conf"),
  entry("/s/echo.socket", "echo.socket", "echo", "services/echo/systemd/echo.socket"),
  entry("/etc/db/app.conf", null, "db", "services/db/config/app.conf"),
];

Deno.test("explain: a unit, a file (with its unit's files), a service, or nothing", () => {
  assert.deepEqual(resolveTarget("web.service", FILES)?.entries.map((e) => e.path), [
    "/q/web.container",
    "/q/web.container.d/10.conf",
  ]);
  const file = resolveTarget("/q/web.container.d/10.conf", FILES);
  assert.equal(file?.kind, "file");
  assert.equal(file?.entries.length, 2);
  assert.deepEqual(resolveTarget("/etc/web/app.conf", FILES)?.entries.length, 1);
  assert.equal(resolveTarget("web", FILES)?.kind, "service");
  assert.equal(resolveTarget("web", FILES)?.entries.length, 3);
  assert.equal(resolveTarget("nope.service", FILES), null);
  assert.equal(resolveTarget("/etc/passwd", FILES), null);
});

Deno.test("explain last: outcome, summary, failing units with systemd's reason, backoff", () => {
  assert.equal(lastText(initialState()), "no run recorded yet\n");
  const state = {
    ...initialState(),
    status: "failed" as const,
    last_run: {
      id: "run-1",
      outcome: "failure" as const,
      revision: "abc",
      started: "2026-11-26T01:00:00.000Z",
      finished: "2026-11-26T01:00:04.000Z",
      duration_ms: 4000,
      plan_summary: "write=1 restart=1",
      actions: { write: 1, restart: 1 },
      drift: 0,
    },
    failure: {
      class: "verify" as const,
      reason: "web.service: failed",
      units: [{
        unit: "web.service",
        reason: "failed (failed)",
        result: "exit-code",
        exit_status: "1",
        journal: ["line one"],
      }],
      rollback: "ok" as const,
      rollback_error: null,
    },
    retry: { revision: "abc", failures: 2, next_attempt: "2026-11-26T01:02:00.000Z" },
  };
  const text = lastText(state);
  assert.match(
    text,
    /^last run run-1: failure at 2026-11-26T01:00:04.000Z \(4\.0 s\), revision abc$/m,
  );
  assert.match(text, /^plan summary: write=1 restart=1$/m);
  assert.match(
    text,
    /^ {2}web\.service: failed \(failed\) \(Result=exit-code, ExecMainStatus=1\)$/m,
  );
  assert.match(text, /^ {4}\| line one$/m);
  assert.match(text, /rolled back to the last applied revision/);
  assert.match(text, /backoff: abc failed 2 time\(s\); next attempt after 2026-11-26T01:02:00/);
});

Deno.test("explain: what the operator wrote in the repository — a file's path or its name", () => {
  const cases: [string, string | null, string[]][] = [
    // [target, kind, the files explained]
    ["web.container", "source", ["/q/web.container", "/q/web.container.d/10.conf"]],
    [
      "services/web/quadlet/web.container",
      "source",
      ["/q/web.container", "/q/web.container.d/10.conf"],
    ],
    ["10.conf", "source", ["/q/web.container", "/q/web.container.d/10.conf"]],
    ["echo.socket", "unit", ["/s/echo.socket"]],
    ["services/db/config/app.conf", "source", ["/etc/db/app.conf"]],
    // One name, two services: both files are explained.
    ["app.conf", "source", ["/etc/web/app.conf", "/etc/db/app.conf"]],
    ["services/web/quadlet/other.container", null, []],
    ["quadlet/web.container", null, []],
  ];
  for (const [target, kind, paths] of cases) {
    const found = resolveTarget(target, FILES);
    assert.equal(found?.kind ?? null, kind, target);
    assert.deepEqual(found?.entries.map((e) => e.path) ?? [], paths, target);
  }
});

Deno.test("explain: no systemd here says so; the unit's recorded failure and journal are shown", async () => {
  const noSystemd = {
    available: () => Promise.resolve(false),
    show: () => Promise.reject(new Error("not asked")),
    journal: () => Promise.reject(new Error("not asked")),
  } as unknown as Parameters<typeof explainObject>[4];
  const state = {
    ...initialState(),
    status: "failed" as const,
    failure: {
      class: "verify" as const,
      reason: "web.service: failed",
      units: [
        {
          unit: "web.service",
          reason: "failed (failed)",
          result: "exit-code",
          exit_status: "3",
          journal: ["web: cannot bind :80"],
        },
        { unit: "db.service", reason: "x", result: null, exit_status: null, journal: [] },
      ],
      rollback: "ok" as const,
      rollback_error: null,
    },
  };
  const e = await explainObject("web.container", state, null, FILES, noSystemd);
  assert.equal(e.live_state, "systemd-unavailable");
  assert.deepEqual(e.last_failure?.units.map((u) => u.unit), ["web.service"]);
  const text = objectText(e);
  assert.match(text, /^live: unknown — systemd cannot be reached here/m);
  assert.match(text, /^last failure \(verify\): web\.service: failed$/m);
  assert.match(
    text,
    /^ {2}web\.service: failed \(failed\) \(Result=exit-code, ExecMainStatus=3\)$/m,
  );
  assert.match(text, /^ {4}\| web: cannot bind :80$/m);

  const config = await explainObject("/etc/web/app.conf", state, null, FILES, noSystemd);
  assert.equal(config.live_state, "no-units");
  assert.equal(config.last_failure, null);
  assert.doesNotMatch(objectText(config), /live: unknown/);

  // A failure that was fixed since is not shown as the unit's last failure.
  const fixed = await explainObject(
    "web.service",
    { ...state, status: "success" },
    null,
    FILES,
    noSystemd,
  );
  assert.equal(fixed.last_failure, null);
});

Deno.test("explain last: a paused host says so first", () => {
  const text = lastText({
    ...initialState(),
    paused: {
      reason: "incident 7",
      since: "2026-12-06T10:00:00.000Z",
      by: "alice",
      revision: "r1",
    },
  });
  assert.match(
    text,
    /^PAUSED: the agent is paused since 2026-12-06T10:00:00\.000Z by alice \(incident 7\) at r1;/,
  );
  assert.match(text, /no run recorded yet/);
});
