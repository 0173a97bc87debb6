/**
 * The offline package works on the host the way an operator calls it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GUEST_CORE_OPS, GUEST_PACKAGE_DIR } from "../lib/guest.ts";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { builtFrom as gitBuiltFrom } from "../../../src/host/git.ts";
import { type BuiltFrom, formatVersion, VERSION } from "../../../src/version.ts";

const CHECKOUT = new URL("../../..", import.meta.url).pathname;

/**
 * What the installed package must print: the line of the stamp it was built
 * with (read from the guest's package), whose commit is this checkout's
 * HEAD. Its dirty flag is taken from the stamp, not from git now: the tree
 * may have changed since the package was built (tests/integration/
 * package_test.ts checks that a dirty tree is stamped dirty).
 */
async function expectedVersion(t: ScenarioContext): Promise<string> {
  const text = await t.readFile(`${GUEST_PACKAGE_DIR}/app/src/build_stamp.ts`);
  const json = text.match(/^export const STAMP\b[^=]*= (.*);$/m)?.[1];
  assert.ok(json, `the package is not stamped:\n${text}`);
  const stamp: BuiltFrom = JSON.parse(json);
  assert.equal(stamp.commit, (await gitBuiltFrom(CHECKOUT)).commit);
  return `${formatVersion(stamp)}\n`;
}

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
      assert.equal(result.stdout, await expectedVersion(t));
      assert.match(
        result.stdout,
        new RegExp(`^${VERSION.replaceAll(".", "\\.")} \\(commit [0-9a-f]{40}`),
      );
      // The host has no Deno of its own: the package must be all it needs.
      assert.notEqual((await t.exec(["which", "deno"])).code, 0);
      // Mounted read-only, as a package under /usr would be on an image-based host.
      assert.notEqual((await t.exec(["touch", `${GUEST_PACKAGE_DIR}/probe`])).code, 0);
    },
  },
  {
    name: "version: the launcher keeps Deno's caches only in a dir the caller owns",
    async run(t) {
      const dir = "/var/cache/core-ops/deno-dir";
      const expected = await expectedVersion(t);
      const version = async (args: string[] = [], env?: Record<string, string>) => {
        const argv = [...args, "core-ops", "--version"];
        const result = await t.exec(argv, { cwd: "/var/tmp", env });
        assert.equal(result.code, 0, describe(argv, result));
        assert.equal(result.stdout, expected);
      };
      // root, first run: the private cache is made (0700) and holds the V8 code cache.
      await t.ok(["rm", "-rf", "/var/cache/core-ops"]);
      await version();
      assert.equal((await t.ok(["stat", "-c", "%a %U", dir])).stdout.trim(), "700 root");
      const codeCache = async (at: string) =>
        (await t.ok(["find", at, "-maxdepth", "1", "-name", "v8_code_cache*", "-size", "+16k"]))
          .stdout.trim();
      assert.notEqual(await codeCache(dir), "", "Deno kept its code cache there");

      // A non-root caller never uses root's dir: its own cache under $HOME.
      const home = "/var/tmp/launcher-home";
      await t.ok(["install", "-d", "-o", "nobody", "-m", "700", home]);
      await version(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"], {
        HOME: home,
      });
      const own = `${home}/.cache/core-ops/deno-dir`;
      assert.equal((await t.ok(["stat", "-c", "%U", own])).stdout.trim(), "nobody");
      assert.notEqual(await codeCache(own), "", "the caller's own code cache");

      // A cache dir root does not own, or a symlink in its place, is never used.
      for (const plant of [["chown", "nobody", dir], ["ln", "-sfn", "/var/tmp/elsewhere", dir]]) {
        await t.ok(["rm", "-rf", dir, "/var/tmp/elsewhere"]);
        await t.ok(["mkdir", "-p", dir, "/var/tmp/elsewhere"]);
        if (plant[0] === "ln") await t.ok(["rmdir", dir]);
        await t.ok(plant);
        await version();
        const inside = (await t.ok(["find", "/var/tmp/elsewhere", dir, "-mindepth", "1"]))
          .stdout.trim();
        assert.equal(inside, "", `${plant.join(" ")}: nothing written there`);
      }
      await t.ok(["rm", "-rf", "/var/cache/core-ops", "/var/tmp/elsewhere"]);
    },
  },
];
