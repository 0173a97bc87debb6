/**
 * Kept generations and `core-ops rollback` through the run core, against
 * recording fakes: which generation `--to` names (a table), what is kept and
 * pruned (records and objects), and a rollback that re-applies an earlier
 * generation with no source to fetch, verified and recorded like any run.
 */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { generationSource } from "../../src/run/generation.ts";
import { applyRevision, type ApplyRunContext, type RunSource } from "../../src/run/run.ts";
import {
  type GenerationRecord,
  pickGeneration,
  readGenerations,
} from "../../src/state/generations.ts";
import { StateStore } from "../../src/state/store.ts";
import { FakeFiles, fakeGenerator, FakeSystemd } from "../helpers/fakes.ts";
import { committed, runContext, STATE } from "../helpers/run_context.ts";
import { type Files } from "../helpers/repo.ts";

const record = (generation: number, revision: string): GenerationRecord => ({
  schema_version: 1,
  generation,
  revision,
  applied: "2026-12-01T10:00:00.000Z",
  repository: null,
  ref: null,
  host: null,
  services: [],
  artifacts: [],
  warnings: [],
});

const KEPT = [
  record(3, "aaaa1111" + "0".repeat(32)),
  record(4, "bbbb2222" + "0".repeat(32)),
  record(5, "aaaa1111" + "0".repeat(32)),
  record(6, "cccc3333" + "0".repeat(32)),
];

Deno.test("pickGeneration: the previous one, a number, a revision; errors say what is kept", () => {
  const cases: [string | null, number, number | [number, RegExp]][] = [
    // [--to, applied generation, picked generation | [exit code, message]]
    [null, 6, 5],
    [null, 5, 4],
    [null, 3, [66, /nothing to roll back to: no generation before the applied one \(3\)/]],
    ["4", 6, 4],
    ["bbbb2222", 6, 4],
    ["BBBB2222", 6, 4],
    // A revision applied twice: its newest generation.
    ["aaaa", 6, 5],
    ["6", 6, [64, /generation 6 is generation 6, the one applied now/]],
    ["2", 6, [66, /generation 2 is not among the kept generations/]],
    ["dddd", 6, [66, /revision dddd is not among the kept/]],
    ["main~1", 6, [64, /neither a generation number nor a commit id/]],
    ["abc", 6, [64, /neither a generation number nor a commit id/]],
  ];
  for (const [to, current, expected] of cases) {
    const what = `--to ${to} at ${current}`;
    if (typeof expected === "number") {
      assert.equal(pickGeneration(KEPT, to, current).generation, expected, what);
      continue;
    }
    assert.throws(() => pickGeneration(KEPT, to, current), (e: unknown) => {
      assert.ok(e instanceof CoreOpsError, what);
      assert.equal(e.exitCode, expected[0], what);
      assert.match(e.message, expected[1], what);
      // Every refusal names what is kept.
      assert.match(e.diagnostics[0].hint ?? "", /kept: 3 \(aaaa11110000\), 4 /, what);
      return true;
    });
  }
  assert.throws(
    () => pickGeneration([], null, 0),
    (e: unknown) =>
      e instanceof CoreOpsError && e.exitCode === 66 &&
      /no generation is kept in the state dir yet/.test(e.diagnostics[0].hint ?? ""),
  );
});

const UNIT = (image: string) =>
  `[Container]\nImage=${image}\nVolume=/etc/web/app.conf:/app.conf:ro\n[Install]\nWantedBy=a\n`;

function repo(image: string, greeting: string): Files {
  return {
    "services/web/quadlet/web.container": UNIT(image),
    "services/web/config/app.conf": `greeting=${greeting}\n`,
  };
}

function host() {
  return { files: new FakeFiles(), systemd: new FakeSystemd(), generator: fakeGenerator() };
}

function context(
  h: ReturnType<typeof host>,
  source: RunSource,
  keepGenerations = 5,
): ApplyRunContext {
  return runContext(h, source, { keepGenerations });
}

function commit(files: Files, revision: string): RunSource {
  return committed(files, revision, { repository: "https://git.example/infra.git", ref: "main" });
}

const objects = (h: ReturnType<typeof host>) =>
  [...h.files.files.keys()].filter((p) => p.startsWith(`${STATE}/objects/`)).length;

