/**
 * The agent against fakes: one event per run whatever the outcome, backoff of
 * a failing revision (a new commit is tried at once), transient failures that
 * never count against a revision, and the state each run leaves.
 */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { type AgentPorts, type AgentSettings, runAgent } from "../../src/run/agent.ts";
import { CoreOpsError, Exit } from "../../src/errors.ts";
import type { RunEvent } from "../../src/report/event.ts";
import { StateStore } from "../../src/state/store.ts";
import { FakeFiles, fakeGenerator, FakeSystemd } from "../helpers/fakes.ts";
import { type Files, memoryTree } from "../helpers/repo.ts";

const GOOD: Files = {
  "services/web/quadlet/web.container": "[Container]\nImage=x\n[Install]\nWantedBy=a\n",
};

const SETTINGS: AgentSettings = {
  repo: "https://user:s3cret@git.example/infra.git",
  rev: "main",
  host: null,
  dirs: DIRS,
  stateDir: "/var/lib/state",
  lockPath: "/run/lock",
  requireSigned: false,
  allowedSigners: null,
  sshKey: null,
  fetchTimeoutSeconds: 60,
  verifyTimeoutSeconds: 5,
  verifySettleSeconds: 0,
  pullTimeoutSeconds: 900,
  retryInitialSeconds: 60,
  retryMaxSeconds: 3600,
  configRoots: null,
  ageIdentity: "/etc/core-ops/age.key",
  retryNow: false,
  adopt: false,
  keepGenerations: 5,
};

/** A fake remote: commits by id, the ref's current commit, and what every run left. */
class World {
  files = new FakeFiles();
  systemd = new FakeSystemd(() => this.now);
  commits = new Map<string, Files>([["c1", GOOD]]);
  head = "c1";
  events: RunEvent[] = [];
  metrics = 0;
  now = Date.UTC(2026, 10, 26, 1, 0, 0);
  lockHeld = false;
  fetchFails = false;
  badSignature = false;
  /** The build identity the ports report; `undefined` runs without the loaded-state cache. */
  build: string | undefined = undefined;
  treeReads = 0;
  /** The fetch takes a few ms and says in `systemd.calls` when it is done. */
  slowFetch = false;

  ports(): AgentPorts {
    return {
      lock: () => {
        if (this.lockHeld) {
          return Promise.reject(
            new CoreOpsError(Exit.tempFail, "transient", [{ message: "lock held" }]),
          );
        }
        return Promise.resolve({ release: () => Promise.resolve() });
      },
      source: {
        provenance: () => Promise.reject(new Error("the agent never reads a checkout")),
        readCheckout: () => Promise.reject(new Error("the agent never reads a checkout")),
        fetch: () =>
          this.fetchFails
            ? Promise.reject(
              new CoreOpsError(Exit.tempFail, "transient", [{ message: "remote unreachable" }]),
            )
            : this.slowFetch
            ? new Promise((resolve) =>
              setTimeout(() => {
                this.systemd.calls.push("(fetched)");
                resolve({ commit: this.head, mirror: "/mirror" });
              }, 5)
            )
            : Promise.resolve({ commit: this.head, mirror: "/mirror" }),
        verifySignature: () =>
          this.badSignature
            ? Promise.reject(
              new CoreOpsError(Exit.dataErr, "validation", [{ message: "commit is not signed" }]),
            )
            : Promise.resolve(),
        readCommit: (_mirror, commit) => {
          this.treeReads++;
          return Promise.resolve(memoryTree(this.commits.get(commit)!));
        },
        makeTempDir: () => Promise.reject(new Error("the agent fetches into its mirror")),
        removeDir: () => Promise.reject(new Error("the agent fetches into its mirror")),
      },
      buildIdentity: this.build === undefined ? undefined : () => Promise.resolve(this.build!),
      emit: (event) => {
        this.events.push(event);
        return Promise.resolve();
      },
      writeMetrics: () => {
        this.metrics++;
        return Promise.resolve();
      },
      files: this.files,
      systemd: this.systemd,
      generator: fakeGenerator(),
      now: () => this.now,
      sleep: (ms) => {
        this.now += ms;
        return Promise.resolve();
      },
    };
  }

