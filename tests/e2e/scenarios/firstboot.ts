/**
 * First boot: the host is provisioned from the shipped butane/core-ops.bu by
 * the real Ignition and then boots as a real first boot, and the timer takes
 * it from there with nobody typing a command.
 *
 * The chain, and what stands in where:
 * - butane/core-ops.bu → Ignition 3.3.0 by the test-only translator
 *   (lib/butane.ts; real Butane is not installable here), checked by the real
 *   `ignition-validate`, applied by the real Ignition (`fetch-offline`, then
 *   `files`) to the guest's root before it boots (lib/ignition.ts).
 * - Only these fields of the shipped config are changed, each asserted to
 *   exist first: the binary's URL and hash (to the loopback server below),
 *   `repo` and `host` in agent.toml (to the test's repository and host), and a
 *   drop-in for the timer that shortens OnBootSec/RandomizedDelaySec.
 * - The release binary: there is no single-file `deno compile` binary here
 *   (no denort can be fetched), so the offline package (tools/package.ts,
 *   same permission flags) stands in. The harness mounts it read-only at
 *   /usr/local/lib/core-ops as in every scenario, and the "binary" served over
 *   http from 127.0.0.1 and installed by Ignition to /usr/local/bin/core-ops
 *   (checked against its sha512) is a two-line launcher that execs the
 *   package's bin/core-ops. The harness's usual /usr/local/bin/core-ops
 *   symlink is not made, so that file is Ignition's alone.
 * - A real first boot of systemd 257: /etc/machine-id says `uninitialized`
 *   (an empty file is not a first boot), a catch-all `disable *` preset as
 *   FCOS ships (Debian has none, and without it every unit would be enabled
 *   and the test would prove nothing), systemd-networkd-wait-online masked
 *   (the guest has only loopback, it would hold network-online.target for two
 *   minutes) and systemd-firstboot masked (it would prompt on a console nobody
 *   answers; on FCOS, Ignition is the first-boot configuration).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encryptArmored, newIdentity } from "../../helpers/age.ts";
import { type ButaneConfig, type IgnitionConfig, parseButane, translate } from "../lib/butane.ts";
import { GUEST_CORE_OPS, GUEST_PACKAGE_DIR } from "../lib/guest.ts";
import { applyIgnition, ignitionValidate, serveFiles, sha512 } from "../lib/ignition.ts";
import { mustRun } from "../lib/proc.ts";
import { type Files, GIT_IDENTITY, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { EXAMPLE_NAS_UNITS, exampleOnTestHost, REPO } from "./fixtures.ts";
import { agentEvents, serviceRuns, waitFor } from "./service.ts";
import { SHIPPED_UNITS, shippedUnit } from "./units.ts";

const CHECKOUT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
const BUTANE = `${CHECKOUT}/butane/core-ops.bu`;
const BUTANE_PRIVATE = `${CHECKOUT}/butane/core-ops-private.bu`;
const EXAMPLE = `${CHECKOUT}/examples/homelab`;

/** The stand-in for the release binary (see the module doc). */
const LAUNCHER = `#!/bin/sh
# e2e stand-in for the core-ops release binary: the offline package, mounted by the harness.
exec ${GUEST_PACKAGE_DIR}/bin/core-ops "$@"
`;

/** The test's timer drop-in: first run 3 s after boot, then 20 s after each run started. */
const TIMER_DROPIN = `[Timer]
OnBootSec=
OnBootSec=3s
OnUnitActiveSec=20s
RandomizedDelaySec=2s
AccuracySec=1s
`;

/** A secret of the first boot: web mounts it; the identity comes from Ignition. */
const FIRST_BOOT_TOKEN = `first-boot-${crypto.randomUUID()}`;
const FIRST_BOOT_AGE = await newIdentity();
const FIRST_BOOT_SECRET = {
  identity: FIRST_BOOT_AGE.identity,
  files: {
    "hosts/nas/web/secrets/e2e-token.age": await encryptArmored(
      FIRST_BOOT_TOKEN,
      FIRST_BOOT_AGE.recipient,
    ),
    "hosts/nas/web/quadlet/web.container.d/99-zz-e2e-secret.conf":
      "[Container]\nVolume=/etc/web/e2e-token:/run/secrets/e2e-token:ro\n",
  } as Files,
};

