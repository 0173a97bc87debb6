/** Settings: flag > environment > agent.toml > default, every value validated. */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { type AgentToml, parseAgentToml, resolveSettings } from "../../src/settings.ts";
import { REMOVED_VARIABLES, removedVariableWarnings } from "../../src/settings/removed.ts";
import { ENV_NAMES } from "../../src/settings/table.ts";
import { PRODUCTION } from "../../tools/permissions.ts";

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
    "require-signed": "default",
    "fetch-timeout": "default",
    "verify-timeout": "default",
    "verify-settle": "default",
    "retry-initial": "default",
    "retry-max": "default",
    "age-identity": "default",
    "keep-generations": "default",
    adopt: "default",
    "pull-timeout": "default",
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

Deno.test("agent settings default as SPEC §4 says", () => {
  const s = resolveSettings({ flags: {}, env: noEnv, toml: null });
  assert.equal(s.requireSigned, false);
  assert.equal(s.allowedSigners, null);
  assert.equal(s.sshKey, null);
  assert.equal(s.fetchTimeoutSeconds, 60);
  assert.equal(s.verifyTimeoutSeconds, 60);
  assert.equal(s.verifySettleSeconds, 3);
  assert.equal(s.retryInitialSeconds, 60);
  assert.equal(s.retryMaxSeconds, 3600);
  assert.equal(s.metricsFile, null);
  assert.equal(s.configRoots, null);
  assert.equal(s.ageIdentity, "/etc/core-ops/age.key");
  assert.equal(s.webhookSecretFile, null);
  assert.equal(s.pullTimeoutSeconds, 900);
});

Deno.test("agent settings from agent.toml: typed values, durations with units", () => {
  const text = [
    'repo = "https://git.example/fleet.git"',
    'rev = "main"',
    "require-signed = true",
    'allowed-signers = "/etc/core-ops/allowed_signers"',
    'ssh-key = "/etc/core-ops/deploy_key"',
    "fetch-timeout = 30",
    'verify-timeout = "2m"',
    'verify-settle = "5s"',
    "retry-initial = 120",
    'retry-max = "1h"',
    'metrics-file = "/var/lib/node_exporter/textfile/core-ops.prom"',
    'config-roots = ["web", "grafana", "web"]',
    'age-identity = "/etc/core-ops/host.agekey"',
    'webhook-secret-file = "/etc/core-ops/webhook-secret"',
    'pull-timeout = "30m"',
    "",
  ].join("\n");
  const toml = { path: "/etc/core-ops/agent.toml", values: parseAgentToml("/a.toml", text) };
  const s = resolveSettings({ flags: {}, env: noEnv, toml });
  assert.equal(s.requireSigned, true);
  assert.equal(s.allowedSigners, "/etc/core-ops/allowed_signers");
  assert.equal(s.sshKey, "/etc/core-ops/deploy_key");
  assert.equal(s.fetchTimeoutSeconds, 30);
  assert.equal(s.verifyTimeoutSeconds, 120);
  assert.equal(s.verifySettleSeconds, 5);
  assert.equal(s.retryInitialSeconds, 120);
  assert.equal(s.retryMaxSeconds, 3600);
  assert.equal(s.metricsFile, "/var/lib/node_exporter/textfile/core-ops.prom");
  assert.equal(s.ageIdentity, "/etc/core-ops/host.agekey");
  assert.deepEqual(s.configRoots, ["web", "grafana"]);
  assert.equal(s.webhookSecretFile, "/etc/core-ops/webhook-secret");
  assert.equal(s.pullTimeoutSeconds, 1800);
  assert.equal(s.origins["verify-timeout"], "agent.toml");
});

