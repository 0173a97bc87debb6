/**
 * The bundled example (examples/homelab) is what newcomers copy: Podman's own
 * generator must accept it for every host, and plan must agree on the units.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Scenario } from "../lib/scenario.ts";
import { exampleFiles, REPO } from "./fixtures.ts";

/** validate (with the real generator) and plan for each host of the example. */
export const exampleScenarios: Scenario[] = [
  {
    name: "example: the generator accepts examples/homelab for hosts nas and edge",
    async run(t) {
      await t.writeRepo(REPO, await exampleFiles());
      for (const [host, quadletUnits] of [["nas", 6], ["edge", 3]] as const) {
        const validate = await t.coreOps(["validate", "--source-repo", REPO, "--host", host]);
        assert.equal(validate.code, 0, validate.stderr);
        assert.match(
          validate.stdout,
          new RegExp(`generator ok: \\S+ accepted ${quadletUnits} units`),
        );

        const plan = await t.coreOpsJson(["plan", "--source-repo", REPO, "--host", host, "--json"]);
        const units = plan.units as Record<string, { load: string }>;
        // Nothing is deployed yet: systemd knows none of the example's units.
        assert.ok(Object.values(units).every((u) => u.load === "not-found"), JSON.stringify(units));
      }
    },
  },
];
