/** The `--version` line (pure); tests/integration/version_test.ts has git and the stamp. */
import assert from "node:assert/strict";
import { formatVersion, VERSION } from "../../src/version.ts";
import { STAMP } from "../../src/build_stamp.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";

Deno.test("version: the line names the commit, and dirty only for a modified tree", () => {
  assert.equal(formatVersion({ commit: SHA, dirty: false }), `${VERSION} (commit ${SHA})`);
  assert.equal(formatVersion({ commit: SHA, dirty: true }), `${VERSION} (commit ${SHA}, dirty)`);
  // Without a commit there is nothing to call dirty: no guess either way.
  assert.equal(formatVersion({ commit: null, dirty: false }), `${VERSION} (commit unknown)`);
  assert.equal(formatVersion({ commit: null, dirty: true }), `${VERSION} (commit unknown)`);
});

Deno.test("version: the checkout is not stamped (its --version asks git)", () => {
  assert.equal(STAMP, null);
});
