/**
 * Refusals of the pure loader (SPEC §1, issues 6 and 10): each case is exit
 * 65 with a diagnostic naming the file (and line:column for YAML). Trees are
 * built in memory, so they can hold what no file system can (`..`, NUL).
 */
import assert from "node:assert/strict";
import { CoreOpsError, formatLocation } from "../../src/errors.ts";
import { BRING_UP_TIER, type TargetDirs } from "../../src/model.ts";
import {
  type ConfigRootPolicy,
  DEFAULT_DENIED_CONFIG_ROOTS,
} from "../../src/source/config_roots.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { showPath } from "../../src/source/names.ts";
import { MAX_DEPTH, type RepoTree, type TreeEntry } from "../../src/source/tree.ts";
import { MAX_YAML_SIZE } from "../../src/source/yaml.ts";
import { parseManifest } from "../../src/state/manifest.ts";
import { baseRepo, type Files, memoryTree } from "../helpers/repo.ts";

const DIRS: TargetDirs = { quadletDir: "/q", systemdUnitDir: "/s", configDir: "/etc" };

interface Options {
  host?: string | null;
  configRoots?: ConfigRootPolicy;
}

function load(tree: RepoTree, options: Options = {}) {
  return loadDesiredState(tree, {
    host: options.host === undefined ? "h1" : options.host,
    dirs: DIRS,
    configRoots: options.configRoots,
  });
}

/** The base repository without hosts/ (every service deployed), with `change` applied. */
function single(change: Record<string, string | null>): Files {
  return repo({ ...change, "hosts/h1/host.yaml": null, "hosts/h2/host.yaml": null });
}

/** The base repository with `change` applied (`null` deletes). */
function repo(change: Record<string, string | null>): Files {
  const files = baseRepo();
  for (const [path, content] of Object.entries(change)) {
    if (content === null) delete files[path];
    else files[path] = content;
  }
  return files;
}

/**
 * Asserts that loading `tree` is refused with exit 65 and that one diagnostic
 * is at `where` (`file` or `file:line:column`) with a message matching `message`.
 */
function assertRefused(
  tree: RepoTree,
  where: string,
  message: RegExp,
  options: Options = {},
): CoreOpsError {
  let error: unknown;
  try {
    load(tree, options);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof CoreOpsError, `expected a CoreOpsError, got ${error}`);
  assert.equal(error.exitCode, 65);
  const shown = error.diagnostics.map((d) =>
    `${d.location ? formatLocation(d.location) : ""}: ${d.message}`
  );
  assert.ok(
    error.diagnostics.some((d) =>
      d.location !== undefined && formatLocation(d.location) === where && message.test(d.message)
    ),
    `expected ${where}: ${message}; got:\n${shown.join("\n")}`,
  );
  return error;
}

function bytesTree(files: Files, raw: Record<string, Uint8Array>): RepoTree {
  const tree = memoryTree(files);
  const known = new Set(tree.entries.map((e) => e.path));
  for (const [path, content] of Object.entries(raw)) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!known.has(dir)) tree.entries.push({ type: "dir", path: dir });
      known.add(dir);
    }
    tree.entries.push({ type: "file", path, size: content.length, content, worldReadable: true });
  }
  return tree;
}

// --- issue 6 ---------------------------------------------------------------

Deno.test("a host drop-in that sorts before a base drop-in is refused, naming both", () => {
  const error = assertRefused(
    memoryTree(repo({
      "hosts/h1/web/quadlet/web.container.d/05-host.conf": "[Container]\nPodmanArgs=--memory=1g\n",
    })),
    "hosts/h1/web/quadlet/web.container.d/05-host.conf",
    /sorts before the base drop-in services\/web\/quadlet\/web\.container\.d\/10-mem\.conf/,
  );
  assert.match(error.diagnostics[0].hint ?? "", /rename it to sort after 10-mem\.conf/);
  // Sorting after every base drop-in is fine, also for native units.
  load(memoryTree(repo({
    "services/echo/systemd/echo.socket.d/10-base.conf": "[Socket]\n",
    "hosts/h1/echo/systemd/echo.socket.d/20-host.conf": "[Socket]\n",
    "hosts/h1/web/quadlet/web.container.d/10-mem2.conf": "[Container]\n",
  })));
  assertRefused(
    memoryTree(repo({
      "services/echo/systemd/echo.socket.d/50-base.conf": "[Socket]\n",
      "hosts/h1/echo/systemd/echo.socket.d/20-host.conf": "[Socket]\n",
    })),
    "hosts/h1/echo/systemd/echo.socket.d/20-host.conf",
    /sorts before the base drop-in services\/echo\/systemd\/echo\.socket\.d\/50-base\.conf/,
  );
});

