/**
 * Every rejection rule of SPEC §1, through the real CLI: exit 65 and a
 * message that names the offending file (with line:column for YAML).
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { cli } from "../helpers/cli.ts";
import { baseRepo, type Files, writeRepo } from "../helpers/repo.ts";

interface Case {
  name: string;
  /** Changes to the base repository; `null` deletes a file. */
  change: Record<string, string | null>;
  /** Text stderr must contain (the file, and line:column where there is one). */
  names: string[];
  /** Extra command-line arguments for `validate`. */
  args?: string[];
  /** Prepares what plain files cannot express (links, sizes, counts). */
  setup?: (root: string) => Promise<void>;
  cleanup?: (root: string) => Promise<void>;
}

const CASES: Case[] = [
  {
    name: "unknown key in service.yaml (line:column)",
    change: { "services/web/service.yaml": "config-root: web\nimage: nginx\n" },
    names: ["services/web/service.yaml:2:1", 'unknown key "image"'],
  },
  {
    name: "unknown key in host.yaml (line:column)",
    change: { "hosts/h1/host.yaml": "host: h1\nservices: [web, echo]\nrole: edge\n" },
    names: ["hosts/h1/host.yaml:3:1", 'unknown key "role"'],
  },
  {
    name: "invalid YAML syntax",
    change: { "hosts/h1/host.yaml": "host: h1\nservices: [web\n" },
    names: ["hosts/h1/host.yaml:", "invalid YAML"],
  },
  {
    name: "config-root escaping with ..",
    change: { "services/web/service.yaml": "config-root: ../etc\n" },
    names: ["services/web/service.yaml:1:14", "config-root"],
  },
  {
    name: "config root over a unit directory",
    change: {},
    args: ["--quadlet-dir", "/etc/web"],
    names: ["services/web/config/app.conf", "a unit directory"],
  },
  {
    name: "config-root of the agent's own configuration",
    change: { "services/web/service.yaml": "config-root: core-ops\n" },
    names: ["services/web/service.yaml:1:14", "reserved"],
  },
  {
    name: "native unit in quadlet/",
    change: { "services/web/quadlet/x.socket": "[Socket]\nListenStream=1\n" },
    names: ["services/web/quadlet/x.socket", "does not belong in quadlet/"],
  },
  {
    name: "quadlet in systemd/",
    change: { "services/echo/systemd/x.container": "[Container]\nImage=a\n" },
    names: ["services/echo/systemd/x.container", "does not belong in systemd/"],
  },
  {
    name: "unknown directory in quadlet/",
    change: { "services/web/quadlet/web.container.dropin/10.conf": "[Container]\n" },
    names: ["services/web/quadlet/web.container.dropin/", "unknown directory"],
  },
  {
    name: "unknown directory in a service",
    change: { "services/web/scripts/run.sh": "#!/bin/sh\n" },
    names: ["services/web/scripts/", "unknown directory"],
  },
  {
    name: "drop-in whose parent unit is not deployed",
    change: { "services/web/quadlet/ghost.container.d/10.conf": "[Container]\n" },
    names: ["services/web/quadlet/ghost.container.d/", "ghost.container"],
  },
  {
    name: "host drop-in whose parent unit is not deployed",
    change: { "hosts/h1/web/quadlet/ghost.container.d/10.conf": "[Container]\n" },
    names: ["hosts/h1/web/quadlet/ghost.container.d/", "ghost.container"],
  },
  {
    name: "two sources for one destination",
    change: { "services/echo/quadlet/web.container": "[Container]\nImage=a\n" },
    names: ["services/web/quadlet/web.container", "services/echo/quadlet/web.container"],
  },
  {
    name: "host drop-in with the name of a base drop-in",
    change: { "hosts/h1/web/quadlet/web.container.d/10-mem.conf": "[Container]\n" },
    names: [
      "services/web/quadlet/web.container.d/10-mem.conf",
      "hosts/h1/web/quadlet/web.container.d/10-mem.conf",
    ],
  },
  {
    name: "two unit files for one systemd unit",
    change: { "services/echo/systemd/web.service": "[Service]\nExecStart=/bin/true\n" },
    names: [
      "services/web/quadlet/web.container",
      "services/echo/systemd/web.service",
      "web.service",
    ],
  },
  {
    name: "base unit inside a host overlay",
    change: { "hosts/h1/web/quadlet/extra.container": "[Container]\nImage=a\n" },
    names: ["hosts/h1/web/quadlet/extra.container", "base unit inside a host overlay"],
  },
  {
    name: "listed service that does not exist (host.yaml line)",
    change: { "hosts/h1/host.yaml": "host: h1\nservices:\n  - web\n  - nope\n" },
    names: ["hosts/h1/host.yaml:4:5", '"nope" does not exist'],
  },
  {
    name: "service listed twice",
    change: { "hosts/h1/host.yaml": "host: h1\nservices: [web, web]\n" },
    names: ["hosts/h1/host.yaml:2:17", "listed twice"],
  },
  {
    name: "host: not matching its directory",
    change: { "hosts/h1/host.yaml": "host: h9\nservices: [web]\n" },
    names: ["hosts/h1/host.yaml:1:7", "does not match"],
  },
  {
    name: "missing host.yaml",
    change: { "hosts/h1/host.yaml": null, "hosts/h1/README.md": "x\n" },
    names: ["hosts/h1/host.yaml", "missing host.yaml"],
  },
  {
    name: "overlay for a service the host does not deploy",
    change: {
      "hosts/h1/host.yaml": "host: h1\nservices: [web]\n",
      "hosts/h1/echo/config/x": "x\n",
    },
    names: ["hosts/h1/echo/", "does not deploy"],
  },
  {
    name: "legacy top-level quadlets/",
    change: { "quadlets/web.container": "[Container]\n" },
    names: ["quadlets/", "legacy layout", "services/<svc>/quadlet/"],
  },
  {
    name: "legacy top-level quadlet-overrides/",
    change: { "quadlet-overrides/web.container.d/x.conf": "[Container]\n" },
    names: ["quadlet-overrides/", "legacy layout"],
  },
  {
    name: "legacy hosts/<h>/overrides/",
    change: { "hosts/h1/overrides/web.container": "[Container]\n" },
    names: ["hosts/h1/overrides/", "legacy layout"],
  },
  {
    name: "reserved name inside services/",
    change: { "services/_wip/quadlet/a.container": "[Container]\n" },
    names: ["services/_wip", "reserved"],
  },
  {
    name: "dot name inside hosts/",
    change: { "hosts/.old/host.yaml": "host: old\nservices: []\n" },
    names: ["hosts/.old", "reserved"],
  },
  {
    name: "invalid unit name",
    change: { "services/web/quadlet/-bad.container": "[Container]\n" },
    names: ["services/web/quadlet/-bad.container", "invalid unit name"],
  },
  {
    name: "unknown top-level directory",
    change: { "docs/notes.txt": "x\n" },
    names: ["docs/", "unknown top-level directory"],
  },
  {
    name: "not a core-ops repository",
    change: Object.fromEntries(Object.keys(baseRepo()).map((k) => [k, null])),
    names: ["no services/ directory"],
    setup: async (root) => {
      await Deno.writeTextFile(join(root, "README.md"), "x\n");
    },
  },
  {
    name: "config symlink escaping the repository",
    change: {},
    names: ["services/web/config/passwd", "points outside the repository"],
    setup: async (root) => {
      await Deno.symlink("/etc/passwd", join(root, "services/web/config/passwd"));
    },
  },
  {
    name: "relative symlink climbing out of the repository",
    change: {},
    names: ["services/web/quadlet/evil.container", "points outside the repository"],
    setup: async (root) => {
      // A real file just outside the repository, reached by climbing out of it.
      const outside = `${basename(root)}-outside.container`;
      await Deno.writeTextFile(join(root, "..", outside), "[Container]\nImage=a\n");
      await Deno.symlink(
        `../../../../${outside}`,
        join(root, "services/web/quadlet/evil.container"),
      );
    },
    cleanup: async (root) => {
      await Deno.remove(join(root, "..", `${basename(root)}-outside.container`));
    },
  },
  {
    name: "dangling symlink",
    change: {},
    names: ["services/web/config/gone", "does not resolve"],
    setup: async (root) => {
      await Deno.symlink("nowhere", join(root, "services/web/config/gone"));
    },
  },
  {
    name: "symlink loop",
    change: {},
    names: ["services/web/config/loop", "contains it"],
    setup: async (root) => {
      await Deno.symlink("..", join(root, "services/web/config/loop"));
    },
  },
  {
    name: "file over 1 MiB",
    change: {},
    names: ["services/web/config/big.bin", "larger than 1 MiB"],
    setup: async (root) => {
      await Deno.writeFile(
        join(root, "services/web/config/big.bin"),
        new Uint8Array(1024 * 1024 + 1),
      );
    },
  },
  {
    name: "more than 10,000 files",
    change: {},
    names: ["more than 10000 files"],
    setup: async (root) => {
      const dir = join(root, "services/web/config/many");
      await Deno.mkdir(dir, { recursive: true });
      for (let i = 0; i < 10_001; i++) await Deno.writeTextFile(join(dir, `f${i}`), "");
    },
  },
];

for (const c of CASES) {
  Deno.test(`layout rejects: ${c.name}`, async () => {
    const files: Files = baseRepo();
    for (const [path, content] of Object.entries(c.change)) {
      if (content === null) delete files[path];
      else files[path] = content;
    }
    const root = await writeRepo(files);
    try {
      await c.setup?.(root);
      const result = await cli([
        "validate",
        "--source-repo",
        root,
        "--host",
        "h1",
        ...(c.args ?? []),
      ]);
      assert.equal(result.code, 65, `exit code; stderr:\n${result.stderr}`);
      for (const text of c.names) {
        assert.ok(result.stderr.includes(text), `stderr names "${text}":\n${result.stderr}`);
      }
      assert.equal(result.stdout, "");
    } finally {
      await c.cleanup?.(root);
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("the base repository used above is valid", async () => {
  const root = await writeRepo(baseRepo());
  try {
    const result = await cli(["validate", "--source-repo", root, "--host", "h1"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /layout ok: host h1, revision \(stateless\): 2 services, 8 files/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