  async run(settings: Partial<AgentSettings> = {}): Promise<number> {
    try {
      return await runAgent({ ...SETTINGS, ...settings }, this.ports());
    } catch (error) {
      if (error instanceof CoreOpsError) return error.exitCode;
      throw error;
    }
  }

  state() {
    return new StateStore(SETTINGS.stateDir, this.files).readState();
  }
}

Deno.test("agent: converge, then no-op runs; one event per run", async () => {
  const w = new World();
  assert.equal(await w.run(), 0);
  assert.equal(w.events.length, 1);
  assert.equal(w.events[0].status, "success");
  assert.equal(w.events[0].revision, "c1");
  assert.equal(w.events[0].generation, 1);
  for (let i = 0; i < 3; i++) assert.equal(await w.run(), 0);
  assert.deepEqual(w.events.map((e) => e.status), ["success", "noop", "noop", "noop"]);
  assert.equal(w.metrics, 4);
  const state = await w.state();
  assert.equal(state.repository, "https://***@git.example/infra.git");
  assert.ok(!JSON.stringify(state).includes("s3cret"));
});

Deno.test("agent: a failing revision backs off; a new commit is tried at once", async () => {
  const w = new World();
  await w.run();
  w.systemd.behaviour.set("web.service", "fails");
  w.commits.set("c2", {
    "services/web/quadlet/web.container": "[Container]\nImage=y\n[Install]\nWantedBy=a\n",
  });
  w.head = "c2";
  assert.equal(await w.run(), 1);
  const failed = w.events.at(-1)!;
  assert.equal(failed.status, "failure");
  assert.deepEqual(failed.failedArtifacts, ["web.service"]);
  let state = await w.state();
  assert.deepEqual(state.retry && { r: state.retry.revision, n: state.retry.failures }, {
    r: "c2",
    n: 1,
  });

  // The next tick within the backoff does not apply it again.
  w.systemd.calls.length = 0;
  w.now += 30_000;
  assert.equal(await w.run(), 1);
  assert.deepEqual(w.systemd.jobs(), []);
  assert.match(w.events.at(-1)!.message, /backing off: revision c2 failed 1 time; not retried/);

  // After the backoff it is retried, fails again, and the wait doubles.
  w.now += 31_000;
  assert.equal(await w.run(), 1);
  state = await w.state();
  assert.equal(state.retry?.failures, 2);
  assert.equal(Date.parse(state.retry!.next_attempt) - w.now, 120_000);

  // --retry-now overrides the backoff.
  w.systemd.calls.length = 0;
  assert.equal(await w.run({ retryNow: true }), 1);
  assert.ok(w.systemd.jobs().length > 0);

  // A fixing commit is applied at once, and clears the backoff.
  w.systemd.behaviour.delete("web.service");
  w.commits.set("c3", {
    "services/web/quadlet/web.container": "[Container]\nImage=z\n[Install]\nWantedBy=a\n",
  });
  w.head = "c3";
  assert.equal(await w.run(), 0);
  state = await w.state();
  assert.equal(state.retry, null);
  assert.equal(state.last_applied_revision, "c3");
  assert.equal(state.consecutive_failures, 0);
});

Deno.test("agent: lock held or remote unreachable is 75, with an event, never a backoff", async () => {
  const w = new World();
  await w.run();
  w.lockHeld = true;
  assert.equal(await w.run(), 75);
  assert.equal(w.events.at(-1)?.failureClass, "transient");
  w.lockHeld = false;
  w.fetchFails = true;
  w.systemd.calls.length = 0;
  assert.equal(await w.run(), 75);
  assert.equal(w.events.length, 3);
  assert.equal(w.events.at(-1)?.failureClass, "transient");
  assert.deepEqual(w.systemd.jobs(), [], "host untouched");
  const state = await w.state();
  assert.equal(state.retry, null);
  assert.equal(state.last_applied_revision, "c1");
  assert.equal(state.failure?.class, "transient");
});

