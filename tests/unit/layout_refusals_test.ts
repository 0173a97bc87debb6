/**
 * Refusals of the pure loader (SPEC §1, issues 6 and 10) that are about the
 * layout as a whole: legacy and unknown directories, unit kinds, dotfiles,
 * ids and YAML manifests. Each case is exit 65 with a diagnostic naming the
 * file (and line:column for YAML). Hostile entries, UTF-8 contents, host
 * drop-in order, claims and config roots have their own files, named after
 * the modules that refuse them.
 */
import assert from "node:assert/strict";
import { BRING_UP_TIER } from "../../src/model.ts";
import { MAX_YAML_SIZE } from "../../src/source/yaml.ts";
import { parseManifest } from "../../src/state/manifest.ts";
import { assertRefused, bytesTree, load, repo } from "../helpers/layout.ts";
import { type Files, memoryTree } from "../helpers/repo.ts";

Deno.test("services/<svc>/quadlet-overrides/ is refused as legacy with a migration hint", () => {
  const error = assertRefused(
    memoryTree(repo({ "services/web/quadlet-overrides/web.container": "[Container]\n" })),
    "services/web/quadlet-overrides/",
    /legacy layout/,
  );
  assert.match(error.diagnostics[0].hint ?? "", /services\/web\/quadlet\/<unit>\.d\/<x>\.conf/);
});

Deno.test(".automount is a native unit: systemd/ payload, drop-ins, native tier, manifest kind", () => {
  const state = load(
    memoryTree({
      "services/nfs/systemd/mnt-data.mount": "[Mount]\nWhat=nas:/d\nWhere=/mnt/data\n",
      "services/nfs/systemd/mnt-data.automount": "[Automount]\nWhere=/mnt/data\n",
      "services/nfs/systemd/mnt-data.automount.d/10-idle.conf": "[Automount]\nTimeoutIdleSec=60\n",
    }),
    { host: null },
  );
  assert.deepEqual(
    state.artifacts.map((a) => `${a.kind} ${a.destination} [${a.unit}]`),
    [
      "automount /s/mnt-data.automount [mnt-data.automount]",
      "dropin /s/mnt-data.automount.d/10-idle.conf [mnt-data.automount]",
      "mount /s/mnt-data.mount [mnt-data.mount]",
    ],
  );
  assert.equal(BRING_UP_TIER.automount, BRING_UP_TIER.mount);
  const manifest = parseManifest(
    JSON.stringify({
      schema_version: 1,
      files: [{
        path: "/s/mnt-data.automount",
        sha256: "0".repeat(64),
        service: "nfs",
        kind: "automount",
        unit: "mnt-data.automount",
        revision: "r1",
      }],
    }),
    "manifest.json",
  );
  assert.equal(manifest.files[0].kind, "automount");
  assertRefused(
    memoryTree(repo({ "services/web/quadlet/x.automount": "[Automount]\n" })),
    "services/web/quadlet/x.automount",
    /does not belong in quadlet\//,
  );
});

Deno.test("dotfiles in config/ are deployed, except .gitkeep and .gitignore", () => {
  const state = load(memoryTree(repo({
    "services/web/config/.env": "A=1\n",
    "services/web/config/.gitkeep": "",
    "services/web/config/.gitignore": "*.bak\n",
    "services/web/config/.hidden/x.conf": "x\n",
    "hosts/h1/web/config/.env.local": "B=2\n",
  })));
  const config = state.artifacts.filter((a) => a.kind === "config").map((a) => a.destination);
  assert.deepEqual(config, [
    "/etc/web/.env",
    "/etc/web/.env.local",
    "/etc/web/.hidden/x.conf",
    "/etc/web/app.conf",
    "/etc/web/unrelated.txt",
  ]);
  assert.deepEqual(state.warnings, []);
});

