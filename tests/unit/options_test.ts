/** The CLI's setting flags are derived from the settings table, for each command that takes them. */
import assert from "node:assert/strict";
import type { Command } from "../../src/cli/args.ts";
import {
  type SettingFlags,
  settingOption,
  settingsCommand,
  settingsFrom,
} from "../../src/cli/options.ts";
import type { Output } from "../../src/cli/output.ts";
import { run } from "../../src/cli/program.ts";
import { camel, type CommandName, envOf, SETTINGS } from "../../src/settings/table.ts";

function capture(): Output & { out: string; err: string } {
  const o = {
    out: "",
    err: "",
    stdout: (t: string) => void (o.out += t),
    stderr: (t: string) => void (o.err += t),
  };
  return o;
}

async function commands(out: Output): Promise<Record<CommandName, Command<unknown[], unknown>>> {
  return {
    plan: (await import("../../src/cli/plan.ts")).planCommand(out),
    apply: (await import("../../src/cli/apply.ts")).applyCommand(out),
    agent: (await import("../../src/cli/agent.ts")).agentCommand(out),
    validate: (await import("../../src/cli/validate.ts")).validateCommand(out),
    status: (await import("../../src/cli/status.ts")).statusCommand(out),
    explain: (await import("../../src/cli/explain.ts")).explainCommand(out),
    pause: (await import("../../src/cli/pause.ts")).pauseCommand(out),
    resume: (await import("../../src/cli/pause.ts")).resumeCommand(out),
    rollback: (await import("../../src/cli/rollback.ts")).rollbackCommand(out),
    trigger: (await import("../../src/cli/trigger.ts")).triggerCommand(out),
    webhook: (await import("../../src/cli/webhook.ts")).webhookCommand(out),
  };
}

Deno.test("each command takes exactly the settings whose row names it, and no other", async () => {
  const built = await commands(capture());
  // A setting's flag says its variable in its help; a command's own flag of the same name
  // (apply's and plan's --adopt, which takes over any unowned file) is not the setting.
  const isSetting = (o: { long: string; description: string }) =>
    SETTINGS.some((row) => o.long === `--${row.name}` && o.description.includes(`[${envOf(row)}`));
  for (
    const [name, command] of Object.entries(built) as [CommandName, Command<unknown[], unknown>][]
  ) {
    const taken = command.options.filter(isSetting).map((o) => o.long);
    const rows = SETTINGS.filter((row) => (row.commands as readonly string[]).includes(name));
    assert.deepEqual(taken, rows.map((row) => `--${row.name}`), name);
  }
});

Deno.test("a setting's flag: value name from its kind, help with its variable and default", () => {
  for (const row of SETTINGS) {
    const option = settingOption(row);
    assert.equal(option.attributeName(), camel(row.name), "the parser names the value as camel()");
    assert.equal(option.takesValue, row.kind.arg !== null, row.name);
    assert.ok(option.description.startsWith(row.help), row.name);
    assert.ok(option.description.includes(envOf(row)), row.name);
    if (row.default !== null) assert.ok(option.description.includes(`default ${row.default}`));
  }
});

Deno.test("parsed flags come out under the table's names, a switch as true", async () => {
  let seen: unknown;
  const command = settingsCommand("agent").action((flags) => {
    seen = flags;
  });
  await command.parse(
    ["--fetch-timeout", "5m", "--require-signed", "--config-roots=web,db", "--state-dir", "/s"],
    "core-ops",
    { stdout: () => {} },
  );
  assert.deepEqual(seen, {
    fetchTimeout: "5m",
    requireSigned: true,
    configRoots: "web,db",
    stateDir: "/s",
  });
});

Deno.test("a command's flags are typed from the rows that name it", () => {
  settingsCommand("status").action((flags) => {
    const dir: string | undefined = flags.stateDir;
    // @ts-expect-error: status takes no --fetch-timeout, so its flags have no fetchTimeout
    void flags.fetchTimeout;
    void dir;
  });
  settingsCommand("agent").action((flags) => {
    const signed: true | undefined = flags.requireSigned;
    const timeout: string | undefined = flags.fetchTimeout;
    void [signed, timeout];
  });
});

Deno.test("an unknown option or a setting flag a command does not take is a usage error, 64", async () => {
  for (
    const args of [["agent", "--bogus"], ["status", "--fetch-timeout", "5"], ["plan", "--host"]]
  ) {
    const out = capture();
    assert.equal(await run(args, out), 64, args.join(" "));
    assert.match(out.err, /core-ops: (unknown option|option .* needs a value)/, out.err);
    assert.equal(out.out, "");
  }
});

Deno.test("per-command --help lists every setting flag it takes, with its variable", async () => {
  const out = capture();
  assert.equal(await run(["agent", "--help"], out), 0);
  assert.match(out.out, /^Usage: core-ops agent \[options\]/);
  for (const row of SETTINGS.filter((r) => (r.commands as readonly string[]).includes("agent"))) {
    assert.ok(out.out.includes(`--${row.name}`), row.name);
    assert.ok(out.out.includes(envOf(row)), envOf(row));
  }
  assert.ok(out.out.includes("CORE_OPS_CONFIG"));
});

Deno.test("settingsFrom: a command's own flag of a setting's name is not that setting (apply --adopt)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/agent.toml`;
    await Deno.writeTextFile(config, "");
    // apply's --adopt takes over any unowned file; the agent's adopt only matching ones.
    const apply = await settingsFrom({ adopt: true } as SettingFlags, "apply", config);
    assert.equal(apply.adopt, false, "apply's own --adopt leaked into the adopt setting");
    const agent = await settingsFrom({ adopt: true } as SettingFlags, "agent", config);
    assert.equal(agent.adopt, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