Deno.test("agent: an unsigned commit is refused (65) before anything is planned", async () => {
  const w = new World();
  w.badSignature = true;
  assert.equal(await w.run({ requireSigned: true, allowedSigners: "/etc/signers" }), 65);
  assert.equal(w.events.length, 1);
  assert.equal(w.events[0].failureClass, "validation");
  assert.deepEqual(w.files.calls, []);
  const state = await w.state();
  assert.equal(state.last_attempted_revision, "c1");
  assert.equal(state.retry?.revision, "c1");
});

Deno.test("agent: a layout error in the revision is 65, recorded and backed off", async () => {
  const w = new World();
  w.commits.set("c1", { "quadlets/web.container": "[Container]\n" });
  assert.equal(await w.run(), 65);
  assert.equal(w.events[0].status, "failure");
  assert.equal(w.events[0].revision, "c1");
  const state = await w.state();
  assert.equal(state.status, "failed");
  assert.equal(state.retry?.revision, "c1");
});

Deno.test("agent: a corrupt manifest is an explicit 65, never a backoff of the revision", async () => {
  const w = new World();
  assert.equal(await w.run(), 0);
  const manifestPath = `${SETTINGS.stateDir}/manifest.json`;
  const good = w.files.text(manifestPath)!;
  const stateBefore = w.files.text(`${SETTINGS.stateDir}/state.json`);
  w.commits.set("c2", {
    "services/web/quadlet/web.container": "[Container]\nImage=y\n[Install]\nWantedBy=a\n",
  });
  w.head = "c2";
  w.files.put(manifestPath, good.slice(0, good.length / 2));
  for (let i = 0; i < 2; i++) {
    let thrown: unknown;
    try {
      await runAgent(SETTINGS, w.ports());
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof CoreOpsError);
    assert.equal(thrown.exitCode, 65);
    assert.equal(thrown.diagnostics[0].location?.file, manifestPath);
    assert.match(thrown.diagnostics[0].hint ?? "", /./);
    assert.equal(w.events.at(-1)!.status, "failure");
  }
  // state.json is left as it was: no failure recorded against c2, no backoff.
  assert.equal(w.files.text(`${SETTINGS.stateDir}/state.json`), stateBefore);
  w.files.put(manifestPath, good);
  assert.equal(await w.run(), 0, "the revision ran at once once the manifest was restored");
  assert.equal((await w.state()).last_applied_revision, "c2");
});

Deno.test("agent: a corrupt state file is an explicit 65, written over never, after git finished", async () => {
  const w = new World();
  assert.equal(await w.run(), 0);
  const statePath = `${SETTINGS.stateDir}/state.json`;
  const good = w.files.text(statePath)!;
  // Not JSON: refused before any fetch. JSON of another shape: refused while git fetches
  // (only the pause is looked up first), so the failure waits for the fetch to finish.
  for (const [bad, fetched] of [["{not json", false], ['{"schema_version": 99}', true]] as const) {
    w.files.put(statePath, bad);
    w.slowFetch = true;
    w.systemd.calls.length = 0;
    let thrown: unknown;
    try {
      await runAgent(SETTINGS, w.ports());
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof CoreOpsError, bad);
    assert.equal(thrown.exitCode, 65, bad);
    assert.equal(thrown.diagnostics[0].location?.file, statePath, bad);
    assert.equal(w.events.at(-1)!.status, "failure", bad);
    assert.equal(w.files.text(statePath), bad, "never written over");
    assert.equal(w.systemd.calls.includes("(fetched)"), fetched, bad);
  }
  w.files.put(statePath, good);
  assert.equal(await w.run(), 0, "runs again once the state file is restored");
});

Deno.test("agent: a no-change tick writes state.json once", async () => {
  const w = new World();
  await w.run();
  const writes: string[] = [];
  const write = w.files.write.bind(w.files);
  w.files.write = (path, content, mode) => {
    writes.push(path);
    return write(path, content, mode);
  };
  assert.equal(await w.run(), 0);
  assert.deepEqual(writes, [`${SETTINGS.stateDir}/state.json`]);
});

