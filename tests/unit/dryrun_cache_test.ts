/** The generator's verdict is reused for byte-identical input only, and only when accepted. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { cachedGenerator } from "../../src/run/dryrun_cache.ts";
import type { DryRunResult, QuadletGenerator } from "../../src/plan/dryrun.ts";
import type { Artifact } from "../../src/model.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { FakeFiles } from "../helpers/fakes.ts";
import { memoryTree } from "../helpers/repo.ts";

function quadlets(image: string): Artifact[] {
  return loadDesiredState(
    memoryTree({ "services/web/quadlet/web.container": `[Container]\nImage=${image}\n` }),
    { host: null, dirs: DIRS },
  ).artifacts;
}

class CountingGenerator implements QuadletGenerator {
  runs = 0;
  version = "podman-5.4.2";
  verdict: DryRunResult["status"] = "ok";
  identity() {
    return Promise.resolve(this.version);
  }
  dryRun(): Promise<DryRunResult> {
    this.runs++;
    return Promise.resolve(
      this.verdict === "ok"
        ? {
          status: "ok",
          generator: "/usr/libexec/podman/quadlet",
          units: ["web.service"],
          generated: [{ unit: "web.service", source: "/q/web.container" }],
        }
        : { status: "rejected", generator: "g", diagnostics: [{ message: "bad" }] },
    );
  }
}

Deno.test("dry-run cache: same input and generator → no second run; any change → a run", async () => {
  const files = new FakeFiles();
  const inner = new CountingGenerator();
  const gen = cachedGenerator(inner, "/state", files);
  const first = await gen.dryRun(quadlets("a"), "/q");
  const again = await gen.dryRun(quadlets("a"), "/q");
  assert.equal(inner.runs, 1);
  assert.deepEqual(again, first);
  await gen.dryRun(quadlets("b"), "/q");
  assert.equal(inner.runs, 2, "changed content");
  await gen.dryRun(quadlets("b"), "/q", [{
    path: "/q/mine.container",
    content: new Uint8Array(1),
  }]);
  assert.equal(inner.runs, 3, "a hand-placed quadlet appeared");
  inner.version = "podman-5.7.0";
  await gen.dryRun(quadlets("b"), "/q", [{
    path: "/q/mine.container",
    content: new Uint8Array(1),
  }]);
  assert.equal(inner.runs, 4, "another generator");
});

Deno.test("dry-run cache: a rejection is never kept; a damaged cache file is ignored", async () => {
  const files = new FakeFiles();
  const inner = new CountingGenerator();
  inner.verdict = "rejected";
  const gen = cachedGenerator(inner, "/state", files);
  await gen.dryRun(quadlets("a"), "/q");
  await gen.dryRun(quadlets("a"), "/q");
  assert.equal(inner.runs, 2);
  inner.verdict = "ok";
  files.put("/state/generator-cache.json", "{not json");
  assert.equal((await gen.dryRun(quadlets("a"), "/q")).status, "ok");
  assert.equal(inner.runs, 3);
});

Deno.test("dry-run cache: a generator without an identity is never cached", async () => {
  const files = new FakeFiles();
  let runs = 0;
  const gen = cachedGenerator(
    {
      dryRun: () => {
        runs++;
        return Promise.resolve({ status: "ok", generator: "fake", units: [] });
      },
    },
    "/state",
    files,
  );
  await gen.dryRun(quadlets("a"), "/q");
  await gen.dryRun(quadlets("a"), "/q");
  assert.equal(runs, 2);
  assert.equal(files.files.size, 0);
});
