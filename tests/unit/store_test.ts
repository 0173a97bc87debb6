/** A run's state store parses each file once, hands out copies, and follows its own writes. */
import assert from "node:assert/strict";
import type { FileContent } from "../../src/host/files.ts";
import { initialState, StateStore } from "../../src/state/store.ts";
import { FakeFiles } from "../helpers/fakes.ts";

/** FakeFiles that counts reads per path. */
class CountingFiles extends FakeFiles {
  reads = new Map<string, number>();
  override read(path: string): Promise<FileContent | null> {
    this.reads.set(path, (this.reads.get(path) ?? 0) + 1);
    return super.read(path);
  }
}

Deno.test("state store: one read per file per run; copies out; writes are what it reads next", async () => {
  const files = new CountingFiles();
  const store = new StateStore("/var/lib/state", files);
  const state = await store.readState();
  state.generation = 99; // a caller's change to its copy is not the store's
  assert.equal((await store.readState()).generation, 0);
  assert.equal(await store.readManifest(), null);
  assert.equal(await store.readManifest(), null);
  assert.equal(files.reads.get(store.statePath), 1);
  assert.equal(files.reads.get(store.manifestPath), 1);

  const next = { ...initialState(), generation: 3 };
  await store.writeState(next);
  next.generation = 4;
  assert.equal((await store.readState()).generation, 3);
  const manifest = { schema_version: 1 as const, files: [] };
  await store.writeManifest(manifest);
  assert.deepEqual(await store.readManifest(), manifest);
  assert.equal(files.reads.get(store.statePath), 1);
  // What it wrote is what another run reads.
  const other = new StateStore("/var/lib/state", files);
  assert.equal((await other.readState()).generation, 3);
  assert.deepEqual(await other.readManifest(), manifest);
});

Deno.test("state store: a failed write is not remembered as written", async () => {
  const files = new FakeFiles();
  const store = new StateStore("/var/lib/state", files);
  await store.writeState({ ...initialState(), generation: 1 });
  files.failWrites.add(store.statePath);
  await assert.rejects(store.writeState({ ...initialState(), generation: 2 }), /No space left/);
  assert.equal((await store.readState()).generation, 1);
});

Deno.test("state store: the last change has its own file; an older state.json's moves there", async () => {
  const files = new FakeFiles();
  const store = new StateStore("/var/lib/state", files);
  assert.equal(await store.readLastChange(), null);
  const change = {
    run_id: "run-1",
    revision: "r1",
    outcome: "success" as const,
    finished: "2026-12-01T10:00:00.000Z",
    steps: [{ op: "write", target: "/etc/a", reason: "new", status: "ok", message: "" }],
  };
  // A state.json of a version that kept the last change in it: read, then moved on the next write.
  files.put(store.statePath, JSON.stringify({ ...initialState(), last_change: change }));
  const old = new StateStore("/var/lib/state", files);
  const state = await old.readState();
  assert.equal("last_change" in state, false, "the state no longer carries it");
  assert.deepEqual(await old.readLastChange(), change);
  await old.writeState({ ...state, generation: 1 });
  assert.equal(JSON.parse(files.text(store.statePath)!).last_change, undefined);
  assert.deepEqual(JSON.parse(files.text(old.lastChangePath)!), change);
  assert.deepEqual(await new StateStore("/var/lib/state", files).readLastChange(), change);
  // A newer last change is never overwritten by an older state.json's.
  const newer = { ...change, run_id: "run-2" };
  await store.writeLastChange(newer);
  files.put(store.statePath, JSON.stringify({ ...initialState(), last_change: change }));
  const again = new StateStore("/var/lib/state", files);
  await again.writeState(await again.readState());
  assert.deepEqual(await again.readLastChange(), newer);
  // A damaged one is an explicit error naming the file.
  files.put(old.lastChangePath, "{");
  await assert.rejects(again.readLastChange(), /last-change\.json|last change/);
});
