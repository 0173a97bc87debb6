/**
 * Judging the quadlet generator's dry-run. The stderr shapes are those Podman
 * 5.4.2 printed in the e2e guest (tests/e2e/scenarios/validate.ts runs the
 * real generator).
 */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import {
  crashSuspects,
  generatedUnits,
  generatorCrash,
  judgeDryRun,
  parseDryRun,
} from "../../src/plan/dryrun.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

const quadlets = loadDesiredState(
  memoryTree({
    "services/web/quadlet/web.container": "[Container]\nImage=x\n",
    "services/web/quadlet/web.container.d/10.conf": "[Container]\nFooBar=1\n",
    "services/web/quadlet/data.volume": "[Volume]\n",
  }),
  { host: null, dirs: DIRS },
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
  const { diagnostics } = judgeDryRun(quadlets, 1, GOOD, "quadlet-generator[1]: something broke\n");
  assert.deepEqual(diagnostics, [{
    message: "the quadlet generator failed (exit 1): something broke",
  }]);
});

/** An excerpt of what Podman 5.4.2 printed for a template container and a ServiceName= volume. */
const REAL = `---web@.service---
[X-Container]
Image=localhost/busybox:latest

[Unit]
Wants=network-online.target
SourcePath=/q/web@.container
RequiresMountsFor=%t/containers

[Service]
ExecStart=/usr/bin/podman run --name systemd-%p_%i localhost/busybox:latest

---custom-vol.service---
[X-Volume]
ServiceName=custom-vol

[Unit]
SourcePath=/q/data.volume

[Service]
Type=oneshot
`;

Deno.test("each generated unit is paired with the SourcePath= of its [Unit] section", () => {
  assert.deepEqual(parseDryRun(REAL), [
    { unit: "web@.service", source: "/q/web@.container" },
    { unit: "custom-vol.service", source: "/q/data.volume" },
  ]);
  // SourcePath= outside [Unit] (e.g. in an X- section copy) does not count.
  assert.deepEqual(parseDryRun("---a.service---\n[X-Container]\nSourcePath=/x\n"), [
    { unit: "a.service", source: null },
  ]);
});

Deno.test("a unit is produced when the generator names its file, whatever the unit is called", () => {
  const out = "---data-volume.service---\n[Unit]\nSourcePath=/q/data.volume\n\n" +
    "---renamed.service---\n[Unit]\nSourcePath=/q/web.container\n";
  const judged = judgeDryRun(quadlets, 0, out, LOADING);
  assert.deepEqual(judged.diagnostics, []);
  assert.deepEqual(judged.generated, [
    { unit: "data-volume.service", source: "/q/data.volume" },
    { unit: "renamed.service", source: "/q/web.container" },
  ]);
});

/** Podman 5.4.2 on a.container, b.container (Mount= without source) and c.container. */
const CRASH_STDOUT = "---a.service---\n[Unit]\nSourcePath=/q/a.container\n\n";
const CRASH_STDERR = `quadlet-generator[103]: Loading source unit file a.container
quadlet-generator[103]: Loading source unit file b.container
quadlet-generator[103]: Loading source unit file c.container
panic: runtime error: index out of range [0] with length 0

goroutine 1 [running]:
github.com/containers/podman/pkg/systemd/quadlet.handleStorageSource(0xc0000c62d9?, 0xe?)
\tgithub.com/containers/podman/pkg/systemd/quadlet/quadlet.go:1895 +0x2d7
github.com/containers/podman/pkg/systemd/quadlet.ConvertContainer(0xc0000a6440, 0x0, 0xc00009b1a0)
\tgithub.com/containers/podman/pkg/systemd/quadlet/quadlet.go:836 +0x3bde
main.main()
`;

