/** Parsing batched `systemctl show` output. */
import assert from "node:assert/strict";
import {
  FakeUnitStates,
  instancePattern,
  parseListUnits,
  parseShow,
} from "../../src/host/systemctl.ts";

Deno.test("one state per block, in the order the units were named", () => {
  const text =
    "LoadState=loaded\nActiveState=active\n\nLoadState=not-found\nActiveState=inactive\n";
  assert.deepEqual(parseShow(text), [
    { load: "loaded", active: "active" },
    { load: "not-found", active: "inactive" },
  ]);
  assert.deepEqual(parseShow(""), []);
});

Deno.test("list-units lines: unit, load and active state, padded columns; empty output", () => {
  // What systemd 257 printed in the e2e guest for `echo@*.service bad@*.service`.
  const text = "bad@z.service       loaded failed failed  bad@z.service\n" +
    "echo@a.service      loaded active running echo@a.service\n" +
    "echo@b\\x2dc.service loaded active running echo@b\\x2dc.service\n";
  assert.deepEqual(
    [...parseListUnits(text)],
    [
      ["bad@z.service", { load: "loaded", active: "failed" }],
      ["echo@a.service", { load: "loaded", active: "active" }],
      ["echo@b\\x2dc.service", { load: "loaded", active: "active" }],
    ],
  );
  assert.deepEqual([...parseListUnits("")], []);
  assert.deepEqual([...parseListUnits("● x@1.service not-found inactive dead x@1.service\n")], [
    ["x@1.service", { load: "not-found", active: "inactive" }],
  ]);
});

Deno.test("instance patterns glob the instance part of a template", () => {
  assert.equal(instancePattern("web@.service"), "web@*.service");
  assert.equal(instancePattern("foo-volume@.service"), "foo-volume@*.service");
});

Deno.test("the fake answers both queries and records each call", async () => {
  const fake = new FakeUnitStates(
    new Map([["a.service", { load: "loaded", active: "active" }]]),
    new Map([
      ["web@1.service", { load: "loaded", active: "active" }],
      ["other@1.service", { load: "loaded", active: "active" }],
    ]),
  );
  assert.deepEqual([...(await fake.show(["a.service", "b.service", "web@.service"]))!], [
    ["a.service", { load: "loaded", active: "active" }],
    ["b.service", { load: "not-found", active: "inactive" }],
  ]);
  assert.deepEqual([...(await fake.instances(["web@.service"]))!.keys()], ["web@1.service"]);
  assert.deepEqual(fake.calls, [
    { method: "show", names: ["a.service", "b.service", "web@.service"] },
    { method: "instances", names: ["web@.service"] },
  ]);
  assert.equal(await new FakeUnitStates(null, null).instances(["web@.service"]), null);
});
