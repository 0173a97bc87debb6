/** The unit file reader: what the planner's dependency facts stand on. */
import assert from "node:assert/strict";
import { lastValue, parseUnitFile, splitList, values } from "../../src/source/unitfile.ts";

Deno.test("sections, keys, values and lines; comments skipped", () => {
  const file = parseUnitFile(
    "# head\n[Unit]\nAfter=a.service b.service\n; note\n\n[Container]\nImage = x \n",
  );
  assert.deepEqual(file.sections, ["Unit", "Container"]);
  assert.deepEqual(file.entries, [
    { section: "Unit", key: "After", value: "a.service b.service", line: 3 },
    { section: "Container", key: "Image", value: "x", line: 7 },
  ]);
});

Deno.test("a trailing backslash continues the value on the next line", () => {
  const file = parseUnitFile("[Container]\nExec=/bin/sh -c \\\n  'echo hi'\nImage=x\n");
  assert.deepEqual(file.entries.map((e) => [e.key, e.value, e.line]), [
    ["Exec", "/bin/sh -c  'echo hi'", 2],
    ["Image", "x", 4],
  ]);
});

Deno.test("values accumulate across files and an empty assignment resets them", () => {
  const a = parseUnitFile("[Container]\nVolume=a.volume:/a\nVolume=b.volume:/b\n");
  const b = parseUnitFile("[Container]\nVolume=\nVolume=c.volume:/c\n");
  assert.deepEqual(values([a], "Container", "Volume"), ["a.volume:/a", "b.volume:/b"]);
  assert.deepEqual(values([a, b], "Container", "Volume"), ["c.volume:/c"]);
  assert.equal(lastValue([a, b], "Container", "Image"), undefined);
  assert.deepEqual(splitList("  a  b\tc "), ["a", "b", "c"]);
});

Deno.test("lines outside a section or without '=' are not entries", () => {
  assert.deepEqual(parseUnitFile("Orphan=1\n[Unit]\njunk\n").entries, []);
});
