/** The mount index answers exactly what scanning with mountsPath answers, in item order. */
import assert from "node:assert/strict";
import { mountIndex } from "../../src/plan/mounts.ts";
import { mountsPath } from "../../src/plan/units.ts";

const PATHS = [
  "/etc/a/app.conf",
  "/etc/a/conf.d/1.conf",
  "/etc/a/conf.d/2.conf",
  "/etc/ab/x",
  "/etc/a/conf.dx/y",
  "/etc/b/app.env",
  "/srv/a/app.conf",
];

const MOUNTS = [
  "/",
  "/etc",
  "/etc/",
  "/etc/a",
  "/etc/a/",
  "/etc/a/conf.d",
  "/etc/a/conf.d/",
  "/etc/a/conf",
  "/etc/a/app.conf",
  "/etc/ab",
  "/etc/b/app.env",
  "/srv",
  "/nowhere",
];

Deno.test("mountIndex agrees with mountsPath for every pair of mounts", () => {
  const items = PATHS.map((path, n) => ({ path, n }));
  const lookup = mountIndex(items, (i) => i.path);
  for (const a of MOUNTS) {
    for (const b of [undefined, ...MOUNTS]) {
      const mounts = b === undefined ? [a] : [a, b];
      const expected = items.filter((i) => mountsPath(mounts, i.path));
      assert.deepEqual(lookup(mounts), expected, `mounts ${JSON.stringify(mounts)}`);
    }
  }
});

Deno.test("mountIndex yields each item once, in item order, for overlapping mounts", () => {
  const lookup = mountIndex(PATHS, (p) => p);
  assert.deepEqual(lookup(["/etc/a/conf.d/", "/etc/a", "/etc/a/app.conf"]), [
    "/etc/a/app.conf",
    "/etc/a/conf.d/1.conf",
    "/etc/a/conf.d/2.conf",
    "/etc/a/conf.dx/y",
  ]);
  assert.deepEqual(lookup([]), []);
});
