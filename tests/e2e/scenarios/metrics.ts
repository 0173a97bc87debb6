/**
 * The metrics textfile (SPEC §4) is valid for node_exporter's textfile
 * collector: the real `promtool check metrics` (Debian `prometheus`, which the
 * harness installs on the host) accepts it for a success, a failure and an odd
 * revision label, and refuses a broken file — so the check can fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Scenario } from "../lib/scenario.ts";
import { renderMetrics, type RunMetrics } from "../../../src/state/metrics.ts";

async function promtool(text: string): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, out: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

const runs: RunMetrics[] = [
  {
    finishedAt: 1764115200,
    success: true,
    durationSeconds: 4.2,
    appliedRevision: "0123456789abcdef0123456789abcdef01234567",
    driftFiles: 0,
    actions: { write: 5, reload: 1, start: 3 },
    consecutiveFailures: 0,
  },
  {
    finishedAt: 1764115260.5,
    success: false,
    durationSeconds: 0.01,
    appliedRevision: null,
    driftFiles: 3,
    actions: {},
    consecutiveFailures: 7,
  },
  {
    finishedAt: 1764115320,
    success: true,
    durationSeconds: 0,
    appliedRevision: '(stateless+dirty) "quoted" \\ back\nline',
    driftFiles: 0,
    actions: {},
    consecutiveFailures: 0,
  },
];

/** promtool on the host; no guest needed. */
export const metricsScenarios: Scenario[] = [
  {
    name: "metrics: promtool check metrics accepts the textfile and refuses a broken one",
    guest: false,
    async run() {
      for (const run of runs) {
        const text = renderMetrics(run);
        const result = await promtool(text);
        assert.equal(result.code, 0, `${result.out}\n${text}`);
        assert.equal(result.out.trim(), "", `promtool lint findings:\n${result.out}`);
      }
      const broken = await promtool('# TYPE core_ops_x gauge\ncore_ops_x{op="a} 1\n');
      assert.notEqual(broken.code, 0);
    },
  },
];
