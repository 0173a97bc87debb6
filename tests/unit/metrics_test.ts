/** The metrics textfile renderer. */
import assert from "node:assert/strict";
import { OPS, renderMetrics, type RunMetrics } from "../../src/report/metrics.ts";

const run: RunMetrics = {
  finishedAt: 1764115200,
  success: false,
  durationSeconds: 12.34567,
  appliedRevision: 'a"b\\c\nd',
  driftFiles: 2,
  actions: { write: 3, restart: 1 },
  consecutiveFailures: 4,
  paused: false,
};

Deno.test("every metric has HELP and TYPE; every op has a sample, zeros included", () => {
  const text = renderMetrics(run);
  const names = [
    "core_ops_last_run_timestamp_seconds",
    "core_ops_last_run_success",
    "core_ops_last_run_duration_seconds",
    "core_ops_applied_revision_info",
    "core_ops_drift_files",
    "core_ops_actions",
    "core_ops_consecutive_failures",
    "core_ops_paused",
  ];
  for (const name of names) {
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, "m"));
    assert.match(text, new RegExp(`^# TYPE ${name} gauge$`, "m"));
  }
  assert.match(text, /^core_ops_last_run_timestamp_seconds 1764115200$/m);
  assert.match(text, /^core_ops_last_run_success 0$/m);
  assert.match(text, /^core_ops_last_run_duration_seconds 12\.346$/m);
  assert.match(text, /^core_ops_applied_revision_info\{revision="a\\"b\\\\c\\nd"\} 1$/m);
  assert.match(text, /^core_ops_drift_files 2$/m);
  assert.match(text, /^core_ops_consecutive_failures 4$/m);
  const actions = text.split("\n").filter((l) => l.startsWith("core_ops_actions{"));
  assert.deepEqual(
    actions,
    OPS.map((op) => {
      const n = op === "write" ? 3 : op === "restart" ? 1 : 0;
      return `core_ops_actions{op="${op}"} ${n}`;
    }),
  );
  assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"));
});

Deno.test("no applied revision yet: the info metric has no sample", () => {
  const text = renderMetrics({ ...run, appliedRevision: null, success: true });
  assert.doesNotMatch(text, /^core_ops_applied_revision_info\{/m);
  assert.match(text, /^core_ops_last_run_success 1$/m);
});

Deno.test("core_ops_paused is 1 while core-ops pause holds the host, 0 otherwise", () => {
  assert.match(renderMetrics(run), /^core_ops_paused 0$/m);
  assert.match(renderMetrics({ ...run, paused: true }), /^core_ops_paused 1$/m);
});
