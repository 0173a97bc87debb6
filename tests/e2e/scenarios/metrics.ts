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
import { renderMetrics } from "../../../src/report/metrics.ts";
import { METRICS_RUNS as runs } from "../../helpers/metrics.ts";

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