Deno.test("config-root is one identifier: foo/bar is refused at its line:column", () => {
  assertRefused(
    memoryTree(repo({ "services/web/service.yaml": "config-root: foo/bar\n" })),
    "services/web/service.yaml:1:14",
    /single identifier/,
  );
});

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

// --- issue 10: names and paths ---------------------------------------------

const BAD_NAMES: [string, RegExp, string][] = [
  ["a\nb.conf", /newline/, "a\\nb.conf"],
  ["a\rb.conf", /carriage return/, "a\\rb.conf"],
  ["a\0b.conf", /NUL/, "a\\0b.conf"],
  ["evil\u202Efnoc.sh", /bidi override U\+202E/, "evil\\u{202E}fnoc.sh"],
  ["iso\u2066late", /bidi override U\+2066/, "iso\\u{2066}late"],
  ["esc\u001b[31m", /escape/, "esc\\u{1B}[31m"],
  ["c1\u0085x", /control U\+0085/, "c1\\u{85}x"],
  ["bad\uFFFDname", /not valid UTF-8/, "bad\\u{FFFD}name"],
];

for (const [name, message, shown] of BAD_NAMES) {
  Deno.test(`a config file name with ${JSON.stringify(name)} is refused, shown escaped`, () => {
    const error = assertRefused(
      memoryTree(repo({ [`services/web/config/${name}`]: "x\n" })),
      `services/web/config/${shown}`,
      message,
    );
    // Nothing raw reaches the terminal.
    for (const d of error.diagnostics) {
      for (const text of [d.message, d.hint ?? "", d.location?.file ?? ""]) {
        assert.equal(showPath(text), text, `raw character in ${JSON.stringify(text)}`);
      }
    }
  });
}

Deno.test("a bad name in another host's overlay is refused too", () => {
  assertRefused(
    memoryTree(repo({ "hosts/h2/echo/config/a\nb": "x" })),
    "hosts/h2/echo/config/a\\nb",
    /newline/,
  );
});

