/** The naming step plan and validate share: generator when present, else built-in. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { nameUnits } from "../../src/run/naming.ts";
import { CoreOpsError } from "../../src/errors.ts";
import type { DryRunResult, ExtraQuadletFile, QuadletGenerator } from "../../src/plan/dryrun.ts";
import type { Artifact } from "../../src/model.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

const state = loadDesiredState(
  memoryTree({
    "services/a/quadlet/db@.volume": "[Volume]\n",
    "services/a/quadlet/db@.volume.d/10.conf": "[Volume]\nLabel=a=b\n",
    "services/a/systemd/x.service": "[Service]\nExecStart=/bin/true\n",
  }),
  { host: null, dirs: DIRS },
);

/** A recording generator that answers with `result`. */
function generator(result: DryRunResult) {
  const calls: { quadlets: string[]; dir: string; extra: string[] }[] = [];
  const fake: QuadletGenerator = {
    dryRun(quadlets: readonly Artifact[], dir: string, extra: readonly ExtraQuadletFile[] = []) {
      calls.push({
        quadlets: quadlets.map((a) => a.destination),
        dir,
        extra: extra.map((e) => e.path),
      });
      return Promise.resolve(result);
    },
  };
  return { fake, calls };
}

const unitOf = (artifacts: readonly Artifact[]) =>
  artifacts.filter((a) => a.unit !== null).map((a) => `${a.destination} ${a.unit}`);

Deno.test("with a generator, its names win over the built-in ones and --podman-version", async () => {
  const { fake, calls } = generator({
    status: "ok",
    generator: "/usr/libexec/podman/quadlet",
    units: ["db@-volume.service"],
    generated: [{ unit: "db@-volume.service", source: "/q/db@.volume" }],
  });
  const extra = [{ path: "/q/hand.container", content: new Uint8Array() }];
  const named = await nameUnits(state, "/q", fake, "5.9.0", extra);
  assert.deepEqual(calls, [{
    quadlets: ["/q/db@.volume", "/q/db@.volume.d/10.conf"],
    dir: "/q",
    extra: ["/q/hand.container"],
  }]);
  assert.deepEqual(named.naming, { by: "generator", generator: "/usr/libexec/podman/quadlet" });
  assert.deepEqual(unitOf(named.desired.artifacts), [
    "/q/db@.volume db@-volume.service",
    "/q/db@.volume.d/10.conf db@-volume.service",
    "/s/x.service x.service",
  ]);
});

Deno.test("without a generator, the built-in naming follows --podman-version", async () => {
  const { fake } = generator({ status: "skipped", reason: "not installed" });
  const old = await nameUnits(state, "/q", fake, "5.4.2");
  assert.deepEqual(old.naming, { by: "built-in", templates: "podman<5.7", podmanVersion: "5.4.2" });
  assert.equal(old.desired.artifacts[0].unit, "db@-volume.service");
  const newest = await nameUnits(state, "/q", fake, undefined);
  assert.deepEqual(newest.naming, {
    by: "built-in",
    templates: "podman>=5.7",
    podmanVersion: null,
  });
  assert.equal(newest.desired.artifacts[0].unit, "db-volume@.service");
});

Deno.test("a generator rejection is 65 with its diagnostics; a bad version is 64 before any run", async () => {
  const { fake, calls } = generator({
    status: "rejected",
    generator: "g",
    diagnostics: [{ message: "bad", location: { file: "services/a/quadlet/db@.volume" } }],
  });
  await assert.rejects(
    () => nameUnits(state, "/q", fake, undefined),
    (e: unknown) =>
      e instanceof CoreOpsError && e.exitCode === 65 && e.diagnostics[0].message === "bad",
  );
  await assert.rejects(
    () => nameUnits(state, "/q", fake, "five"),
    (e: unknown) => e instanceof CoreOpsError && e.exitCode === 64,
  );
  assert.equal(calls.length, 1);
});
