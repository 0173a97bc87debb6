/**
 * The metrics textfile is replaced atomically by the file adapter's write, as
 * the agent writes it. (That `promtool check metrics` accepts it is checked in
 * the e2e suite, whose harness installs promtool: tests/e2e/scenarios/metrics.ts.)
 */
import assert from "node:assert/strict";
import { realFiles } from "../../src/host/files.ts";
import { renderMetrics } from "../../src/report/metrics.ts";
import { METRICS_RUNS } from "../helpers/metrics.ts";

const [success, failure] = METRICS_RUNS;

Deno.test("the textfile is replaced atomically, 0644, no temp file left behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "core-ops-metrics-" });
  const path = `${dir}/textfile/core-ops.prom`;
  await realFiles.write(path, new TextEncoder().encode(renderMetrics(success)), 0o644);
  assert.equal(await Deno.readTextFile(path), renderMetrics(success));
  assert.equal(((await Deno.stat(path)).mode! & 0o777).toString(8), "644");
  const inode = (await Deno.stat(path)).ino;
  await realFiles.write(path, new TextEncoder().encode(renderMetrics(failure)), 0o644);
  assert.equal(await Deno.readTextFile(path), renderMetrics(failure));
  assert.notEqual((await Deno.stat(path)).ino, inode, "replaced by rename, not rewritten");
  const names = [];
  for await (const entry of Deno.readDir(`${dir}/textfile`)) names.push(entry.name);
  assert.deepEqual(names, ["core-ops.prom"]);
  await Deno.remove(dir, { recursive: true });
});