Deno.test("'..', '.' and empty segments in a tree's paths are refused", () => {
  for (
    const [path, where] of [
      ["services/web/config/../../../etc/shadow", "services/web/config/.."],
      ["services/web/./config/x", "services/web/."],
      ["services/web/config//x", "services/web/config/"],
      ["../outside", ".."],
      ["/etc/passwd", ""],
    ]
  ) {
    const tree = memoryTree(baseRepo());
    tree.entries.push({
      type: "file",
      path,
      size: 1,
      content: new Uint8Array(1),
      worldReadable: true,
    });
    assertRefused(tree, where, /path segment|empty path segment/);
  }
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

Deno.test("a path listed twice in a tree is refused", () => {
  const tree = memoryTree(baseRepo());
  tree.entries.push({
    type: "file",
    path: "services/web/config/app.conf",
    size: 1,
    content: new Uint8Array([0x78]),
    worldReadable: true,
  });
  assertRefused(tree, "services/web/config/app.conf", /appears twice/);
});

Deno.test("a nested .git (a checked-out submodule) and a link into .git are refused", () => {
  assertRefused(
    memoryTree(repo({ "services/web/config/vendor/.git": "gitdir: ../../.git/modules/x\n" })),
    "services/web/config/vendor/.git",
    /nested git repository or submodule/,
  );
  const tree = memoryTree(baseRepo());
  tree.entries.push({
    type: "badlink",
    path: "services/web/config/hooks",
    target: "../../../.git/hooks",
    problem: "git",
  });
  assertRefused(tree, "services/web/config/hooks", /points into \.git/);
});

Deno.test("special files, unreadable names, deep and long paths, gitlinks are refused anywhere", () => {
  const entries: [TreeEntry, RegExp][] = [
    [{ type: "special", path: "services/web/config/fifo" }, /FIFO, socket or device/],
    [{ type: "special", path: "hosts/h2/echo/config/sock" }, /FIFO, socket or device/],
    [{ type: "refused", path: "services/web/config/x\uFFFD", problem: "encoding" }, /UTF-8/],
    [{ type: "refused", path: "services/web/config/d", problem: "depth" }, /deeper than/],
    [{ type: "refused", path: "services/web/config/l", problem: "length" }, /longer than/],
    [{ type: "refused", path: "services/web/config/sub", problem: "gitlink" }, /gitlink/],
    [{ type: "badlink", path: "_x", target: "/", problem: "outside" }, /./],
  ];
  for (const [entry, message] of entries.slice(0, -1)) {
    const tree = memoryTree(baseRepo());
    tree.entries.push(entry);
    const where = entry.path.replace("\uFFFD", "\\u{FFFD}");
    assertRefused(tree, where, message);
  }
  // Reserved top-level names stay unread, whatever they hold.
  const tree = memoryTree(baseRepo());
  tree.entries.push(entries.at(-1)![0]);
  load(tree);
});

Deno.test("directories nested deeper than the cap are refused", () => {
  const deep = Array.from({ length: MAX_DEPTH }, (_, i) => `d${i}`).join("/");
  assertRefused(
    memoryTree(repo({ [`services/web/config/${deep}/x`]: "x" })),
    `services/web/config/${deep.split("/").slice(0, MAX_DEPTH - 3).join("/")}`,
    /nested deeper than/,
  );
});

Deno.test("more files than the cap is refused", () => {
  const tree = memoryTree(baseRepo());
  tree.truncated = true;
  assertRefused(tree, ".", /more than 10000 files/);
});

// --- issue 10: contents ----------------------------------------------------

Deno.test("unit files and drop-ins that are not UTF-8 or hold NUL are refused at line:column", () => {
  const enc = new TextEncoder();
  assertRefused(
    bytesTree(baseRepo(), {
      "services/web/quadlet/bad.container": new Uint8Array([
        ...enc.encode("[Container]\nImage=x"),
        0xff,
        0x0a,
      ]),
    }),
    "services/web/quadlet/bad.container:2:8",
    /not valid UTF-8/,
  );
  assertRefused(
    memoryTree(
      repo({ "services/echo/systemd/echo.socket": "[Socket]\nListenStream=77\u000077\n" }),
    ),
    "services/echo/systemd/echo.socket:2:16",
    /NUL byte/,
  );
  assertRefused(
    memoryTree(repo({ "hosts/h1/web/quadlet/web.container.d/50-x.conf": "[Container]\n\0" })),
    "hosts/h1/web/quadlet/web.container.d/50-x.conf:2:1",
    /NUL byte/,
  );
  assertRefused(
    bytesTree(baseRepo(), {
      "services/web/quadlet/web.container.d/20-x.conf": new Uint8Array([0xc3, 0x28]),
    }),
    "services/web/quadlet/web.container.d/20-x.conf:1:1",
    /not valid UTF-8/,
  );
  // Config files are bytes: binary content is deployed as it is.
  const state = load(bytesTree(baseRepo(), {
    "services/web/config/key.der": new Uint8Array([0, 0xff, 0xfe]),
  }));
  assert.ok(state.artifacts.some((a) => a.destination === "/etc/web/key.der"));
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

// --- issue 10: destinations ------------------------------------------------

Deno.test("a destination claimed as a file by one service and as a directory by another", () => {
  const error = assertRefused(
    memoryTree(repo({
      "services/web/service.yaml": "config-root: shared\n",
      "services/echo/service.yaml": "config-root: shared\n",
      "services/echo/config/app.conf/inner": "x\n",
    })),
    "services/echo/config/app.conf/inner",
    /\/etc\/shared\/app\.conf is a file from services\/web\/config\/app\.conf and a directory/,
  );
  assert.equal(error.diagnostics.length, 1);
  // The same path as a file twice is a destination claimed twice.
  assertRefused(
    memoryTree(repo({
      "services/web/service.yaml": "config-root: shared\n",
      "services/echo/service.yaml": "config-root: shared\n",
      "services/echo/config/app.conf": "x\n",
    })),
    "services/echo/config/app.conf",
    /two sources for one destination \/etc\/shared\/app\.conf/,
  );
});

// --- issue 10: host-side config roots -------------------------------------

Deno.test("a default-denied config root is refused naming the root, the service and the setting", () => {
  const files = single({ "services/ssh/config/sshd_config.d/50-x.conf": "PermitRootLogin yes\n" });
  const error = assertRefused(
    memoryTree(files),
    "services/ssh/",
    /config root "ssh" \(the service id, the default\) is a system root denied by default \(setting config-roots\)/,
    { host: null, configRoots: { allow: null } },
  );
  assert.match(error.diagnostics[0].hint ?? "", /config-roots/);
  // Absent policy means the same deny-list.
  assertRefused(memoryTree(files), "services/ssh/", /denied by default/, { host: null });
  assertRefused(
    memoryTree(repo({ "services/web/service.yaml": "config-root: sudoers.d\n" })),
    "services/web/service.yaml:1:14",
    /config root "sudoers.d" \(set in services\/web\/service\.yaml\) is a system root/,
  );
});

Deno.test("the default deny-list names the system roots an operator expects", () => {
  for (
    const root of [
      "ssh",
      "sudoers",
      "sudoers.d",
      "pam.d",
      "security",
      "systemd",
      "containers",
      "core-ops",
      "passwd",
      "shadow",
      "group",
      "gshadow",
      "crontab",
      "cron.d",
      "profile.d",
      "ld.so.conf.d",
      "ld.so.preload",
      "modprobe.d",
      "sysctl.d",
      "udev",
      "polkit-1",
      "selinux",
      "fstab",
      "hosts",
      "resolv.conf",
      "NetworkManager",
      "audit",
      "default",
      "environment",
    ]
  ) assert.ok(DEFAULT_DENIED_CONFIG_ROOTS.includes(root), root);
  for (const root of DEFAULT_DENIED_CONFIG_ROOTS) {
    assert.ok(/^[A-Za-z0-9][A-Za-z0-9@._-]*$/.test(root), `${root} is an identifier`);
  }
});

Deno.test("an allowlist admits only its roots; a service without config asks for none", () => {
  const files = single({
    "services/ssh/config/sshd_config.d/50-x.conf": "x\n",
    "services/web/service.yaml": "config-root: nginx\n",
  });
  const allow = (roots: string[]) => ({ host: null, configRoots: { allow: roots } });
  const state = load(memoryTree(files), allow(["ssh", "nginx"]));
  assert.ok(state.artifacts.some((a) => a.destination === "/etc/ssh/sshd_config.d/50-x.conf"));
  assertRefused(
    memoryTree(files),
    "services/web/service.yaml:1:14",
    /config root "nginx" \(set in services\/web\/service\.yaml\) is not allowed on this host \(setting config-roots: ssh\)/,
    allow(["ssh"]),
  );
  assertRefused(memoryTree(files), "services/ssh/", /setting config-roots: none/, allow([]));
  // A service named like a denied root that deploys no config file is fine.
  load(memoryTree(single({ "services/ssh/quadlet/ssh.container": "[Container]\nImage=x\n" })), {
    host: null,
  });
  // The agent's own configuration stays out of reach, whatever is allowed.
  assertRefused(
    memoryTree(repo({ "services/web/service.yaml": "config-root: core-ops\n" })),
    "services/web/service.yaml:1:14",
    /reserved/,
    allow(["core-ops", "web"]),
  );
});
