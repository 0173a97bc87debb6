/**
 * The converged record (src/run/converged.ts, src/state/converged.ts) and the
 * check step (src/run/check.ts): a tick at the revision the last no-op saw,
 * on a host that did not move, records a no-op without reading the revision;
 * anything that moved sends it back to a whole plan.
 */
import assert from "node:assert/strict";
import { applyRevision, type ApplyRunContext } from "../../src/run/run.ts";
import { MAX_AGE_MS, RACY_MS, sameHost, type Seen } from "../../src/run/converged.ts";
import type { ConvergedRecord } from "../../src/state/converged.ts";
import { CONVERGED_FILE, readConverged } from "../../src/state/converged.ts";
import { StateStore } from "../../src/state/store.ts";
import { FakeFiles, fakeGenerator, FakeSystemd } from "../helpers/fakes.ts";
import { committed, DIRS, runContext, STATE } from "../helpers/run_context.ts";
import type { Files } from "../helpers/repo.ts";

const REPO: Files = {
  "services/web/quadlet/web.container": "[Container]\nImage=x\nVolume=/etc/web/app.conf:/a:ro\n" +
    "[Install]\nWantedBy=multi-user.target\n",
  "services/web/quadlet/web.container.d/10-env.conf": "[Container]\nEnvironment=A=1\n",
  "services/web/config/app.conf": "greeting=hello\n",
};

/** An agent-like host: the loaded-state cache on (read.cache), a clock the test moves. */
class Agent {
  clock = Date.parse("2026-12-01T00:00:00Z");
  files = new FakeFiles();
  systemd = new FakeSystemd(() => this.clock);
  generator = Object.assign(fakeGenerator(), { identity: () => Promise.resolve("quadlet 5") });
  /** The revision's tree reads, digests calls and files read: a run check answers does none. */
  reads = 0;
  digests = 0;
  readPaths: string[] = [];

  constructor() {
    const digests = this.files.digests.bind(this.files);
    this.files.digests = (paths) => {
      this.digests++;
      return digests(paths);
    };
    const read = this.files.read.bind(this.files);
    this.files.read = (path) => {
      this.readPaths.push(path);
      return read(path);
    };
  }

  context(revision = "r1", extra: Partial<ApplyRunContext> = {}): ApplyRunContext {
    const source = committed(REPO, revision);
    if (!("resolved" in source)) throw new Error("unreachable");
    const read = source.resolved.read;
    source.resolved.read = () => {
      this.reads++;
      return read();
    };
    return runContext(this, source, {
      read: {
        host: null,
        dirs: DIRS,
        configRoots: null,
        cache: { stateDir: STATE, files: this.files, build: "build 1" },
      },
      // Every look at the clock moves it on a little, as a real one would (verify polls it).
      now: () => ++this.clock,
      ...extra,
    });
  }

  /** Runs at `revision`, `later` ms after the previous run. */
  async tick(revision = "r1", later = 60_000, extra: Partial<ApplyRunContext> = {}) {
    this.clock += later;
    return await applyRevision(this.context(revision, extra));
  }

  /** Applied, then one no-op that keeps the record. */
  static async converged(): Promise<Agent> {
    const agent = new Agent();
    assert.equal((await agent.tick()).outcome, "success");
    assert.equal((await agent.tick()).outcome, "noop");
    return agent;
  }
}

Deno.test("check: a tick the last no-op's record answers reads nothing and records a no-op", async () => {
  const agent = await Agent.converged();
  const kept = await readConverged(agent.files, STATE);
  assert.notEqual(kept, null, "the whole-plan no-op kept its record");
  assert.equal(kept!.record.revision, "r1");
  assert.equal(kept!.record.files.length, 3);
  const [reads, digests] = [agent.reads, agent.digests];
  agent.systemd.calls.length = 0;
  agent.readPaths.length = 0;
  const report = await agent.tick();
  assert.equal(report.outcome, "noop");
  assert.equal(report.desired, null, "nothing was loaded");
  assert.equal(agent.reads, reads, "the revision's tree was not read");
  assert.equal(agent.digests, digests, "no file was hashed");
  assert.deepEqual(
    agent.readPaths,
    [`${STATE}/state.json`, `${STATE}/${CONVERGED_FILE}`],
    "neither the loaded state's cache nor the manifest was read",
  );
  assert.deepEqual(agent.systemd.calls, ["list-units web.service"], "ONE list-units, no job");
  assert.equal(agent.generator.calls, 1, "the generator ran only for the first apply");
  const state = await new StateStore(STATE, agent.files).readState();
  assert.equal(state.last_run?.outcome, "noop");
  assert.equal(state.last_applied_revision, "r1");
  assert.equal(state.generation, 1);
});