Deno.test("agent: a tick at the loaded commit reuses the loaded state, and still repairs drift", async () => {
  const w = new World();
  w.build = "build-1";
  assert.equal(await w.run(), 0);
  assert.equal(w.treeReads, 1);
  assert.equal(await w.run(), 0);
  assert.equal(w.treeReads, 1, "same commit, same build: the tree is not read again");
  assert.equal(w.events.at(-1)!.status, "noop");

  // Drift is judged against the host, not the cache: the file is rewritten.
  const path = "/q/web.container";
  await w.files.write(path, new TextEncoder().encode("edited by hand\n"), 0o644);
  assert.equal(await w.run(), 0);
  assert.equal(w.events.at(-1)!.status, "success");
  assert.deepEqual(w.events.at(-1)!.drift, [path]);
  assert.equal(
    new TextDecoder().decode(w.files.files.get(path)!.content),
    GOOD["services/web/quadlet/web.container"],
  );
  assert.equal(w.treeReads, 1);

  w.commits.set("c2", {
    "services/web/quadlet/web.container": "[Container]\nImage=y\n[Install]\nWantedBy=a\n",
  });
  w.head = "c2";
  assert.equal(await w.run(), 0);
  assert.equal(w.treeReads, 2, "a new commit is read");
  w.build = "build-2";
  assert.equal(await w.run(), 0);
  assert.equal(w.treeReads, 3, "another build does not trust the cache");
  assert.equal(w.events.at(-1)!.status, "noop");
});

Deno.test("agent: a no-change tick asks systemd once, beside the fetch, for the owned units", async () => {
  const w = new World();
  w.commits.set("c1", {
    ...GOOD,
    "services/db/quadlet/db.container": "[Container]\nImage=x\n[Install]\nWantedBy=a\n",
  });
  assert.equal(await w.run(), 0);
  w.systemd.calls.length = 0;
  w.slowFetch = true;
  assert.equal(await w.run(), 0);
  assert.equal(w.events.at(-1)!.status, "noop");
  assert.deepEqual(w.systemd.calls, ["list-units db.service web.service", "(fetched)"]);

  // A unit that stopped is seen by that one query and started again.
  w.systemd.units.get("db.service")!.ActiveState = "inactive";
  w.systemd.calls.length = 0;
  assert.equal(await w.run(), 0);
  assert.equal(w.events.at(-1)!.status, "success");
  assert.deepEqual(w.systemd.calls.slice(0, 2), ["list-units db.service web.service", "(fetched)"]);
  assert.equal(w.systemd.calls.filter((c) => c.startsWith("list-units")).length, 1);
  assert.ok(w.systemd.calls.includes("start db.service"), w.systemd.calls.join("\n"));
});

Deno.test("agent: a host fault (no systemd, an internal error) never backs the revision off", async () => {
  const w = new World();
  w.systemd.available = () => Promise.resolve(false);
  assert.equal(await w.run(), 1);
  assert.equal(w.events.at(-1)?.status, "failure");
  assert.equal((await w.state()).retry, null, "no systemd is the host's fault");

  // An internal error thrown half-way: rolled back, recorded, one event, still no backoff.
  w.systemd.available = () => Promise.resolve(true);
  w.systemd.show = () => Promise.reject(new TypeError("cannot read properties of undefined"));
  assert.equal(await w.run(), 70);
  const event = w.events.at(-1)!;
  assert.equal(event.status, "failure");
  assert.match(event.failureReason ?? "", /cannot read properties/);
  const state = await w.state();
  assert.equal(state.retry, null);
  assert.equal(state.in_progress, null, "the run's record is complete");
  assert.equal(w.events.length, 2, "one event per run");
});