Deno.test("dotfiles in quadlet/ and systemd/ are ignored with a warning (git's own silently)", () => {
  const state = load(memoryTree(repo({
    "services/web/quadlet/.old.container": "[Container]\n",
    "services/web/quadlet/.gitkeep": "",
    "services/echo/systemd/.echo.socket.swp": "x",
    "services/web/quadlet/web.container.d/.10-x.conf": "[Container]\n",
  })));
  assert.deepEqual(state.warnings.map((w) => `${w.file}: ${w.message}`).sort(), [
    "services/echo/systemd/.echo.socket.swp: dotfile in systemd/: ignored",
    "services/web/quadlet/.old.container: dotfile in quadlet/: ignored",
    "services/web/quadlet/web.container.d/.10-x.conf: dotfile in quadlet/: ignored",
  ]);
  assert.ok(!state.artifacts.some((a) => a.source.includes("/.")));
});
Deno.test("names with spaces or a leading '-' are not ids", () => {
  const cases: [Files, string, RegExp][] = [
    [
      { "services/my web/quadlet/a.container": "[Container]\n" },
      "services/my web",
      /invalid service id/,
    ],
    [{ "services/-rf/quadlet/a.container": "[Container]\n" }, "services/-rf", /invalid service id/],
    [
      { "services/web/quadlet/my web.container": "[Container]\n" },
      "services/web/quadlet/my web.container",
      /invalid unit name/,
    ],
    [
      { "services/web/quadlet/web.container.d/-x.conf": "[Container]\n" },
      "services/web/quadlet/web.container.d/-x.conf",
      /invalid drop-in name/,
    ],
    [{ "hosts/-h/host.yaml": "host: -h\nservices: []\n" }, "hosts/-h", /invalid host id/],
  ];
  for (const [change, where, message] of cases) {
    assertRefused(memoryTree(repo(change)), where, message);
  }
  assertRefused(
    memoryTree(repo({ "hosts/h1/host.yaml": "host: h1\nservices: [web, '-rf']\n" })),
    "hosts/h1/host.yaml:2:17",
    /must be a service identifier/,
  );
});
Deno.test("a YAML alias bomb in host.yaml is refused at the alias over the budget", () => {
  const bomb = [
    "a: &a [x, x, x, x, x, x, x, x, x]",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "host: h1",
    "services: [web]",
    "",
  ].join("\n");
  assertRefused(
    memoryTree(repo({ "hosts/h1/host.yaml": bomb })),
    "hosts/h1/host.yaml:3:36",
    /more than 16 aliases/,
  );
  // A few aliases are fine (and then judged by the schema).
  load(memoryTree(repo({ "hosts/h1/host.yaml": "host: &h h1\nservices: [web]\n" })));
});

Deno.test("custom tags in YAML are refused at their line:column; core tags are fine", () => {
  assertRefused(
    memoryTree(repo({ "hosts/h1/host.yaml": "host: h1\nservices: !!set {web}\n" })),
    "hosts/h1/host.yaml:2:17",
    /tag tag:yaml.org,2002:set is not allowed/,
  );
  assertRefused(
    memoryTree(repo({ "services/web/service.yaml": "config-root: !include web\n" })),
    "services/web/service.yaml:1:23",
    /tag !include is not allowed/,
  );
  load(memoryTree(repo({ "hosts/h1/host.yaml": "host: !!str h1\nservices: [web]\n" })));
});

Deno.test("deeply nested, oversize, multi-document or non-UTF-8 YAML is refused", () => {
  const nested = "host: h1\nservices: [web]\nx: " + "[".repeat(40) + "]".repeat(40) + "\n";
  assertRefused(
    memoryTree(repo({ "hosts/h1/host.yaml": nested })),
    "hosts/h1/host.yaml:3:20",
    /nested deeper than 16 levels/,
  );
  const huge = "host: h1\nservices: [web]\n" + "# padding\n".repeat(MAX_YAML_SIZE / 10);
  assertRefused(
    memoryTree(repo({ "hosts/h1/host.yaml": huge })),
    "hosts/h1/host.yaml",
    /larger than 64 KiB/,
  );
  assertRefused(
    memoryTree(repo({ "hosts/h1/host.yaml": "host: h1\nservices: [web]\n---\nhost: h2\n" })),
    "hosts/h1/host.yaml:3:1",
    /invalid YAML/,
  );
  assertRefused(
    bytesTree(repo({ "hosts/h1/host.yaml": null }), {
      "hosts/h1/host.yaml": new Uint8Array([...new TextEncoder().encode("host: h1\n#"), 0xfe]),
    }),
    "hosts/h1/host.yaml:2:2",
    /not valid UTF-8/,
  );
});
