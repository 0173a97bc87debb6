/**
 * What pause and resume show and record, as tables: who paused, which reasons
 * are taken, the paused tick's audit event, and the status a paused host
 * shows (with its kept generations).
 */
import type { JsonScope } from "../../src/model.ts";
import assert from "node:assert/strict";
import { checkReason, operator, pauseJson } from "../../src/cli/pause.ts";
import { statusJson, statusText } from "../../src/cli/status.ts";
import { CoreOpsError } from "../../src/errors.ts";
import { auditEvent, pausedEvent } from "../../src/report/event.ts";
import { initialState, type RunState } from "../../src/state/store.ts";

Deno.test("operator: the login behind sudo, else the login, else the uid", () => {
  const cases: [Record<string, string>, number | null, string][] = [
    [{ SUDO_USER: "alice", LOGNAME: "root", USER: "root" }, 0, "alice"],
    [{ LOGNAME: "bob", USER: "root" }, 0, "bob"],
    [{ USER: "carol" }, 1000, "carol"],
    [{ SUDO_USER: "  ", USER: "dave" }, 0, "dave"],
    [{}, 0, "uid 0"],
    [{}, null, "unknown"],
  ];
  for (const [env, uid, expected] of cases) {
    assert.equal(operator((n) => env[n], () => uid), expected, JSON.stringify(env));
  }
});

Deno.test("checkReason: one line of plain text up to 500 characters, trimmed", () => {
  const cases: [string | undefined, string | null | RegExp][] = [
    [undefined, null],
    ["incident 42", "incident 42"],
    ["  padded  ", "padded"],
    ["x".repeat(500), "x".repeat(500)],
    ["", /--reason is empty/],
    ["   ", /--reason is empty/],
    ["x".repeat(501), /longer than 500/],
    ["a\nb", /control character/],
    ["tab\there", /control character/],
    ["evil\u202eecaf", /control character/],
  ];
  for (const [reason, expected] of cases) {
    if (expected instanceof RegExp) {
      assert.throws(
        () => checkReason(reason),
        (e: unknown) => e instanceof CoreOpsError && e.exitCode === 64 && expected.test(e.message),
        JSON.stringify(reason),
      );
    } else {
      assert.equal(checkReason(reason), expected, JSON.stringify(reason));
    }
  }
});

const PAUSED: RunState = {
  ...initialState(),
  status: "success",
  generation: 4,
  ref: "main",
  last_applied_revision: "r4",
  last_attempted_revision: "r4",
  paused: {
    reason: "rollback to r3",
    since: "2026-12-06T10:00:00.000Z",
    by: "alice",
    revision: "r3",
  },
};

Deno.test("the paused tick's event: noop with CORE_OPS_PAUSED=1; other events carry no such field", () => {
  const event = pausedEvent(PAUSED, PAUSED.paused!, { runId: "run-1", durationMs: 12 });
  const entry = auditEvent(event);
  assert.equal(entry.fields.CORE_OPS_STATUS, "noop");
  assert.equal(entry.fields.CORE_OPS_PAUSED, "1");
  assert.equal(entry.fields.CORE_OPS_REVISION, "r4");
  assert.equal(entry.fields.CORE_OPS_GENERATION, "4");
  assert.equal(entry.priority, 6);
  assert.equal(
    entry.message,
    "core-ops: paused by alice since 2026-12-06T10:00:00.000Z: rollback to r3; applied nothing " +
      "(core-ops resume returns to tracking main)",
  );
  const running = auditEvent({ ...event, paused: undefined, status: "success" });
  assert.equal("CORE_OPS_PAUSED" in running.fields, false);
});

Deno.test("status: a paused host says so first; kept generations are listed, newest first", () => {
  const report = {
    stateDir: "/var/lib/core-ops",
    state: PAUSED,
    files: 3,
    drift: [],
    units: new Map(),
    nextRun: null,
    scopes: new Map<string, JsonScope>(),
    autoUpdate: new Map<string, string>(),
    generations: [
      { generation: 3, revision: "r3", applied: "2026-12-05T10:00:00.000Z", files: 3 },
      { generation: 4, revision: "r4", applied: "2026-12-06T09:00:00.000Z", files: 3 },
    ],
  };
  const text = statusText(report);
  assert.match(
    text,
    /^PAUSED: {4}paused since 2026-12-06T10:00:00\.000Z by alice \(rollback to r3\) at r3; core-ops resume/,
  );
  assert.match(
    text,
    /^generations \(core-ops rollback --to N\):\n {2}4 {2}r4 {2}2026-12-06T09:00:00\.000Z {2}3 files {2}\(applied\)\n {2}3 {2}r3 /m,
  );
  const doc = JSON.parse(statusJson(report));
  assert.deepEqual(doc.paused, pauseJson(PAUSED.paused));
  assert.deepEqual(doc.generations.map((g: { generation: number }) => g.generation), [3, 4]);
  const running = JSON.parse(statusJson({ ...report, state: { ...PAUSED, paused: null } }));
  assert.equal(running.paused, null);
  assert.doesNotMatch(statusText({ ...report, state: { ...PAUSED, paused: null } }), /PAUSED/);
});
