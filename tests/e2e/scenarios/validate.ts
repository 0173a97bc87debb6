/**
 * `core-ops validate` on a real host: the candidate quadlet set goes through
 * Podman's own generator, so what the generator rejects is rejected here.
 *
 * @module
 */
import assert from "node:assert/strict";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { REPO, webService, withHost } from "./fixtures.ts";

/** validate writes nothing: the quadlet dir stays as the image shipped it. */
async function assertNothingDeployed(t: ScenarioContext): Promise<void> {
  const listing = await t.exec(["find", "/etc/containers/systemd", "-mindepth", "1"]);
  assert.equal(listing.stdout, "", "validate wrote into /etc/containers/systemd");
}

/** Accepts good sets, rejects what the generator rejects, with exit 65 and the file named. */
export const validateScenarios: Scenario[] = [
  {
    name: "validate: accepts a container/volume/network set (no hosts/)",
    async run(t) {
      await t.writeRepo(REPO, webService());
      const args = ["validate", "--source-repo", REPO];
      const result = await t.coreOps(args);
      assert.equal(result.code, 0, describe(args, result));
      await assertNothingDeployed(t);
    },
  },
  {
    name: "validate: accepts the set for --host with hosts/",
    async run(t) {
      await t.writeRepo(REPO, withHost(webService(), "h1"));
      const args = ["validate", "--source-repo", REPO, "--host", "h1"];
      const result = await t.coreOps(args);
      assert.equal(result.code, 0, describe(args, result));
      await assertNothingDeployed(t);
    },
  },
  {
    name: "validate: rejects an unknown [Container] key (generator) with 65",
    async run(t) {
      await t.writeRepo(REPO, webService("FooBar=1\n"));
      const args = ["validate", "--source-repo", REPO];
      const result = await t.coreOps(args);
      assert.equal(result.code, 65, describe(args, result));
      assert.match(result.stderr, /services\/web\/quadlet\/web\.container/, describe(args, result));
      assert.match(result.stderr, /FooBar/, describe(args, result));
      await assertNothingDeployed(t);
    },
  },
  {
    name: "validate: rejects a container whose .volume is missing with 65",
    async run(t) {
      await t.writeRepo(REPO, webService("Volume=missing.volume:/missing\n"));
      const args = ["validate", "--source-repo", REPO];
      const result = await t.coreOps(args);
      assert.equal(result.code, 65, describe(args, result));
      assert.match(result.stderr, /web\.container/, describe(args, result));
      assert.match(result.stderr, /missing\.volume/, describe(args, result));
      await assertNothingDeployed(t);
    },
  },
];
