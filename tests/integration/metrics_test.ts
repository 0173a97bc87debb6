/**
 * The metrics textfile: valid per the real `promtool check metrics`, and
 * replaced atomically by the file adapter's write, as the agent will write it.
 */
import assert from "node:assert/strict";
import { realFiles } from "../../src/host/files.ts";
import { renderMetrics, type RunMetrics } from "../../src/state/metrics.ts";

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

Deno.test("promtool check metrics accepts the textfile for success, failure and odd revisions", async () => {
  for (const run of runs) {
    const text = renderMetrics(run);
    const result = await promtool(text);
    assert.equal(result.code, 0, `${result.out}\n${text}`);
    assert.equal(result.out.trim(), "", `promtool lint findings:\n${result.out}`);
  }
  // The check can fail: a broken file is refused.
  const broken = await promtool('# TYPE core_ops_x gauge\ncore_ops_x{op="a} 1\n');
  assert.notEqual(broken.code, 0);
});

Deno.test("the textfile is replaced atomically, 0644, no temp file left behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "core-ops-metrics-" });
  const path = `${dir}/textfile/core-ops.prom`;
  await realFiles.write(path, new TextEncoder().encode(renderMetrics(runs[0])), 0o644);
  assert.equal(await Deno.readTextFile(path), renderMetrics(runs[0]));
  assert.equal(((await Deno.stat(path)).mode! & 0o777).toString(8), "644");
  const inode = (await Deno.stat(path)).ino;
  await realFiles.write(path, new TextEncoder().encode(renderMetrics(runs[1])), 0o644);
  assert.equal(await Deno.readTextFile(path), renderMetrics(runs[1]));
  assert.notEqual((await Deno.stat(path)).ino, inode, "replaced by rename, not rewritten");
  const names = [];
  for await (const entry of Deno.readDir(`${dir}/textfile`)) names.push(entry.name);
  assert.deepEqual(names, ["core-ops.prom"]);
});