const crashSet = loadDesiredState(
  memoryTree({
    "services/s/quadlet/a.container": "[Container]\nImage=x\n",
    "services/s/quadlet/b.container": "[Container]\nImage=x\nMount=type=bind,destination=/x\n",
    "services/s/quadlet/c.container": "[Container]\nImage=x\n",
  }),
  { host: null, dirs: DIRS },
).artifacts;

Deno.test("a Go panic is a crash: its message, exit status and the kind being converted", () => {
  assert.deepEqual(generatorCrash(2, null, CRASH_STDERR), {
    status: "exit 2",
    message: "panic: runtime error: index out of range [0] with length 0",
    kind: "container",
  });
  assert.equal(generatorCrash(1, null, 'converting "x": bad\n'), null);
  assert.equal(generatorCrash(0, null, ""), null);
  assert.deepEqual(generatorCrash(137, "SIGKILL", "Loading source unit file a.container\n"), {
    status: "signal SIGKILL",
    message: "no message",
    kind: null,
  });
});

Deno.test("a crash blames the file being converted, not the last one loaded", () => {
  // The generator loads every file before converting any: c.container was
  // loaded last and a.container converted. b.container and c.container both
  // produced nothing; re-run alone (the adapter's isolation), only b crashes.
  const { diagnostics } = judgeDryRun(crashSet, 2, CRASH_STDOUT, CRASH_STDERR, {
    crashed: ["/q/b.container"],
  });
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].location?.file, "services/s/quadlet/b.container");
  assert.match(
    diagnostics[0].message,
    /crashed \(exit 2\): panic: runtime error: index out of range/,
  );
  assert.doesNotMatch(JSON.stringify(diagnostics), /c\.container|a\.container/);
});

Deno.test("a crash with one file left unconverted blames that file without isolation", () => {
  const twoFiles = crashSet.filter((a) => !a.source.endsWith("c.container"));
  const { diagnostics } = judgeDryRun(twoFiles, 2, CRASH_STDOUT, CRASH_STDERR);
  assert.deepEqual(diagnostics.map((d) => d.location?.file), ["services/s/quadlet/b.container"]);
});

Deno.test("with several suspects only those that crash alone are blamed, else none", () => {
  const stdout = ""; // crashed before converting any container
  const suspects = crashSuspects(
    crashSet.filter((a) => a.kind === "container").map((a) => a.destination),
    parseDryRun(stdout),
    "container",
  );
  assert.deepEqual(suspects, ["/q/a.container", "/q/b.container", "/q/c.container"]);
  const isolated = judgeDryRun(crashSet, 2, stdout, CRASH_STDERR, { crashed: ["/q/b.container"] });
  assert.deepEqual(isolated.diagnostics.map((d) => d.location?.file), [
    "services/s/quadlet/b.container",
  ]);
  const unknown = judgeDryRun(crashSet, 2, stdout, CRASH_STDERR);
  assert.equal(unknown.diagnostics.length, 1);
  assert.equal(unknown.diagnostics[0].location, undefined);
  assert.match(unknown.diagnostics[0].hint ?? "", /one of: services\/s\/quadlet\/a\.container/);
});

Deno.test("suspects follow the generator's conversion order: images first, pods last", () => {
  assert.deepEqual(
    crashSuspects(
      ["/q/p.pod", "/q/z.container", "/q/v.volume", "/q/i.image", "/q/b.build"],
      [],
      null,
    ),
    ["/q/i.image", "/q/v.volume", "/q/b.build", "/q/z.container", "/q/p.pod"],
  );
});

Deno.test("a hand-placed file the generator rejects is named by its host path", () => {
  const stderr =
    `quadlet-generator[5]: converting "hand.container": unsupported key 'X' in group 'Container'\n`;
  const { diagnostics } = judgeDryRun(quadlets, 1, GOOD, stderr, { extra: ["/q/hand.container"] });
  assert.deepEqual(diagnostics.map((d) => d.location?.file), ["/q/hand.container"]);
  assert.match(diagnostics[0].hint ?? "", /does not own/);
});
