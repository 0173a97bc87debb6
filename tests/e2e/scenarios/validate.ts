/**
 * `core-ops validate` on a real host: the candidate quadlet set goes through
 * Podman's own generator, so what the generator rejects is rejected here.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Result } from "../lib/proc.ts";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { container, REPO, webService, withHost } from "./fixtures.ts";

/** Where validate could write if it were wrong to: the deploy targets and the state dir. */
const TARGETS = ["/etc/containers/systemd", "/etc/systemd/system", "/var/lib/core-ops"];

/** Runs validate and asserts its exit code and that it left the targets as they were. */
async function validate(t: ScenarioContext, args: string[], code: number): Promise<Result> {
  const before = await t.snapshot(TARGETS);
  const result = await t.coreOps(["validate", ...args]);
  assert.equal(result.code, code, describe(["core-ops", "validate", ...args], result));
  assert.equal(await t.snapshot(TARGETS), before, "validate changed the host");
  return result;
}

/** Accepts good sets, rejects what the generator rejects, with exit 65 and the file named. */
export const validateScenarios: Scenario[] = [
  {
    name: "validate: accepts a container/volume/network set (no hosts/)",
    async run(t) {
      await t.writeRepo(REPO, webService());
      await validate(t, ["--source-repo", REPO], 0);
    },
  },
  {
    name: "validate: accepts the set for --host with hosts/",
    async run(t) {
      await t.writeRepo(REPO, withHost(webService(), "h1"));
      await validate(t, ["--source-repo", REPO, "--host", "h1"], 0);
    },
  },
  {
    name: "validate: rejects an unknown [Container] key (generator) with 65",
    async run(t) {
      await t.writeRepo(REPO, webService("FooBar=1\n"));
      const result = await validate(t, ["--source-repo", REPO], 65);
      // The operator needs the repo file, not the generator's staging copy.
      assert.match(result.stderr, /services\/web\/quadlet\/web\.container/, result.stderr);
      assert.match(result.stderr, /FooBar/, result.stderr);
    },
  },
  {
    name: "validate: rejects a container whose .volume is missing with 65",
    async run(t) {
      await t.writeRepo(REPO, webService("Volume=missing.volume:/missing\n"));
      const result = await validate(t, ["--source-repo", REPO], 65);
      assert.match(result.stderr, /services\/web\/quadlet\/web\.container/, result.stderr);
      assert.match(result.stderr, /missing\.volume/, result.stderr);
    },
  },
  {
    name: "validate: a bad key in a host drop-in names the base file and the drop-in",
    async run(t) {
      await t.writeRepo(REPO, {
        ...withHost(webService(), "h1"),
        "hosts/h1/web/quadlet/web.container.d/50-host.conf": "[Container]\nBogusKey=1\n",
      });
      const result = await validate(t, ["--source-repo", REPO, "--host", "h1"], 65);
      assert.match(
        result.stderr,
        /services\/web\/quadlet\/web\.container: .*BogusKey/,
        result.stderr,
      );
      assert.match(
        result.stderr,
        /hosts\/h1\/web\/quadlet\/web\.container\.d\/50-host\.conf/,
        result.stderr,
      );
    },
  },
];

/** A generator crash is blamed on the file it crashed on, never on the files after it. */
export const crashScenarios: Scenario[] = [
  {
    name: "validate: a generator crash names its status and only the file it crashed on",
    async run(t) {
      // Podman 5.4 panics on Mount= without a source; a.container converts
      // first, c.container is loaded last and never converted. Newer Podman
      // (5.8) rejects it cleanly instead: the generator itself says which.
      await t.writeRepo(REPO, {
        "services/web/quadlet/a.container": container(),
        "services/web/quadlet/b.container": container("Mount=type=bind,destination=/x\n"),
        "services/web/quadlet/c.container": container(),
      });
      const direct = await t.exec(["/usr/libexec/podman/quadlet", "-dryrun"], {
        env: { QUADLET_UNIT_DIRS: `${REPO}/services/web/quadlet` },
      });
      const panics = /^panic: /m.test(direct.stderr);
      const result = await validate(t, ["--source-repo", REPO], 65);
      assert.match(result.stderr, /services\/web\/quadlet\/b\.container/, result.stderr);
      if (panics) {
        assert.equal(direct.code, 2, direct.stderr);
        assert.match(result.stderr, /crashed \(exit 2\): panic: runtime error/, result.stderr);
      } else {
        assert.match(result.stderr, /rejected by the quadlet generator/, result.stderr);
        assert.doesNotMatch(result.stderr, /crashed/, result.stderr);
      }
      assert.doesNotMatch(result.stderr, /[ac]\.container/, result.stderr);
    },
  },
];
