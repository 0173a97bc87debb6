/** The settings table: every row complete, and agent.toml, variables and flags derived from it. */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { parseAgentToml, resolveSettings, type SettingsInput } from "../../src/settings.ts";
import {
  camel,
  ENV_NAMES,
  envOf,
  fieldOf,
  type Row,
  rowOf,
  type SettingName,
  SETTINGS,
} from "../../src/settings/table.ts";

const noEnv = () => undefined;

Deno.test("every row has a kebab-case name, its variable, help, a kind and a valid default", () => {
  const names = new Set<string>();
  const envs = new Set<string>();
  for (const row of SETTINGS) {
    assert.match(row.name, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, row.name);
    assert.ok(!names.has(row.name), `${row.name} twice`);
    names.add(row.name);
    const env = envOf(row);
    assert.match(env, /^CORE_OPS_[A-Z0-9_]+$/, row.name);
    assert.ok(!envs.has(env), `${env} twice`);
    envs.add(env);
    assert.ok(row.help.trim().length > 10, `${row.name}: help`);
    assert.ok(row.kind.schema !== undefined && row.kind.toml !== undefined, row.name);
    assert.ok(row.kind.arg === null || /^[a-z]+$/.test(row.kind.arg), row.name);
    assert.ok(row.commands.length > 0, `${row.name}: no command takes it`);
    if (row.default !== null) {
      assert.ok(row.kind.schema.safeParse(row.default).success, `${row.name}: default invalid`);
      assert.ok(row.kind.toml.safeParse(row.default).success, `${row.name}: default not TOML`);
    }
  }
});

Deno.test("variables are the key upper-cased, '-' → '_', and include every one SPEC §3 names", () => {
  for (const row of SETTINGS) {
    if (row.env === undefined) {
      assert.equal(envOf(row), "CORE_OPS_" + row.name.toUpperCase().replaceAll("-", "_"));
    }
    assert.equal(ENV_NAMES[row.name], envOf(row));
  }
  const spec = [
    "CORE_OPS_REPO",
    "CORE_OPS_REV",
    "CORE_OPS_HOST",
    "CORE_OPS_QUADLET_DIR",
    "CORE_OPS_SYSTEMD_UNIT_DIR",
    "CORE_OPS_CONFIG_DIR",
    "CORE_OPS_STATE_DIR",
    "CORE_OPS_LOCK_PATH",
  ];
  for (const name of spec) assert.ok(Object.values(ENV_NAMES).includes(name), name);
  assert.equal(envOf({ ...rowOf("repo"), env: "GIVEN" }), "GIVEN", "a row may name its own");
});

Deno.test("the derived agent.toml schema refuses an unknown key, naming the line and the known ones", () => {
  assert.throws(
    () => parseAgentToml("/a.toml", '# comment\nrepo = "x"\n\nstate_dir = "/x"\n'),
    (e: unknown) => {
      assert.ok(e instanceof CoreOpsError);
      assert.equal(e.exitCode, 64);
      const [d] = e.diagnostics;
      assert.equal(d.message, 'unknown setting "state_dir"');
      assert.equal(d.location?.file, "/a.toml");
      assert.equal(d.location?.line, 4);
      for (const row of SETTINGS) assert.ok(d.hint?.includes(row.name), row.name);
      return true;
    },
  );
});

/** Three distinct valid spellings of a kind's value: flag, environment, agent.toml. */
function samples(row: Row): [string, string, unknown] {
  switch (row.kind.arg) {
    case null:
      return ["true", "no", true];
    case "duration":
      return ["30", "40s", 50];
    case "list":
      return ["web", "db", ["cache"]];
    case "url":
      return ["file:///f", "file:///e", "file:///t"];
    case "ref":
      return ["f", "e", "t"];
    case "id":
      return ["f", "e", "t"];
    case "n":
      return ["7", "8", 9];
    default:
      return ["/f", "/e", "/t"];
  }
}

/** Other settings set so that the cross-setting rules hold whatever value the row under test takes. */
function backdrop(except: SettingName): Record<string, unknown> {
  const base: Record<string, unknown> = {
    "retry-initial": 1,
    "verify-timeout": 600,
    "allowed-signers": "/signers",
  };
  delete base[except];
  return base;
}

Deno.test("every row resolves flag > environment > agent.toml > default, with its origin", () => {
  for (const row of SETTINGS) {
    const [flag, env, toml] = samples(row);
    const values = { ...backdrop(row.name), [row.name]: toml };
    assert.doesNotThrow(() => parseAgentToml("/a.toml", tomlText(values)), row.name);
    const input = (levels: number): SettingsInput => ({
      flags: levels >= 3 ? { [row.name]: flag } : {},
      env: (name) => (levels >= 2 && name === envOf(row) ? env : undefined),
      toml: {
        path: "/a.toml",
        values: levels >= 1 ? values : backdrop(row.name),
      },
    });
    const field = fieldOf(row);
    const expected: [number, unknown, string][] = [
      [3, flag, "flag"],
      [2, env, "environment"],
      [1, toml, "agent.toml"],
    ];
    for (const [levels, raw, origin] of expected) {
      const settings = resolveSettings(input(levels)) as unknown as Record<string, unknown>;
      assert.deepEqual(settings[field], row.kind.schema.parse(raw), `${row.name} from ${origin}`);
      assert.equal(
        (settings.origins as Record<string, string>)[row.name],
        origin,
        `${row.name} from ${origin}`,
      );
    }
    const none = resolveSettings(input(0)) as unknown as Record<string, unknown>;
    assert.deepEqual(none[field], row.default === null ? null : row.kind.schema.parse(row.default));
    assert.equal(
      (none.origins as Record<string, string>)[row.name],
      row.default === null ? undefined : "default",
      row.name,
    );
  }
});

function tomlText(values: Record<string, unknown>): string {
  return Object.entries(values).map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`).join("");
}

Deno.test("every row's field is in the resolved settings, named by camel case and unit", () => {
  const settings = resolveSettings({ flags: {}, env: noEnv, toml: null });
  for (const row of SETTINGS) assert.ok(fieldOf(row) in settings, fieldOf(row));
  assert.equal(camel("systemd-unit-dir"), "systemdUnitDir");
  assert.equal(fieldOf(rowOf("fetch-timeout")), "fetchTimeoutSeconds");
  assert.deepEqual(settings.dirs, {
    quadletDir: settings.quadletDir,
    systemdUnitDir: settings.systemdUnitDir,
    configDir: settings.configDir,
  });
});

Deno.test("a bad value from any origin names the row's own spelling there", () => {
  for (const row of SETTINGS) {
    // Empty is refused by every kind but a list, where it means "none allowed".
    const bad = row.kind.arg === "list" ? "a/b" : "";
    assert.throws(
      () =>
        resolveSettings({
          flags: {},
          env: (n) => (n === envOf(row) ? bad : undefined),
          toml: null,
        }),
      (e: unknown) =>
        e instanceof CoreOpsError && e.exitCode === 64 &&
        e.message.includes(`invalid ${envOf(row)} (environment): "${bad}"`),
      row.name,
    );
    assert.throws(
      () => resolveSettings({ flags: { [row.name]: bad }, env: noEnv, toml: null }),
      (e: unknown) => e instanceof CoreOpsError && e.message.includes(`invalid --${row.name}: `),
      row.name,
    );
  }
});
