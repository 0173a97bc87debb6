/**
 * The bundled example (examples/homelab) is what newcomers copy: Podman's own
 * generator must accept it for every host, and plan must agree on the units.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import type { Files, Scenario } from "../lib/scenario.ts";
import { REPO } from "./fixtures.ts";

const EXAMPLE = new URL("../../../examples/homelab", import.meta.url).pathname;

/** Every file of the example, as the scenario helpers write them (modes kept). */
export async function exampleFiles(): Promise<Files> {
  const files: Files = {};
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else {
        const mode = (await Deno.stat(path)).mode ?? 0o644;
        files[relative(EXAMPLE, path)] = {
          content: await Deno.readTextFile(path),
          mode: mode & 0o777,
        };
      }
    }
  };
  await walk(EXAMPLE);
  return files;
}

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