Deno.test("agent settings from the environment and flags: strings parsed the same way", () => {
  const env = (name: string) =>
    ({
      CORE_OPS_REQUIRE_SIGNED: "yes",
      CORE_OPS_ALLOWED_SIGNERS: "/s",
      CORE_OPS_FETCH_TIMEOUT: "90s",
      CORE_OPS_CONFIG_ROOTS: "web, db",
      CORE_OPS_METRICS_FILE: "/m.prom",
    } as Record<string, string>)[name];
  const s = resolveSettings({
    flags: { "fetch-timeout": "10", "verify-settle": "0", "ssh-key": "/k" },
    env,
    toml: null,
  });
  assert.equal(s.requireSigned, true);
  assert.equal(s.fetchTimeoutSeconds, 10);
  assert.equal(s.origins["fetch-timeout"], "flag");
  assert.equal(s.verifySettleSeconds, 0);
  assert.equal(s.sshKey, "/k");
  assert.deepEqual(s.configRoots, ["web", "db"]);
  assert.equal(s.metricsFile, "/m.prom");
  const none = resolveSettings({
    flags: {},
    env: (n) => (n === "CORE_OPS_CONFIG_ROOTS" ? "" : undefined),
    toml: null,
  });
  assert.deepEqual(none.configRoots, [], "an empty list allows no config root");
});

Deno.test("bad agent settings: each named with its source, exit 64", () => {
  const cases: [Partial<Record<string, string>>, Record<string, unknown>, RegExp][] = [
    [{}, { "fetch-timeout": 1.5 }, /invalid fetch-timeout in \/a\.toml: "1\.5" must be a whole/],
    [{}, { "fetch-timeout": "10ms" }, /invalid fetch-timeout in \/a\.toml: "10ms"/],
    [
      { CORE_OPS_FETCH_TIMEOUT: "0" },
      {},
      /invalid CORE_OPS_FETCH_TIMEOUT \(environment\): "0" must be at least 1/,
    ],
    [{ CORE_OPS_VERIFY_TIMEOUT: "8d" }, {}, /CORE_OPS_VERIFY_TIMEOUT.*"8d"/],
    [{ CORE_OPS_RETRY_MAX: "999999999" }, {}, /CORE_OPS_RETRY_MAX.*at most 604800/],
    [
      { CORE_OPS_REQUIRE_SIGNED: "maybe" },
      {},
      /CORE_OPS_REQUIRE_SIGNED \(environment\): "maybe" must be true or false/,
    ],
    [
      {},
      { "ssh-key": "keys/deploy" },
      /invalid ssh-key in \/a\.toml: "keys\/deploy" must be an absolute path/,
    ],
    [{}, { "metrics-file": "/x/../y" }, /invalid metrics-file in \/a\.toml/],
    [{ CORE_OPS_AGE_IDENTITY: "age.key" }, {}, /CORE_OPS_AGE_IDENTITY \(environment\)/],
    [
      {},
      { "config-roots": ["web", "etc/ssh"] },
      /invalid config-roots in \/a\.toml: "\["web","etc\/ssh"\]" each root/,
    ],
    [{ CORE_OPS_CONFIG_ROOTS: "web,.hidden" }, {}, /CORE_OPS_CONFIG_ROOTS \(environment\)/],
    [{}, { "require-signed": true }, /require-signed in \/a\.toml is true but no allowed-signers/],
    [
      {},
      { "retry-initial": 600, "retry-max": 60 },
      /retry-max in \/a\.toml \(60 s\) is shorter than retry-initial in \/a\.toml \(600 s\)/,
    ],
    [
      { CORE_OPS_VERIFY_TIMEOUT: "3" },
      {},
      /verify-settle \(default\) \(3 s\) must be shorter than CORE_OPS_VERIFY_TIMEOUT/,
    ],
  ];
  for (const [envValues, tomlValues, expected] of cases) {
    assert.throws(
      () =>
        resolveSettings({
          flags: {},
          env: (n) => envValues[n],
          toml: { path: "/a.toml", values: tomlValues as AgentToml },
        }),
      (e: unknown) => {
        assert.ok(e instanceof CoreOpsError, String(e));
        assert.equal(e.exitCode, 64);
        assert.match(e.message, expected);
        return true;
      },
    );
  }
});

Deno.test("agent.toml: every SPEC §4 key is known; wrong TOML types are refused", () => {
  const keys = [
    "repo",
    "rev",
    "host",
    "quadlet-dir",
    "systemd-unit-dir",
    "config-dir",
    "state-dir",
    "lock-path",
    "require-signed",
    "allowed-signers",
    "ssh-key",
    "fetch-timeout",
    "verify-timeout",
    "verify-settle",
    "retry-initial",
    "retry-max",
    "metrics-file",
    "config-roots",
    "age-identity",
    "keep-generations",
    "adopt",
    "webhook-secret-file",
    "pull-timeout",
  ];
  for (const key of keys) {
    assert.throws(
      () => parseAgentToml("/a.toml", `${key} = { nested = 1 }\n`),
      (e: unknown) =>
        e instanceof CoreOpsError && !/unknown setting/.test(e.message) &&
        e.message.includes(key),
      key,
    );
  }
  assert.throws(
    () => parseAgentToml("/a.toml", 'config-roots = "web"\n'),
    (e: unknown) => e instanceof CoreOpsError && /config-roots/.test(e.message),
  );
});

