/** Parsing batched `systemctl show` output. */
import assert from "node:assert/strict";
import { parseShow } from "../../src/host/systemctl.ts";

Deno.test("one state per block, in the order the units were named", () => {
  const text =
    "LoadState=loaded\nActiveState=active\n\nLoadState=not-found\nActiveState=inactive\n";
  assert.deepEqual(parseShow(text), [
    { load: "loaded", active: "active" },
    { load: "not-found", active: "inactive" },
  ]);
  assert.deepEqual(parseShow(""), []);
});