Deno.test("each applied generation is kept (last keep-generations); objects stay for them", async () => {
  const h = host();
  for (const [i, rev] of ["r1", "r2", "r3", "r4"].entries()) {
    const report = await applyRevision(
      context(h, commit(repo(`img:${i}`, `v${i}`), rev), 3),
    );
    assert.equal(report.outcome, "success", rev);
  }
  const kept = await readGenerations(STATE, h.files);
  assert.deepEqual(kept.map((r) => [r.generation, r.revision]), [[2, "r2"], [3, "r3"], [4, "r4"]]);
  assert.deepEqual(
    kept[0].artifacts.map((a) => [a.source, a.destination]),
    [
      ["services/web/quadlet/web.container", "/q/web.container"],
      ["services/web/config/app.conf", "/etc/web/app.conf"],
    ],
  );
  assert.ok(!("content" in kept[0].artifacts[0]), "contents stay in the object store");
  assert.equal(kept[2].repository, "https://git.example/infra.git");
  // Two files per generation, all distinct: the three kept generations' six objects.
  assert.equal(objects(h), 6);
  // A no-op does not add a generation.
  await applyRevision(context(h, commit(repo("img:3", "v3"), "r4"), 3));
  assert.equal((await readGenerations(STATE, h.files)).length, 3);

  // state.json moved aside: a new history starts at 1, and the old one's records go.
  await h.files.remove(`${STATE}/state.json`);
  await applyRevision(context(h, commit(repo("img:9", "v9"), "r9"), 3));
  const fresh = await readGenerations(STATE, h.files);
  assert.deepEqual(fresh.map((r) => [r.generation, r.revision]), [[1, "r9"]]);
  assert.equal(objects(h), 2);
});

Deno.test("rollback: the previous generation re-applied from the state dir, verified, recorded", async () => {
  const h = host();
  await applyRevision(context(h, commit(repo("img:1", "one"), "r1")));
  await applyRevision(context(h, commit(repo("img:2", "two"), "r2")));
  h.systemd.calls.length = 0;
  const store = new StateStore(STATE, h.files);
  const { record, resolved } = await generationSource(store, null);
  assert.equal(record.generation, 1);
  const report = await applyRevision({ ...context(h, { resolved }), store });
  assert.equal(report.outcome, "success");
  assert.equal(report.revision, "r1");
  assert.equal(h.files.text("/q/web.container"), UNIT("img:1"));
  assert.equal(h.files.text("/etc/web/app.conf"), "greeting=one\n");
  // The image goes back too: made sure of before the restart — with Pull=missing, the image
  // still on the host is used as it is, so a rollback needs no registry either.
  assert.deepEqual(h.systemd.jobs(), [
    "pull img:1 --policy=missing (900 s)",
    "daemon-reload",
    "restart web.service",
  ]);
  assert.ok(h.systemd.calls.some((c) => c.startsWith("show web.service")), "verified");
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.generation, 3);
  assert.equal(state.last_applied_revision, "r1");
  assert.equal(state.repository, "https://git.example/infra.git", "still tracks its repository");
  assert.equal(state.ref, "main");
  const kept = await readGenerations(STATE, h.files);
  assert.deepEqual(kept.map((r) => [r.generation, r.revision]), [[1, "r1"], [2, "r2"], [3, "r1"]]);
  // From generation 3, the previous one is 2: rolling back again returns to r2.
  assert.equal((await generationSource(new StateStore(STATE, h.files), null)).record.generation, 2);
});

Deno.test("rollback: a generation that fails verification is rolled back and recorded as failed", async () => {
  const h = host();
  await applyRevision(context(h, commit(repo("img:1", "one"), "r1")));
  await applyRevision(context(h, commit(repo("img:2", "two"), "r2")));
  const store = new StateStore(STATE, h.files);
  const { resolved } = await generationSource(store, "1");
  h.systemd.behaviour.set("web.service", "fails");
  const report = await applyRevision({ ...context(h, { resolved }), store });
  assert.equal(report.outcome, "failure");
  assert.equal(report.exitCode, 1);
  assert.equal(report.rollback.status, "failed", "the fake's web.service keeps failing");
  assert.equal(h.files.text("/q/web.container"), UNIT("img:2"), "back to what was applied");
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.status, "failed");
  assert.equal(state.last_applied_revision, "r2");
  assert.equal(state.last_attempted_revision, "r1");
  assert.deepEqual(state.failure?.units.map((u) => u.unit), ["web.service"]);
  assert.equal((await readGenerations(STATE, h.files)).length, 2, "a failed run keeps no new one");
});

Deno.test("rollback: a kept object that is gone fails before anything is written", async () => {
  const h = host();
  await applyRevision(context(h, commit(repo("img:1", "one"), "r1")));
  await applyRevision(context(h, commit(repo("img:2", "two"), "r2")));
  const store = new StateStore(STATE, h.files);
  const { record, resolved } = await generationSource(store, "1");
  await h.files.remove(`${STATE}/objects/${record.artifacts[1].sha256}`);
  h.files.calls.length = 0;
  await assert.rejects(
    applyRevision({ ...context(h, { resolved }), store }),
    (e: unknown) => e instanceof CoreOpsError && /content store has no object/.test(e.message),
  );
  assert.deepEqual(h.files.calls, []);
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.last_applied_revision, "r2");
  assert.equal(state.last_run?.outcome, "failure");
});
