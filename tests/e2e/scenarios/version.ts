/**
 * The offline package works on the host the way an operator calls it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GUEST_CORE_OPS, GUEST_PACKAGE_DIR } from "../lib/guest.ts";
import { describe, type Scenario } from "../lib/scenario.ts";
import { VERSION } from "../../../src/version.ts";

/** `core-ops --version` through /usr/local/bin on a host with no Deno and no network. */
export const versionScenarios: Scenario[] = [
  {
    name: "version: core-ops --version via /usr/local/bin",
    async run(t) {
      const link = await t.ok(["readlink", GUEST_CORE_OPS]);
      assert.equal(link.stdout.trim(), `${GUEST_PACKAGE_DIR}/bin/core-ops`);
      // Resolved through PATH from an unrelated cwd, with the guest's bare environment.
      const result = await t.exec(["core-ops", "--version"], { cwd: "/var/tmp" });
      assert.equal(result.code, 0, describe(["core-ops", "--version"], result));
      assert.equal(result.stdout, `${VERSION}\n`);
      // The host has no Deno of its own: the package must be all it needs.
      assert.notEqual((await t.exec(["which", "deno"])).code, 0);
      // Mounted read-only, as a package under /usr would be on an image-based host.
      assert.notEqual((await t.exec(["touch", `${GUEST_PACKAGE_DIR}/probe`])).code, 0);
    },
  },
];