/** The host of examples/homelab the first boot converges (as the shipped agent.toml says). */
const HOST = "nas";

/**
 * Writes the example repository into the guest's root from the host and
 * commits it, before boot: the timer's first run comes seconds after boot.
 * It is examples/homelab with the e2e drop-ins that run the test image
 * (no registry here), as the apply scenarios use it.
 * Returns the commit.
 */
async function writeRepoBeforeBoot(root: string, extra: Files = {}): Promise<string> {
  const dir = `${root}${REPO}`;
  for (const [rel, spec] of Object.entries({ ...await exampleOnTestHost(), ...extra })) {
    const { content, mode } = typeof spec === "string" ? { content: spec, mode: 0o644 } : spec;
    await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, rel), content);
    await Deno.chmod(join(dir, rel), mode);
  }
  const git = (args: string[]) =>
    mustRun("git", ["-C", dir, ...args], {
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1" },
    });
  await git(["init", "-q", "-b", "main"]);
  await git(["add", "-A"]);
  await git([
    ...GIT_IDENTITY,
    "commit",
    "-q",
    "-m",
    "examples/homelab for the first boot",
  ]);
  return (await git(["rev-parse", "HEAD"])).stdout.trim();
}

/** Replaces exactly one match of `pattern` in `text`; fails if there is not exactly one. */
function replaceOnce(text: string, pattern: RegExp, replacement: string, what: string): string {
  const matches = text.match(new RegExp(pattern.source, pattern.flags.replace("g", "") + "g"));
  assert.equal(matches?.length ?? 0, 1, `expected one ${what} in the shipped config`);
  return text.replace(pattern, replacement);
}

/** What a first-boot scenario changes in the shipped Butane config. */
interface Provision {
  /** Keep the shipped `enabled: true` of the timer (false: drop it, for the negative check). */
  enableTimer: boolean;
  /** URL the launcher is served at. */
  binaryUrl: string;
}

/** The shipped butane/core-ops.bu with only the test's substitutions (see the module doc). */
async function testConfig(p: Provision): Promise<ButaneConfig> {
  const config = parseButane(await Deno.readTextFile(BUTANE));
  const files = config.storage?.files ?? [];
  const binary = files.find((f) => f.path === GUEST_CORE_OPS);
  assert.ok(
    binary?.contents?.source,
    `the shipped config installs no ${GUEST_CORE_OPS} from a URL`,
  );
  assert.equal(binary.mode, 0o755);
  assert.match(binary.contents.verification?.hash ?? "", /^sha512-[0-9a-f]{128}$/);
  binary.contents = {
    source: p.binaryUrl,
    verification: { hash: await sha512(new TextEncoder().encode(LAUNCHER)) },
  };

  const toml = files.find((f) => f.path === "/etc/core-ops/agent.toml");
  assert.ok(toml?.contents?.inline, "the shipped config writes no inline /etc/core-ops/agent.toml");
  let text = toml.contents.inline;
  text = replaceOnce(text, /^repo = ".*"$/m, `repo = "file://${REPO}"`, "repo = line");
  text = replaceOnce(text, /^host = ".*"$/m, `host = "${HOST}"`, "host = line");
  toml.contents = { inline: text };

  const timer = config.systemd?.units.find((u) => u.name === "core-ops.timer");
  assert.ok(timer, "the shipped config has no core-ops.timer unit");
  assert.equal(timer.enabled, true, "the shipped config does not enable core-ops.timer");
  if (!p.enableTimer) delete timer.enabled;
  timer.dropins = [...(timer.dropins ?? []), { name: "50-e2e-soon.conf", contents: TIMER_DROPIN }];
  return config;
}

/** What starts core-ops.service on a provisioned host: the timer and the trigger's path unit. */
const TRIGGERED_BY = ["core-ops-trigger.path", "core-ops.timer"];

