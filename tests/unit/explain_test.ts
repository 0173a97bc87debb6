/** `explain`: which owned object a name means, and the last run told for people. */
import assert from "node:assert/strict";
import { lastText, resolveTarget } from "../../src/cli/explain.ts";
import type { ManifestEntry } from "../../src/state/manifest.ts";
import { initialState } from "../../src/state/store.ts";

const entry = (path: string, unit: string | null, service = "web"): ManifestEntry => ({
  path,
  sha256: "0".repeat(64),
  service,
  kind: unit === null ? "config" : "container",
  unit,
  revision: "r1",
});

const FILES = [
  entry("/q/web.container", "web.service"),
  entry("/q/web.container.d/10.conf", "web.service"),
  entry("/etc/web/app.conf", null),
  entry("/s/echo.socket", "echo.socket", "echo"),
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
