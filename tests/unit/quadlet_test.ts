/**
 * Judging the quadlet generator's dry-run. The stderr shapes are those Podman
 * 5.4.2 printed in the e2e guest (tests/e2e/scenarios/validate.ts runs the
 * real generator).
 */
import assert from "node:assert/strict";
import { generatedUnits, judgeDryRun } from "../../src/host/quadlet.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

const quadlets = loadDesiredState(
  memoryTree({
    "services/web/quadlet/web.container": "[Container]\nImage=x\n",
    "services/web/quadlet/web.container.d/10.conf": "[Container]\nFooBar=1\n",
    "services/web/quadlet/data.volume": "[Volume]\n",
  }),
  { host: null, dirs: { quadletDir: "/q", systemdUnitDir: "/s", configDir: "/etc" } },
).artifacts;

const GOOD = "---data-volume.service---\n[Unit]\n\n---web.service---\n[Unit]\n";
const LOADING = "quadlet-generator[42]: Loading source unit file web.container\n" +
  "quadlet-generator[42]: Loading source unit file data.volume\n";

Deno.test("generated unit names come from the section headers", () => {
  assert.deepEqual(generatedUnits(GOOD), ["data-volume.service", "web.service"]);
});

Deno.test("a clean dry-run has no diagnostics; loading lines are not problems", () => {
  assert.deepEqual(judgeDryRun(quadlets, 0, GOOD, LOADING).diagnostics, []);
});

Deno.test("an unsupported key names the base file and points at its drop-ins", () => {
  const stderr = LOADING +
    `quadlet-generator[42]: converting "web.container": unsupported key 'FooBar' in group 'Container' in web.container\n`;
  const { diagnostics } = judgeDryRun(quadlets, 1, "---data-volume.service---\n", stderr);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].location?.file, "services/web/quadlet/web.container");
  assert.match(diagnostics[0].message, /unsupported key 'FooBar'/);
  assert.match(diagnostics[0].hint ?? "", /services\/web\/quadlet\/web\.container\.d\/10\.conf/);
});

Deno.test("a unit the generator silently dropped is a rejection", () => {
  const { diagnostics } = judgeDryRun(quadlets, 0, "---data-volume.service---\n", LOADING);
  assert.deepEqual(diagnostics.map((d) => [d.location?.file, d.message]), [
    ["services/web/quadlet/web.container", "the quadlet generator produced no web.service for it"],
  ]);
});

Deno.test("a syntax error and a missing reference are tied to their files", () => {
  const stderr =
    `quadlet-generator[7]: error loading "data.volume", file contains line 1: “[Volume” which is not a key-value pair, group, or comment\n` +
    `quadlet-generator[7]: converting "web.container": requested Quadlet source missing.volume was not found\n`;
  const { diagnostics } = judgeDryRun(quadlets, 1, "", stderr);
  assert.deepEqual(diagnostics.map((d) => d.location?.file), [
    "services/web/quadlet/data.volume",
    "services/web/quadlet/web.container",
  ]);
  assert.match(diagnostics[0].message, /not a key-value pair/);
  assert.match(diagnostics[1].message, /missing\.volume was not found/);
});

Deno.test("a failing exit with every unit produced is still a failure", () => {
  const { diagnostics } = judgeDryRun(quadlets, 2, GOOD, "quadlet-generator[1]: something broke\n");
  assert.deepEqual(diagnostics, [{
    message: "the quadlet generator failed (exit 2): something broke",
  }]);
});
