/** Settings: flag > environment > agent.toml > default, every value validated. */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { parseAgentToml, resolveSettings } from "../../src/settings.ts";

const noEnv = () => undefined;

Deno.test("defaults apply when nothing is set", () => {
  const s = resolveSettings({ flags: {}, env: noEnv, toml: null });
  assert.deepEqual(s.dirs, {
    quadletDir: "/etc/containers/systemd",
    systemdUnitDir: "/etc/systemd/system",
    configDir: "/etc",
  });
  assert.equal(s.stateDir, "/var/lib/core-ops");
  assert.equal(s.lockPath, "/run/core-ops/lock");
  assert.equal(s.host, null);
});

Deno.test("flag beats environment beats agent.toml beats default", () => {
  const toml = {
    path: "/etc/core-ops/agent.toml",
    values: { "quadlet-dir": "/t", "state-dir": "/t/state", host: "fromtoml" },
  };
  const env = (name: string) =>
    ({ CORE_OPS_QUADLET_DIR: "/e", CORE_OPS_HOST: "fromenv" } as Record<string, string>)[name];
  const s = resolveSettings({ flags: { "quadlet-dir": "/f/" }, env, toml });
  assert.equal(s.dirs.quadletDir, "/f");
  assert.equal(s.host, "fromenv");
  assert.equal(s.stateDir, "/t/state");
  assert.deepEqual(s.origins, {
    host: "environment",
    "quadlet-dir": "flag",
    "systemd-unit-dir": "default",
    "config-dir": "default",
    "state-dir": "agent.toml",
    "lock-path": "default",
  });
});

Deno.test("bad values are reported with the setting and where it came from", () => {
  const env = (name: string) => (name === "CORE_OPS_CONFIG_DIR" ? "relative/dir" : undefined);
  const toml = { path: "/x/agent.toml", values: { host: "bad host" } };
  assert.throws(
    () => resolveSettings({ flags: { "state-dir": "/a/../b" }, env, toml }),
    (e: unknown) => {
      assert.ok(e instanceof CoreOpsError);
      assert.equal(e.exitCode, 64);
      const text = e.diagnostics.map((d) => d.message).join("\n");
      assert.match(text, /invalid host in \/x\/agent\.toml: "bad host"/);
      assert.match(
        text,
        /invalid CORE_OPS_CONFIG_DIR \(environment\): "relative\/dir" must be an absolute path/,
      );
      assert.match(text, /invalid --state-dir: "\/a\/\.\.\/b"/);
      return true;
    },
  );
});

Deno.test("agent.toml: known keys parse; unknown keys and bad TOML name the file and line", () => {
  assert.deepEqual(
    parseAgentToml("/a.toml", 'repo = "https://x/r.git"\nrev = "main"\nrequire-signed = true\n'),
    {
      repo: "https://x/r.git",
      rev: "main",
      "require-signed": true,
    },
  );
  assert.throws(
    () => parseAgentToml("/a.toml", 'repo = "x"\nreop = "y"\n'),
    (e: unknown) =>
      e instanceof CoreOpsError && e.exitCode === 64 && e.diagnostics[0].location?.line === 2 &&
      /unknown setting "reop"/.test(e.diagnostics[0].message),
  );
  assert.throws(
    () => parseAgentToml("/a.toml", "repo = \n"),
    (e: unknown) =>
      e instanceof CoreOpsError && e.diagnostics[0].location?.file === "/a.toml" &&
      e.diagnostics[0].location?.line === 1,
  );
  assert.throws(
    () => parseAgentToml("/a.toml", 'require-signed = "yes"\n'),
    (e: unknown) => e instanceof CoreOpsError && /require-signed/.test(e.message),
  );
});
