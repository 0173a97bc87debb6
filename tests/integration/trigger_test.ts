/** The trigger file (SPEC §8): where it lives, and setting and clearing it on a real dir. */
import assert from "node:assert/strict";
import { clearTrigger, setTrigger, triggerPath } from "../../src/host/trigger.ts";
import { cli } from "../helpers/cli.ts";

Deno.test("trigger: it sits beside the run lock", () => {
  assert.equal(triggerPath("/run/core-ops/lock"), "/run/core-ops/trigger");
  assert.equal(triggerPath("/tmp/x/y.lock"), "/tmp/x/trigger");
});

Deno.test("trigger: set is idempotent and creates its dir; clear of a missing one is fine", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = triggerPath(`${dir}/run/lock`);
    await setTrigger(path);
    await setTrigger(path);
    const stat = await Deno.stat(path);
    assert.ok(stat.isFile);
    assert.equal(stat.size, 0);
    assert.equal(stat.mode! & 0o777, 0o600);
    await clearTrigger(path);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    await clearTrigger(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trigger: `core-ops trigger` sets the file beside the lock and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await cli(["trigger", "--lock-path", `${dir}/run/lock`], { writable: [dir] });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /trigger set/);
    assert.ok((await Deno.stat(`${dir}/run/trigger`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trigger: outside the granted dirs it is refused with 77, naming --lock-path", async () => {
  // Not under /tmp, which the production set may write.
  const dir = await Deno.makeTempDir({ dir: "/var/tmp" });
  try {
    const result = await cli(["trigger", "--lock-path", `${dir}/run/lock`]);
    assert.equal(result.code, 77, result.stderr);
    assert.match(result.stderr, /--lock-path/);
    await assert.rejects(Deno.stat(`${dir}/run/trigger`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
