/** Parsing `systemctl` output, and the instance globs of templates. */
import assert from "node:assert/strict";
import { instancePattern, parseListUnits, parseShowBlocks } from "../../src/host/systemd.ts";

Deno.test("show: one block per unit, in the order the units were named", () => {
  const text =
    "LoadState=loaded\nActiveState=active\n\nLoadState=not-found\nActiveState=inactive\n";
  assert.deepEqual(parseShowBlocks(text), [
    { LoadState: "loaded", ActiveState: "active" },
    { LoadState: "not-found", ActiveState: "inactive" },
  ]);
  assert.deepEqual(parseShowBlocks(""), []);
});

Deno.test("list-units -o json: unit, load and active state; escaped names kept", () => {
  // The shape systemd 257 prints in the e2e guest.
  const json = JSON.stringify([
    { unit: "bad@z.service", load: "loaded", active: "failed", sub: "failed", description: "b" },
    {
      unit: "echo@b\\x2dc.service",
      load: "loaded",
      active: "active",
      sub: "running",
      description: "e",
    },
  ]);
  assert.deepEqual([...parseListUnits(json)], [
    ["bad@z.service", { load: "loaded", active: "failed" }],
    ["echo@b\\x2dc.service", { load: "loaded", active: "active" }],
  ]);
  assert.deepEqual([...parseListUnits("[]")], []);
  assert.throws(() => parseListUnits('[{"unit":1}]'));
});

Deno.test("instance patterns glob the instance part of a template", () => {
  assert.equal(instancePattern("web@.service"), "web@*.service");
  assert.equal(instancePattern("foo-volume@.service"), "foo-volume@*.service");
});
