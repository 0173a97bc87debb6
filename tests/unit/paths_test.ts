/** src/paths.ts gives what node:path gives, for any path made of the characters that matter. */
import assert from "node:assert/strict";
import * as node from "node:path";
import fc from "fast-check";
import { basename, dirname, join } from "../../src/paths.ts";

const segment = fc.constantFrom("", ".", "..", "a", "b.conf", "/", "//", "c/", "/d", "e/..", "./f");
const path = fc.array(segment, { maxLength: 6 }).map((parts) => parts.join(""));

Deno.test("paths: join, dirname and basename agree with node:path", () => {
  fc.assert(
    fc.property(fc.array(path, { maxLength: 4 }), (parts) => {
      assert.equal(join(...parts), node.posix.join(...parts), JSON.stringify(parts));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(path, (p) => {
      assert.equal(dirname(p), node.posix.dirname(p), JSON.stringify(p));
      assert.equal(basename(p), node.posix.basename(p), JSON.stringify(p));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("paths: the cases core-ops meets", () => {
  assert.equal(join("/var/lib/core-ops", "objects", "ab12"), "/var/lib/core-ops/objects/ab12");
  assert.equal(dirname("/etc/containers/systemd/web.container"), "/etc/containers/systemd");
  assert.equal(basename("/etc/web/app.conf"), "app.conf");
  assert.equal(join("/q", "sub/../x.volume"), "/q/x.volume");
});
