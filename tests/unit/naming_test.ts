/** Unit naming: built-in per Podman version, or taken from the generator's dry-run. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { CoreOpsError } from "../../src/errors.ts";
import { namingForPodmanVersion, NEWEST_NAMING, quadletUnitName } from "../../src/model.ts";
import { describeNaming, withBuiltInNaming, withGeneratorNaming } from "../../src/plan/naming.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { type Files, memoryTree } from "../helpers/repo.ts";

const TEMPLATES: Files = {
  "services/a/quadlet/foo@.volume": "[Volume]\n",
  "services/a/quadlet/foo@.volume.d/10.conf": "[Volume]\nLabel=x=y\n",
  "services/a/quadlet/n@.network": "[Network]\n",
  "services/a/quadlet/p@.pod": "[Pod]\n",
  "services/a/quadlet/i@.image": "[Image]\nImage=x\n",
  "services/a/quadlet/b@.build": "[Build]\nImageTag=x\n",
  "services/a/quadlet/web@.container": "[Container]\nImage=x\n",
  "services/a/quadlet/k@.kube": "[Kube]\nYaml=/etc/a/k.yaml\n",
  "services/a/quadlet/named@.volume": "[Volume]\nServiceName=custom@\n",
};

function units(files: Files, relabel = (d: ReturnType<typeof loadDesiredState>) => d) {
  const state = relabel(loadDesiredState(memoryTree(files), { host: null, dirs: DIRS }));
  return Object.fromEntries(state.artifacts.map((a) => [a.source.split("/quadlet/")[1], a.unit]));
}

Deno.test("Podman versions map to the template naming they use; garbage is null", () => {
  assert.equal(namingForPodmanVersion("5.4.2"), "podman<5.7");
  assert.equal(namingForPodmanVersion("v4.9.3"), "podman<5.7");
  assert.equal(namingForPodmanVersion("5.6"), "podman<5.7");
  assert.equal(namingForPodmanVersion("5.7.0"), "podman>=5.7");
  assert.equal(namingForPodmanVersion("5.8.0-rc1"), "podman>=5.7");
  assert.equal(namingForPodmanVersion("6.0"), "podman>=5.7");
  assert.equal(namingForPodmanVersion("latest"), null);
  assert.equal(namingForPodmanVersion("5"), null);
  assert.equal(NEWEST_NAMING, "podman>=5.7");
});

Deno.test("template volumes, networks, pods, images, builds: foo-volume@ (≥5.7), foo@-volume (<5.7)", () => {
  assert.equal(quadletUnitName("foo@", "volume", undefined, "podman>=5.7"), "foo-volume@.service");
  assert.equal(quadletUnitName("foo@", "volume", undefined, "podman<5.7"), "foo@-volume.service");
  assert.equal(quadletUnitName("foo", "volume", undefined, "podman>=5.7"), "foo-volume.service");
  assert.equal(
    quadletUnitName("foo@bar", "volume", undefined, "podman>=5.7"),
    "foo@bar-volume.service",
  );
  const newest = units(TEMPLATES, (d) => withBuiltInNaming(d, "podman>=5.7"));
  const old = units(TEMPLATES, (d) => withBuiltInNaming(d, "podman<5.7"));
  assert.deepEqual(newest, {
    "b@.build": "b-build@.service",
    "foo@.volume": "foo-volume@.service",
    "foo@.volume.d/10.conf": "foo-volume@.service",
    "i@.image": "i-image@.service",
    "k@.kube": "k@.service",
    "n@.network": "n-network@.service",
    "named@.volume": "custom@.service",
    "p@.pod": "p-pod@.service",
    "web@.container": "web@.service",
  });
  // What Podman 5.4.2 printed in the e2e guest for the same kinds.
  assert.deepEqual(old, {
    "b@.build": "b@-build.service",
    "foo@.volume": "foo@-volume.service",
    "foo@.volume.d/10.conf": "foo@-volume.service",
    "i@.image": "i@-image.service",
    "k@.kube": "k@.service",
    "n@.network": "n@-network.service",
    "named@.volume": "custom@.service",
    "p@.pod": "p@-pod.service",
    "web@.container": "web@.service",
  });
  assert.deepEqual(units(TEMPLATES), newest, "the loader's default is the newest naming");
});

Deno.test("a ServiceName= in a drop-in (applied in file-name order) names the unit", () => {
  const files: Files = {
    "services/a/quadlet/v@.volume": "[Volume]\n",
    "services/a/quadlet/v@.volume.d/10.conf": "[Volume]\nServiceName=first\n",
    "services/a/quadlet/v@.volume.d/20.conf": "[Volume]\nServiceName=second\n",
  };
  const got = units(files, (d) => withBuiltInNaming(d, "podman<5.7"));
  assert.equal(got["v@.volume"], "second.service");
  assert.equal(got["v@.volume.d/10.conf"], "second.service");
});

Deno.test("the generator's names replace the built-in ones, drop-ins included", () => {
  const got = units(TEMPLATES, (d) =>
    withGeneratorNaming(d, [
      { unit: "foo@-volume.service", source: "/q/foo@.volume" },
      { unit: "web@.service", source: "/q/web@.container" },
      { unit: "unrelated.service", source: "/q/hand.container" },
      { unit: "nameless.service", source: null },
    ]));
  assert.equal(got["foo@.volume"], "foo@-volume.service");
  assert.equal(got["foo@.volume.d/10.conf"], "foo@-volume.service");
  assert.equal(got["web@.container"], "web@.service");
  // Not in the generator's output: the built-in name stays (the dry-run judgement reports it).
  assert.equal(got["n@.network"], "n-network@.service");
});

Deno.test("two quadlets with one unit under the generator's naming are refused with 65", () => {
  const files: Files = {
    "services/a/quadlet/x.container": "[Container]\nImage=x\n",
    "services/a/quadlet/y.container": "[Container]\nImage=x\n",
  };
  const state = loadDesiredState(memoryTree(files), { host: null, dirs: DIRS });
  assert.throws(
    () =>
      withGeneratorNaming(state, [
        { unit: "same.service", source: "/q/x.container" },
        { unit: "same.service", source: "/q/y.container" },
      ]),
    (e: unknown) =>
      e instanceof CoreOpsError && e.exitCode === 65 &&
      /two sources for one unit same\.service .*services\/a\/quadlet\/x\.container and services\/a\/quadlet\/y\.container/
        .test(e.diagnostics[0].message),
  );
});

Deno.test("a hand-placed quadlet making one of our units is refused with 65, naming both", () => {
  const files: Files = { "services/a/quadlet/x.container": "[Container]\nImage=x\n" };
  const state = loadDesiredState(memoryTree(files), { host: null, dirs: DIRS });
  assert.throws(
    () =>
      withGeneratorNaming(state, [
        { unit: "x.service", source: "/q/x.container" },
        { unit: "x.service", source: "/q/sub/hand.container" },
      ]),
    (e: unknown) =>
      e instanceof CoreOpsError && e.exitCode === 65 &&
      e.diagnostics[0].location?.file === "services/a/quadlet/x.container" &&
      /also makes x\.service from \/q\/sub\/hand\.container/.test(e.diagnostics[0].message),
  );
});

Deno.test("the naming description says which naming was assumed", () => {
  assert.match(
    describeNaming({ by: "built-in", templates: "podman<5.7", podmanVersion: "5.4.2" }),
    /Podman 5\.4\.2 .*foo@-volume\.service/,
  );
  assert.match(
    describeNaming({ by: "built-in", templates: "podman>=5.7", podmanVersion: null }),
    /newest Podman .*foo-volume@\.service/,
  );
  assert.match(
    describeNaming({ by: "generator", generator: "/usr/libexec/podman/quadlet" }),
    /from the quadlet generator \(\/usr\/libexec\/podman\/quadlet\)/,
  );
});