Deno.test("check: whatever moved on the host, the tick plans again and converges it", async (t) => {
  const cases: [string, (a: Agent) => void, string][] = [
    [
      "a hand edit of an owned file",
      (a) => a.files.put("/etc/web/app.conf", "greeting=hi\n"),
      "success",
    ],
    [
      "an owned drop-in removed",
      (a) => void a.files.remove("/q/web.container.d/10-env.conf"),
      "success",
    ],
    [
      "the unit stopped",
      (a) => a.systemd.units.get("web.service")!.ActiveState = "inactive",
      "success",
    ],
    [
      "the unit failed",
      (a) => a.systemd.units.get("web.service")!.ActiveState = "failed",
      "success",
    ],
    [
      "a hand-placed quadlet beside ours",
      (a) => a.files.put("/q/mine.volume", "[Volume]\n"),
      "noop",
    ],
    [
      "the manifest rewritten",
      (a) => a.files.put(`${STATE}/manifest.json`, a.files.text(`${STATE}/manifest.json`)!),
      "noop",
    ],
  ];
  for (const [what, move, outcome] of cases) {
    await t.step(what, async () => {
      const agent = await Agent.converged();
      move(agent);
      const report = await agent.tick();
      assert.notEqual(report.desired, null, "a whole plan");
      assert.equal(report.outcome, outcome);
      // Converged again, the next no-op keeps a record the tick after it uses.
      if (outcome === "success") assert.equal((await agent.tick()).outcome, "noop");
      assert.equal((await agent.tick()).desired, null);
    });
  }
});

Deno.test("check: another revision, build or adopt setting, or an old record, is never trusted", async (t) => {
  await t.step("another revision", async () => {
    const agent = await Agent.converged();
    assert.notEqual((await agent.tick("r2")).desired, null);
  });
  await t.step("another build", async () => {
    const agent = await Agent.converged();
    const ctx = agent.context();
    ctx.read.cache = { stateDir: STATE, files: agent.files, build: "build 2" };
    assert.notEqual((await applyRevision(ctx)).desired, null);
  });
  await t.step("adopt", async () => {
    const agent = await Agent.converged();
    assert.notEqual((await agent.tick("r1", 60_000, { adopt: "matching" })).desired, null);
  });
  await t.step("a record older than MAX_AGE_MS", async () => {
    const agent = await Agent.converged();
    assert.equal((await agent.tick("r1", MAX_AGE_MS - 60_000)).desired, null, "still young");
    assert.notEqual((await agent.tick("r1", MAX_AGE_MS + 1)).desired, null);
  });
  await t.step("a clock that went back", async () => {
    const agent = await Agent.converged();
    assert.notEqual((await agent.tick("r1", -120_000)).desired, null);
  });
  await t.step("a damaged record", async () => {
    const agent = await Agent.converged();
    const path = `${STATE}/${CONVERGED_FILE}`;
    agent.files.put(path, agent.files.text(path)!.replace('"r1"', '"r9"'));
    assert.equal(await readConverged(agent.files, STATE), null, "its digest no longer holds");
    assert.notEqual((await agent.tick()).desired, null);
  });
  await t.step("a hand-run apply (no loaded-state cache) neither uses nor keeps one", async () => {
    const agent = await Agent.converged();
    const ctx = agent.context();
    delete ctx.read.cache;
    assert.notEqual((await applyRevision(ctx)).desired, null);
  });
});

Deno.test("check: files that changed just before the no-op are compared by content", async () => {
  const agent = new Agent();
  // The files' clock is the run's: everything the first apply wrote is too young for its stamp.
  agent.files.now = () => agent.clock;
  await agent.tick();
  await agent.tick("r1", 500);
  const kept = (await readConverged(agent.files, STATE))!.record;
  assert.ok(kept.files.every(([, digest, stamp]) => digest !== null && stamp === null));
  const digests = agent.digests;
  const report = await agent.tick("r1", 500);
  assert.equal(report.desired, null, "answered by content");
  assert.equal(agent.digests, digests + 1, "one digests call for the young files");
  // A same-size edit in that window is content, not a stamp: seen.
  agent.files.put("/etc/web/app.conf", "greeting=hallo\n");
  assert.equal((await agent.tick("r1", 500)).outcome, "success");
  // Once old enough, stamps stand for the content again.
  await agent.tick("r1", RACY_MS + 1);
  const settled = (await readConverged(agent.files, STATE))!.record;
  assert.ok(settled.files.every(([, , stamp]) => stamp !== null));
});

