/**
 * Config roots (src/source/config_roots.ts): `config-root` is one identifier,
 * refused quoting the value it read; the default deny-list and the host's
 * allowlist (agent.toml `config-roots`) decide which roots a repository may
 * write.
 */
import assert from "node:assert/strict";
import { checkConfigRoot, DEFAULT_DENIED_CONFIG_ROOTS } from "../../src/source/config_roots.ts";
import { Problems } from "../../src/source/problems.ts";
import { assertRefused, load, repo, single } from "../helpers/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

Deno.test("config-root is one identifier: foo/bar is refused at its line:column, quoting it", () => {
  const error = assertRefused(
    memoryTree(repo({ "services/web/service.yaml": "config-root: foo/bar\n" })),
    "services/web/service.yaml:1:14",
    /single identifier/,
  );
  assert.deepEqual(error.diagnostics.map((d) => d.message), [
    `"config-root": "foo/bar" is not a single identifier (one directory name: no '/', no '..')`,
  ]);
  assertRefused(
    memoryTree(repo({ "services/web/service.yaml": "config-root: ..\n" })),
    "services/web/service.yaml:1:14",
    /^"config-root": "\.\." is not a single identifier/,
  );
  // The value comes from the repository: it is quoted escaped, never raw.
  const hostile = assertRefused(
    memoryTree(repo({ "services/web/service.yaml": 'config-root: "a\\nb\\u202Ec"\n' })),
    "services/web/service.yaml:1:14",
    /^"config-root": "a\\nb\\u\{202E\}c" is not a single identifier/,
  );
  assert.ok(!/[\n\u202e]/.test(hostile.diagnostics[0].message));
});

Deno.test("checkConfigRoot: a root is asked for only by a service that deploys config", () => {
  const service = (config: number, root = "ssh") => ({
    id: "ssh",
    configRoot: root,
    configRootAt: { file: "services/ssh/" },
    config: new Map(Array.from({ length: config }, (_, i) => [`f${i}`, null])),
  });
  const problems = new Problems();
  checkConfigRoot(problems, service(0), undefined);
  checkConfigRoot(problems, service(1, "web"), undefined);
  checkConfigRoot(problems, service(1, "web"), { allow: ["web"] });
  assert.equal(problems.errors.length, 0);
  checkConfigRoot(problems, service(1), { allow: null });
  checkConfigRoot(problems, service(1, "web"), { allow: ["nginx"] });
  assert.deepEqual(problems.errors.map((e) => [e.location?.file, e.message]), [
    [
      "services/ssh/",
      'config root "ssh" (the service id, the default) is a system root denied by default (setting config-roots)',
    ],
    [
      "services/ssh/",
      'config root "web" (the service id, the default) is not allowed on this host (setting config-roots: nginx)',
    ],
  ]);
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
