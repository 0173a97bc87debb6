/**
 * Least privilege (SPEC §3): the release permission set names exactly the
 * programs core-ops runs and the paths it writes, and renders to flags with
 * no blanket grant. The fault set widens only the pause variable.
 */
import assert from "node:assert/strict";
import { PAUSE_VARIABLE } from "../../src/host/faults.ts";
import { checkWritable } from "../../src/cli/options.ts";
import { CoreOpsError } from "../../src/errors.ts";
import { resolveSettings } from "../../src/settings.ts";
import {
  DEFAULT_DIRS,
  faultPermissions,
  PRODUCTION,
  testPermissions,
  toFlags,
} from "../../tools/permissions.ts";
import { runtimeArgs } from "../../tools/package.ts";

/** Flags that would grant everything of a kind (a bare flag has no list). */
const BLANKET = [
  "--allow-all",
  "-A",
  "--allow-run",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-ffi",
  "--allow-sys",
  "--allow-import",
];

function listOf(flags: string[], flag: string): string[] {
  const found = flags.filter((f) => f.startsWith(`${flag}=`));
  assert.equal(found.length, 1, `${flag} given ${found.length} times: ${flags.join(" ")}`);
  return found[0].slice(flag.length + 1).split(",");
}

Deno.test("production flags: no blanket grant of any kind, no network, no ffi", () => {
  const flags = toFlags(PRODUCTION);
  for (const flag of BLANKET) assert.ok(!flags.includes(flag), `${flag} in ${flags.join(" ")}`);
  for (const denied of ["--allow-net", "--allow-ffi", "--allow-import"]) {
    assert.ok(!flags.some((f) => f.startsWith(denied)), `${denied} in ${flags.join(" ")}`);
  }
  assert.ok(flags.includes("--no-prompt"), "a denied permission must fail, never prompt");
});

Deno.test("production flags: the run list is exactly the programs core-ops runs", () => {
  const run = listOf(toFlags(PRODUCTION), "--allow-run");
  assert.deepEqual([...run].sort(), [
    "/usr/lib/systemd/system-generators/podman-system-generator",
    "/usr/libexec/podman/quadlet",
    // The uid of a user service's login (SPEC §7), as NSS says.
    "getent",
    "git",
    "journalctl",
    "logger",
    "systemctl",
    // Pre-pull (SPEC §9): podman runs in a transient unit, never as core-ops' own child.
    "systemd-run",
    "timeout",
  ]);
  for (const program of ["sh", "bash", "env", "podman", "ssh", "curl", "sudo"]) {
    assert.ok(!run.includes(program), `${program} may be run`);
  }
});

Deno.test("production flags: writes only the target, state, lock and staging dirs", () => {
  const write = listOf(toFlags(PRODUCTION), "--allow-write");
  assert.deepEqual(
    [...write].sort(),
    [
      DEFAULT_DIRS.configDir,
      DEFAULT_DIRS.quadletDir,
      DEFAULT_DIRS.systemdUnitDir,
      DEFAULT_DIRS.lockDir,
      "/tmp",
      DEFAULT_DIRS.stateDir,
    ].sort(),
  );
  for (const path of write) {
    assert.ok(path.startsWith("/") && path !== "/", `write grant ${path} is not a narrow path`);
  }
  // uid: who paused the agent when no login name is known (core-ops pause).
  assert.deepEqual(listOf(toFlags(PRODUCTION), "--allow-sys"), ["hostname", "uid"]);
});

Deno.test("production flags: the pause variable is not readable, so pause points are inert", () => {
  const env = listOf(toFlags(PRODUCTION), "--allow-env");
  assert.ok(!env.includes(PAUSE_VARIABLE));
  assert.ok(env.every((name) => name !== "" && !name.includes("*")), env.join(","));
});

Deno.test("fault and test sets widen exactly one thing each", () => {
  const fault = faultPermissions();
  assert.deepEqual(fault.env, [...PRODUCTION.env, PAUSE_VARIABLE]);
  assert.deepEqual(fault.run, PRODUCTION.run);
  assert.deepEqual(fault.write, PRODUCTION.write);
  assert.deepEqual(fault.sys, PRODUCTION.sys);
  const test = testPermissions(["/tmp/x"]);
  assert.deepEqual(test.write, [...PRODUCTION.write, "/tmp/x"]);
  assert.deepEqual(test.env, PRODUCTION.env);
  assert.deepEqual(test.run, PRODUCTION.run);
});

Deno.test("the release launcher bakes the production flags, never the fault set", async () => {
  // The launcher's arguments, with the default set: exactly the production flags.
  const args = runtimeArgs("/pkg");
  const flags = args.filter((a) => a.startsWith("--allow-") || a.startsWith("--v8-flags"));
  assert.deepEqual(flags, toFlags(PRODUCTION).filter((a) => a !== "--no-prompt"));
  assert.ok(!args.some((a) => a.includes(PAUSE_VARIABLE)), args.join(" "));
  const source = await Deno.readTextFile(new URL("../../tools/package.ts", import.meta.url));
  assert.match(source, /= runtimeArgs\(ROOT\)\./);
  assert.doesNotMatch(source, /faultPermissions|testPermissions/);
  const compile = await Deno.readTextFile(new URL("../../tools/compile.ts", import.meta.url));
  assert.doesNotMatch(compile, /faultPermissions|testPermissions|PAUSE/);
});

/** Deno's answer under the release flags, for a path: granted only under a write grant. */
function releaseQuery(path: string): Deno.PermissionState {
  return PRODUCTION.write.some((dir) => path === dir || path.startsWith(`${dir}/`))
    ? "granted"
    : "denied";
}

Deno.test("a target dir outside the write grants is refused up front: 77 naming path and flag", () => {
  const env = (name: string) => name === "CORE_OPS_STATE_DIR" ? "/home/ops/state" : undefined;
  const settings = resolveSettings({
    flags: { "quadlet-dir": "/srv/elsewhere" },
    env,
    toml: { path: "/etc/core-ops/agent.toml", values: { "lock-path": "/var/tmp/lock" } },
  });
  assert.throws(
    () => checkWritable(settings, releaseQuery),
    (error: unknown) => {
      assert.ok(error instanceof CoreOpsError);
      assert.equal(error.exitCode, 77);
      assert.equal(error.failureClass, "permission");
      const messages = error.diagnostics.map((d) => d.message);
      assert.equal(messages.length, 3, messages.join("\n"));
      assert.match(messages[0], /^core-ops may not write \/srv\/elsewhere \(--quadlet-dir\)/);
      assert.match(messages[0], /--allow-write/);
      assert.match(messages[1], /\/home\/ops\/state \(CORE_OPS_STATE_DIR\)/);
      assert.match(messages[2], /\/var\/tmp\/lock \(lock-path in agent\.toml\)/);
      return true;
    },
  );
  // The defaults are exactly what the release flags grant.
  checkWritable(resolveSettings({ flags: {}, env: () => undefined, toml: null }), releaseQuery);
});