Deno.test("agent: paused — takes the lock, records a paused run, fetches and applies nothing", async () => {
  const w = new World();
  assert.equal(await w.run(), 0);
  const store = new StateStore(SETTINGS.stateDir, w.files);
  const applied = await store.readState();
  await store.writeState({
    ...applied,
    paused: {
      reason: "incident 7",
      since: "2026-11-26T01:00:00.000Z",
      by: "alice",
      revision: "c1",
    },
  });
  w.commits.set("c2", {
    "services/web/quadlet/web.container": "[Container]\nImage=y\n[Install]\nWantedBy=a\n",
  });
  w.head = "c2";
  w.fetchFails = true; // a paused tick never asks the remote
  w.systemd.calls.length = 0;
  w.files.calls.length = 0;
  const metricsBefore = w.metrics;
  assert.equal(await w.run(), 0);
  assert.deepEqual(w.systemd.calls, []);
  assert.deepEqual(w.files.calls, []);
  const event = w.events.at(-1)!;
  assert.equal(event.status, "noop");
  assert.equal(event.paused, true);
  assert.equal(event.revision, "c1");
  assert.match(event.message, /paused by alice since .*: incident 7; applied nothing/);
  assert.equal(w.metrics, metricsBefore + 1);
  const state = await w.state();
  assert.equal(state.last_run?.outcome, "paused");
  assert.equal(state.last_applied_revision, "c1");
  assert.equal(state.paused?.by, "alice");

  // The lock is still one writer at a time: a held lock is 75, paused or not.
  w.lockHeld = true;
  assert.equal(await w.run(), 75);
  w.lockHeld = false;

  // Resumed: the tip applies at the next tick.
  await store.writeState({ ...(await w.state()), paused: null });
  w.fetchFails = false;
  assert.equal(await w.run(), 0);
  assert.equal(w.events.at(-1)!.status, "success");
  assert.equal((await w.state()).last_applied_revision, "c2");
});

Deno.test("agent: adopt = true takes over files that match; files that differ stay conflicts", async () => {
  const w = new World();
  const content = new TextEncoder().encode(GOOD["services/web/quadlet/web.container"]);
  await w.files.write("/q/web.container", new TextEncoder().encode("by hand\n"), 0o644);
  assert.equal(await w.run({ adopt: true }), 65, "a differing file stays a conflict");
  assert.match(w.events.at(-1)!.failureReason ?? "", /differs from services\/web\/quadlet/);
  await w.files.write("/q/web.container", content, 0o644);
  assert.equal(await w.run({ retryNow: true }), 65, "without adopt every unowned file conflicts");
  w.files.calls.length = 0;
  assert.equal(await w.run({ adopt: true, retryNow: true }), 0);
  assert.deepEqual(w.files.calls, [], "a matching file is taken over, not rewritten");
  const manifest = await new StateStore(SETTINGS.stateDir, w.files).readManifest();
  assert.deepEqual(manifest?.files.map((f) => f.path), ["/q/web.container"]);
});

Deno.test("agent: the trigger is cleared right after the lock, before the fetch; also when the lock is held", async () => {
  const w = new World();
  const order: string[] = [];
  const ports = (): AgentPorts => {
    const base = w.ports();
    return {
      ...base,
      lock: async (path) => {
        const lock = await base.lock(path);
        order.push("lock");
        return lock;
      },
      clearTrigger: () => {
        order.push("clear trigger");
        return Promise.resolve();
      },
      source: {
        ...base.source,
        fetch: (request) => {
          order.push("fetch");
          return base.source.fetch(request);
        },
      },
    };
  };
  assert.equal(await runAgent(SETTINGS, ports()), 0);
  assert.deepEqual(order, ["lock", "clear trigger", "fetch"]);

  // Refused the lock (a manual run holds it): no fetch, and the trigger does not
  // restart the agent over and over meanwhile.
  order.length = 0;
  w.lockHeld = true;
  await assert.rejects(runAgent(SETTINGS, ports()), (e) => e instanceof CoreOpsError);
  assert.deepEqual(order, ["clear trigger"]);
  assert.equal(w.events.at(-1)?.failureClass, "transient");
});