/** Translates and validates with the real ignition-validate. */
async function ignitionOf(config: ButaneConfig, filesDir = CHECKOUT): Promise<IgnitionConfig> {
  const ignition = await translate(config, filesDir);
  const validate = await ignitionValidate(ignition);
  assert.equal(
    validate.code,
    0,
    `ignition-validate rejected the config:\n${validate.stdout}${validate.stderr}`,
  );
  return ignition;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/**
 * The pre-boot hook: makes the root a first boot of an FCOS-like image,
 * writes the source repository, and provisions it with the real Ignition.
 */
function firstBoot(
  enableTimer: boolean,
  secret?: { identity: string; files: Files },
): (root: string) => Promise<void> {
  return async (root) => {
    await Deno.writeTextFile(`${root}/etc/machine-id`, "uninitialized\n");
    await Deno.mkdir(`${root}/usr/lib/systemd/system-preset`, { recursive: true });
    await Deno.writeTextFile(
      `${root}/usr/lib/systemd/system-preset/99-default-disable.preset`,
      "disable *\n",
    );
    for (const unit of ["systemd-networkd-wait-online.service", "systemd-firstboot.service"]) {
      await Deno.symlink("/dev/null", `${root}/etc/systemd/system/${unit}`);
    }
    await writeRepoBeforeBoot(root, secret?.files);

    const launcher = new TextEncoder().encode(LAUNCHER);
    const server = await serveFiles({ "/core-ops": launcher });
    const filesDir = await Deno.makeTempDir({ prefix: "core-ops-butane-" });
    try {
      const config = await testConfig({ enableTimer, binaryUrl: `${server.base}/core-ops` });
      let dir = CHECKOUT;
      if (secret) {
        // The identity reaches the host as core-ops-private.bu says: its entry, from a file
        // of the files dir that never enters the repository.
        const ageKey = parseButane(await Deno.readTextFile(BUTANE_PRIVATE)).storage?.files
          ?.find((f) => f.path === "/etc/core-ops/age.key");
        assert.ok(ageKey?.contents?.local, "core-ops-private.bu provisions no age identity");
        config.storage!.files!.push(ageKey);
        await Deno.mkdir(join(filesDir, "systemd"));
        for (const unit of SHIPPED_UNITS) {
          await Deno.writeTextFile(join(filesDir, "systemd", unit), await shippedUnit(unit));
        }
        await Deno.mkdir(join(filesDir, ageKey.contents.local, ".."), { recursive: true });
        await Deno.writeTextFile(join(filesDir, ageKey.contents.local), `${secret.identity}\n`);
        dir = filesDir;
      }
      await applyIgnition(root, await ignitionOf(config, dir));
    } finally {
      await server.close();
      await Deno.remove(filesDir, { recursive: true });
    }
    // Ignition fetched the binary itself, and installed it as the config says.
    assert.deepEqual(server.requests, ["/core-ops"]);
    assert.deepEqual(await Deno.readFile(`${root}${GUEST_CORE_OPS}`), launcher);
    assert.equal((await Deno.stat(`${root}${GUEST_CORE_OPS}`)).mode! & 0o7777, 0o755);
    assert.equal(
      await Deno.readTextFile(`${root}/etc/systemd/system/core-ops.service`),
      await shippedUnit("core-ops.service"),
    );
    // Nobody enabled the timer: at most a preset says it should be.
    assert.equal(
      await exists(`${root}/etc/systemd/system/timers.target.wants/core-ops.timer`),
      false,
    );
    const preset = await Deno.readTextFile(`${root}/etc/systemd/system-preset/20-ignition.preset`)
      .catch(() => "");
    assert.equal(preset.includes("enable core-ops.timer"), enableTimer, preset);
  };
}

/**
 * Asserts systemd booted the guest as a first boot: first-boot-complete.target
 * carries ConditionFirstBoot=yes (and systemd-random-seed pulls it in on every boot).
 */
async function assertFirstBoot(t: ScenarioContext): Promise<void> {
  await t.assertUnit("first-boot-complete.target", {
    ConditionResult: "yes",
    ActiveState: "active",
  });
}

/** Asserts the guest came up as a first boot and the timer was enabled by the preset alone. */
async function assertFirstBootEnabledTimer(t: ScenarioContext): Promise<void> {
  await assertFirstBoot(t);
  assert.equal(
    (await t.exec(["systemctl", "is-enabled", "core-ops.timer"])).stdout.trim(),
    "enabled",
  );
  const link = await t.ok(["readlink", "/etc/systemd/system/timers.target.wants/core-ops.timer"]);
  assert.equal(link.stdout.trim(), "/etc/systemd/system/core-ops.timer");
  await t.assertUnit("core-ops.timer", { LoadState: "loaded", ActiveState: "active" });
  // The trigger's path unit is enabled the same way, and waits for /run/core-ops/trigger.
  assert.equal(
    (await t.exec(["systemctl", "is-enabled", "core-ops-trigger.path"])).stdout.trim(),
    "enabled",
  );
  await t.assertUnit("core-ops-trigger.path", { LoadState: "loaded", ActiveState: "active" });
}

/** First-boot scenarios that need nothing but the shipped files. */
export const firstBootScenarios: Scenario[] = [
  {
    name:
      "firstboot: ignition-validate accepts both Butane examples; Ignition writes the deploy key 0600 and the age identity 0400",
    guest: false,
    async run() {
      const files = await Deno.makeTempDir({ prefix: "core-ops-butane-" });
      const root = await Deno.makeTempDir({ prefix: "core-ops-ignition-root-" });
      try {
        await ignitionOf(parseButane(await Deno.readTextFile(BUTANE)));
        // The private example reads its secrets from the files dir, as the README says.
        await Deno.mkdir(`${files}/systemd`);
        await Deno.mkdir(`${files}/secrets`);
        for (const unit of SHIPPED_UNITS) {
          await Deno.writeTextFile(`${files}/systemd/${unit}`, await shippedUnit(unit));
        }
        await mustRun("ssh-keygen", [
          "-q",
          "-t",
          "ed25519",
          "-N",
          "",
          "-C",
          "core-ops-e2e",
          "-f",
          `${files}/secrets/core-ops-deploy-key`,
        ]);
        const age = await newIdentity();
        await Deno.writeTextFile(`${files}/secrets/age.key`, `${age.identity}\n`);
        const hostKey = await Deno.readTextFile(`${files}/secrets/core-ops-deploy-key.pub`);
        await Deno.writeTextFile(`${files}/secrets/known_hosts`, `git.example.com ${hostKey}`);
        const config = parseButane(await Deno.readTextFile(BUTANE_PRIVATE));
        // The release URL is not reachable; the files stage must not need it here.
        config.storage!.files = config.storage!.files!.filter((f) => f.path !== GUEST_CORE_OPS);
        await Deno.mkdir(`${root}/etc`);
        await applyIgnition(root, await ignitionOf(config, files));

        for (
          const [path, mode] of [
            ["/etc/core-ops/deploy_key", 0o600],
            ["/etc/core-ops/known_hosts", 0o600],
            ["/etc/core-ops/age.key", 0o400],
            ["/etc/core-ops/agent.toml", 0o644],
          ] as const
        ) {
          const info = await Deno.stat(`${root}${path}`);
          assert.equal(info.mode! & 0o7777, mode, path);
          assert.equal(info.uid, 0, path);
        }
        assert.equal(
          await Deno.readTextFile(`${root}/etc/core-ops/deploy_key`),
          await Deno.readTextFile(`${files}/secrets/core-ops-deploy-key`),
        );
        assert.equal(
          await Deno.readTextFile(`${root}/etc/core-ops/age.key`),
          `${age.identity}\n`,
        );
        const toml = await Deno.readTextFile(`${root}/etc/core-ops/agent.toml`);
        assert.match(toml, /^ssh-key = "\/etc\/core-ops\/deploy_key"$/m);
      } finally {
        await Deno.remove(files, { recursive: true });
        await Deno.remove(root, { recursive: true });
      }
    },
  },
  {
    name: "firstboot: without enabled: true the timer stays disabled after first boot",
    linkCoreOps: false,
    prepareRoot: firstBoot(false),
    async run(t) {
      await assertFirstBoot(t);
      // Installed, but neither a preset nor anybody enabled it.
      await t.assertUnit("core-ops.timer", {
        LoadState: "loaded",
        ActiveState: "inactive",
        UnitFileState: "disabled",
      });
      assert.equal(await t.exists("/etc/systemd/system/timers.target.wants/core-ops.timer"), false);
      // Well past the (shortened) first tick, the agent has never run.
      await new Promise((r) => setTimeout(r, 8_000));
      const runs = await serviceRuns(t);
      assert.equal(runs.ExecMainStartTimestampMonotonic, "0", JSON.stringify(runs));
    },
  },
  {
    name:
      "firstboot: the preset enables the timer; it fires and runs the Ignition-installed binary",
    linkCoreOps: false,
    prepareRoot: firstBoot(true),
    async run(t) {
      await assertFirstBootEnabledTimer(t);
      const runs = await waitFor(60_000, "core-ops.service to run", async () => {
        const r = await serviceRuns(t);
        return r.ExecMainStartTimestampMonotonic !== "0" && r.ExecMainCode !== "0" ? r : undefined;
      });
      assert.deepEqual(runs.TriggeredBy.split(" ").sort(), TRIGGERED_BY);
      // 1 = CLD_EXITED; 200-243 are systemd's own codes for a sandbox or exec it could not set up.
      assert.equal(runs.ExecMainCode, "1", JSON.stringify(runs));
      const status = Number(runs.ExecMainStatus);
      assert.ok(status < 200 || status > 243, `core-ops.service could not start: ${status}`);
    },
  },
];

/**
 * The acceptance test of the first boot: the agent converges the example from
 * a file:// remote, leaves a success event, and the next timer run is a noop.
 * Needs `core-ops agent`; registered in mod.ts once the agent is on main.
 */
export const firstBootAgentScenarios: Scenario[] = [
  {
    name:
      "firstboot: the timer converges examples/homelab (nas) from file://, a container reads its secret, then a noop run",
    linkCoreOps: false,
    prepareRoot: firstBoot(true, FIRST_BOOT_SECRET),
    timeoutMs: 5 * 60_000,
    async run(t) {
      await assertFirstBootEnabledTimer(t);
      const sha = (await t.ok(["git", "-C", REPO, "rev-parse", "HEAD"])).stdout.trim();

      const events = await waitFor(180_000, "two agent runs", async () => {
        const found = await agentEvents(t);
        return found.length >= 2 ? found : undefined;
      });
      const [first, second] = events;
      assert.equal(first.CORE_OPS_STATUS, "success", JSON.stringify(first));
      assert.equal(first.CORE_OPS_REVISION, sha);
      assert.equal(second.CORE_OPS_STATUS, "noop", JSON.stringify(second));
      assert.equal(second.CORE_OPS_REVISION, sha);
      // The noop run wrote nothing: the deployed files are as old as the first run.
      const written = Number(
        (await t.ok(["stat", "-c", "%Y", "/etc/containers/systemd/web.container"])).stdout,
      );
      assert.ok(written <= Number(first.__REALTIME_TIMESTAMP) / 1e6, "rewritten after run 1");

      // Run by the timer, under the shipped sandbox, and it succeeded.
      const runs = await serviceRuns(t);
      assert.deepEqual(runs.TriggeredBy.split(" ").sort(), TRIGGERED_BY);
      assert.equal(runs.Result, "success", JSON.stringify(runs));
      assert.equal(runs.ExecMainStatus, "0", JSON.stringify(runs));

      // The host is what the repository says for host nas.
      for (const unit of EXAMPLE_NAS_UNITS) {
        await t.assertUnit(unit, { LoadState: "loaded", ActiveState: "active" });
      }
      assert.equal(
        await t.readFile("/etc/web/nginx.conf"),
        await Deno.readTextFile(`${EXAMPLE}/hosts/${HOST}/web/config/nginx.conf`),
      );
      assert.match((await t.podman(["ps", "--format", "{{.Names}}"])).stdout, /^web$/m);
      // The secret: decrypted with the Ignition-provisioned identity, read by web, 0600.
      assert.equal(
        (await t.podman(["exec", "web", "cat", "/run/secrets/e2e-token"])).stdout,
        FIRST_BOOT_TOKEN,
      );
      assert.equal((await t.ok(["stat", "-c", "%a", "/etc/web/e2e-token"])).stdout.trim(), "600");
      assert.equal(
        (await t.ok(["stat", "-c", "%a %U", "/etc/core-ops/age.key"])).stdout.trim(),
        "400 root",
      );
    },
  },
];