Deno.test("the release permission set may read every setting's environment variable", () => {
  for (const name of Object.values(ENV_NAMES)) {
    assert.ok(PRODUCTION.env.includes(name), `${name} missing from tools/permissions.ts`);
  }
});

Deno.test("keep-generations: a whole number from 1 to 100, 5 by default", () => {
  const cases: [Record<string, string>, Record<string, unknown>, number | RegExp][] = [
    [{}, {}, 5],
    [{}, { "keep-generations": 3 }, 3],
    [{ CORE_OPS_KEEP_GENERATIONS: "12" }, { "keep-generations": 3 }, 12],
    [{}, { "keep-generations": 0 }, /keep-generations in \/a\.toml: "0" must be at least 1/],
    [{}, { "keep-generations": 2.5 }, /keep-generations in \/a\.toml: "2\.5" must be a whole/],
    [{ CORE_OPS_KEEP_GENERATIONS: "five" }, {}, /CORE_OPS_KEEP_GENERATIONS \(environment\)/],
    [{}, { "keep-generations": 1000 }, /must be at most 100/],
  ];
  for (const [envValues, tomlValues, expected] of cases) {
    const resolve = () =>
      resolveSettings({
        flags: {},
        env: (n) => envValues[n],
        toml: { path: "/a.toml", values: tomlValues as AgentToml },
      });
    if (typeof expected === "number") {
      assert.equal(resolve().keepGenerations, expected);
    } else {
      assert.throws(resolve, (e: unknown) => e instanceof CoreOpsError && expected.test(e.message));
    }
  }
});

Deno.test("adopt: false by default; agent.toml boolean, environment yes/no/1/0", () => {
  const cases: [Record<string, string>, Record<string, unknown>, boolean | RegExp][] = [
    [{}, {}, false],
    [{}, { adopt: true }, true],
    [{ CORE_OPS_ADOPT: "no" }, { adopt: true }, false],
    [{ CORE_OPS_ADOPT: "1" }, {}, true],
    [{ CORE_OPS_ADOPT: "sure" }, {}, /CORE_OPS_ADOPT \(environment\): "sure" must be true or/],
  ];
  for (const [envValues, tomlValues, expected] of cases) {
    const resolve = () =>
      resolveSettings({
        flags: {},
        env: (n) => envValues[n],
        toml: { path: "/a.toml", values: tomlValues as AgentToml },
      });
    if (typeof expected === "boolean") {
      assert.equal(resolve().adopt, expected);
    } else {
      assert.throws(resolve, (e: unknown) => e instanceof CoreOpsError && expected.test(e.message));
    }
  }
  assert.throws(
    () => parseAgentToml("/a.toml", 'adopt = "yes"\n'),
    (e: unknown) => e instanceof CoreOpsError && /adopt/.test(e.message),
  );
});

Deno.test("the original core-ops' removed variables are warned about, naming the replacement", () => {
  assert.deepEqual(removedVariableWarnings(noEnv), []);
  const env = (n: string) =>
    ({ CORE_OPS_STATE_FILE: "/var/lib/core-ops/status.json", CORE_OPS_AUDIT_DIR: "" } as Record<
      string,
      string
    >)[n];
  const warnings = removedVariableWarnings(env);
  assert.equal(warnings.length, 2, "set, even to an empty value, is warned about");
  assert.match(
    warnings[0],
    /^CORE_OPS_STATE_FILE is no longer read .*state-dir, CORE_OPS_STATE_DIR/,
  );
  assert.match(warnings[1], /^CORE_OPS_AUDIT_DIR is no longer read .*journald/);
  for (const name of Object.keys(REMOVED_VARIABLES)) {
    assert.ok(PRODUCTION.env.includes(name), `${name} must be readable to be warned about`);
  }
});