Deno.test("check: young files found as recorded get their stamps once they are old enough", async () => {
  const agent = new Agent();
  agent.files.now = () => agent.clock;
  await agent.tick();
  await agent.tick("r1", 500);
  assert.ok((await readConverged(agent.files, STATE))!.record.files.every(([, , s]) => s === null));
  // Answered by content, and the aged stamps kept for the next tick.
  assert.equal((await agent.tick("r1", RACY_MS + 1)).desired, null);
  const record = (await readConverged(agent.files, STATE))!.record;
  assert.ok(record.files.every(([, , stamp]) => stamp !== null));
  const digests = agent.digests;
  assert.equal((await agent.tick()).desired, null);
  assert.equal(agent.digests, digests, "answered by stamps alone");
});

Deno.test("check: a run that did something keeps no record", async () => {
  const agent = new Agent();
  await agent.tick();
  assert.equal(agent.files.text(`${STATE}/${CONVERGED_FILE}`), undefined, "an apply keeps none");
});

/** A record of one file, one unit, nothing else in the quadlet dir. */
function record(extra: Partial<ConvergedRecord> = {}): ConvergedRecord {
  return {
    revision: "r1",
    observedAt: 0,
    manifest: "m1",
    files: [["/q/a.container", "d1", "s1"], ["/q/young.conf", "d2", null]],
    units: ["a.service"],
    states: [["a.service", "loaded", "active"]],
    templates: [],
    instances: [],
    others: [],
    warnings: [],
    ...extra,
  };
}

function seen(extra: Partial<Seen> = {}): Seen {
  return {
    listing: ["/q/a.container", "/q/young.conf"],
    stamps: new Map([
      ["/m", { id: "m1" }],
      ["/q/a.container", { id: "s1" }],
      ["/q/young.conf", { id: "s9" }],
    ]),
    states: new Map([["a.service", { load: "loaded", active: "active" }]]),
    instances: new Map(),
    digests: new Map([["/q/young.conf", "d2"]]),
    ...extra,
  };
}

Deno.test("sameHost: each observation that differs from the record is a miss", () => {
  assert.equal(sameHost(record(), seen(), "/m"), true);
  const stamps = (path: string, id: string | null) =>
    new Map([...seen().stamps, [path, id === null ? null : { id }]]);
  const misses: [string, Seen, ConvergedRecord?][] = [
    ["manifest stamp", seen({ stamps: stamps("/m", "m2") })],
    ["manifest gone", seen({ stamps: stamps("/m", null) })],
    ["file stamp", seen({ stamps: stamps("/q/a.container", "s2") })],
    ["file gone", seen({ stamps: stamps("/q/a.container", null) })],
    ["young file's content", seen({ digests: new Map([["/q/young.conf", "d3"]]) })],
    ["young file gone", seen({ stamps: stamps("/q/young.conf", null) })],
    [
      "a file the record saw absent is there",
      seen(),
      record({ files: [["/q/a.container", null, null]] }),
    ],
    ["another file in the quadlet dir", seen({ listing: [...seen().listing, "/q/new.volume"] })],
    ["a recorded other file gone", seen(), record({ others: [["/q/mine.volume", "o1"]] })],
    [
      "unit state",
      seen({ states: new Map([["a.service", { load: "loaded", active: "failed" }]]) }),
    ],
    [
      "one more unit answered",
      seen({
        states: new Map([...seen().states!, ["b@1.service", { load: "loaded", active: "active" }]]),
      }),
    ],
    ["systemd unreachable", seen({ states: null })],
    [
      "an instance appeared",
      seen({ instances: new Map([["t@1.service", { load: "loaded", active: "active" }]]) }),
    ],
  ];
  for (const [what, s, r] of misses) assert.equal(sameHost(r ?? record(), s, "/m"), false, what);
  // An absent file still absent, another file recorded with its stamp: a match.
  assert.equal(
    sameHost(
      record({ files: [["/q/gone.conf", null, null]], others: [["/q/mine.volume", "o1"]] }),
      seen({
        listing: ["/q/mine.volume"],
        stamps: new Map([["/m", { id: "m1" }], ["/q/gone.conf", null], ["/q/mine.volume", {
          id: "o1",
        }]]),
      }),
      "/m",
    ),
    true,
  );
  // Another file too young for a stamp when recorded: never trusted.
  assert.equal(
    sameHost(
      record({ others: [["/q/mine.volume", null]] }),
      seen({ listing: [...seen().listing, "/q/mine.volume"] }),
      "/m",
    ),
    false,
  );
});
