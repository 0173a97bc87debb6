/**
 * What the agent asks early, while git works (src/run/prefetch.ts): the first
 * identical question gets the early answer, every other one the host's.
 */
import assert from "node:assert/strict";
import { prefetchStamps, prefetchStates } from "../../src/run/prefetch.ts";
import { FakeFiles, FakeSystemd } from "../helpers/fakes.ts";

Deno.test("prefetchStamps: the first identical stamps() and list() get the early answers", async () => {
  const files = new FakeFiles();
  files.put("/q/a.container", "[Container]\n");
  files.put("/etc/a.conf", "a\n");
  const paths = ["/q/a.container", "/etc/a.conf"];
  const early = prefetchStamps(files, "/q", paths);
  const before = await files.stamps(paths);
  // The host moves after the early look: the first answers are of before, the next of now.
  files.put("/etc/a.conf", "b\n");
  files.put("/q/b.volume", "[Volume]\n");
  assert.deepEqual(await early.stamps(paths), before);
  assert.deepEqual(await early.list("/q"), ["/q/a.container"]);
  assert.notDeepEqual(await early.stamps(paths), before, "a second call asks again");
  assert.deepEqual(await early.list("/q"), ["/q/a.container", "/q/b.volume"]);
  // Another question is never answered early.
  const other = prefetchStamps(files, "/q", paths);
  assert.deepEqual(await other.stamps(["/etc/a.conf"]), await files.stamps(["/etc/a.conf"]));
  assert.deepEqual(await other.list("/etc"), ["/etc/a.conf"]);
  // Writes go through.
  await early.write("/etc/c.conf", new TextEncoder().encode("c\n"), 0o644);
  assert.equal(files.text("/etc/c.conf"), "c\n");
});

Deno.test("prefetchStates: one early list-units answers the identical first question", async () => {
  const systemd = new FakeSystemd();
  systemd.running("a.service");
  const early = prefetchStates(systemd, ["a.service"]);
  systemd.units.get("a.service")!.ActiveState = "failed";
  assert.equal((await early.systemd.states(["a.service"]))?.get("a.service")?.active, "active");
  assert.equal((await early.systemd.states(["a.service"]))?.get("a.service")?.active, "failed");
  await early.done;
});
