/**
 * The shipped units (systemd/core-ops.service, systemd/core-ops.timer) on a
 * real systemd 257: `systemd-analyze verify` accepts them, systemd reads the
 * timer's schedule as SPEC §8 gives it, the service's
 * exposure is at most 2.0, and its sandbox still lets the agent do its job.
 *
 * The last point is checked with a probe: a copy of core-ops.service whose
 * only change is ExecStart (a script doing what the agent does: write a
 * quadlet, daemon-reload, start it, git, the generator's dry-run, config,
 * lock, and core-ops validate, plan and apply under the sandbox). It is an
 * intermediate proof until the agent exists; firstboot.ts runs the real unit
 * with the real agent.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { describe } from "../lib/scenario.ts";
import { container, REPO, webService } from "./fixtures.ts";

const UNITS_DIR = new URL("../../../systemd/", import.meta.url).pathname;

/** Every unit file in systemd/. */
export const SHIPPED_UNITS = [
  "core-ops.service",
  "core-ops.timer",
  "core-ops-trigger.path",
  "core-ops-webhook.socket",
  "core-ops-webhook@.service",
] as const;

/** The shipped unit file `name` from systemd/. */
export function shippedUnit(name: (typeof SHIPPED_UNITS)[number]): Promise<string> {
  return Deno.readTextFile(`${UNITS_DIR}${name}`);
}

/** Highest `systemd-analyze security` exposure the shipped service may have. */
export const MAX_EXPOSURE = 2.0;

/** Installs the shipped units into the guest's /etc/systemd/system (no reload). */
export async function installShippedUnits(t: ScenarioContext): Promise<void> {
  await t.writeFile("/etc/systemd/system/core-ops.service", await shippedUnit("core-ops.service"));
  await t.writeFile("/etc/systemd/system/core-ops.timer", await shippedUnit("core-ops.timer"));
}

/** `systemd-analyze security <unit>`'s overall exposure (systemd must have the unit loaded). */
export async function exposure(t: ScenarioContext, unit: string): Promise<number> {
  const result = await t.exec(["systemd-analyze", "security", "--no-pager", unit]);
  // Exits non-zero above its default threshold (100): anything else is a real failure.
  assert.equal(result.code, 0, describe(["systemd-analyze", "security", unit], result));
  const match = result.stdout.match(/Overall exposure level for \S+: (\d+(?:\.\d+)?) /);
  assert.ok(match, `no overall exposure in:\n${result.stdout}`);
  return Number(match[1]);
}

/** Asserts `systemd-analyze verify` prints nothing and succeeds for the installed units. */
export async function assertVerifyClean(t: ScenarioContext, units: string[]): Promise<void> {
  const args = ["systemd-analyze", "verify", ...units.map((u) => `/etc/systemd/system/${u}`)];
  const result = await t.exec(args);
  assert.equal(result.code, 0, describe(args, result));
  assert.equal(result.stdout + result.stderr, "", describe(args, result));
}

const PROBE_UNIT = "core-ops-probe.service";
const PROBE_SCRIPT = "/usr/local/libexec/core-ops-probe";
const PROBE_LOG = "/var/lib/core-ops/probe.log";
const PROBE_QUADLET = "/usr/local/share/core-ops-probe/probe.container";

/**
 * What the agent will do on a host, in the sandbox: every step must succeed
 * (`set -e`); paths the sandbox must protect are tried and reported, and the
 * scenario asserts they were denied.
 */
const PROBE = `#!/bin/bash
set -euo pipefail
exec >${PROBE_LOG} 2>&1
step() { echo "STEP $*"; }
step read-config;   cat /etc/core-ops/agent.toml
step quadlet;       cp ${PROBE_QUADLET} /etc/containers/systemd/.probe.container.tmp
                    mv /etc/containers/systemd/.probe.container.tmp /etc/containers/systemd/probe.container
step native-unit;   printf '[Service]\\nType=oneshot\\nExecStart=/bin/true\\n' \\
                      >/etc/systemd/system/probe-native.service
step config-root;   mkdir -p /etc/probe-root && echo probe >/etc/probe-root/app.conf
step daemon-reload; systemctl daemon-reload
step start;         systemctl start probe.service probe-native.service
step show;          systemctl show -p ActiveState probe.service
step restart;       systemctl restart probe.service
step git;           git clone -q --bare --mirror file://${REPO} /var/lib/core-ops/probe-mirror.git
                    git --git-dir=/var/lib/core-ops/probe-mirror.git fetch -q origin
                    git --git-dir=/var/lib/core-ops/probe-mirror.git rev-parse HEAD
step generator;     mkdir /tmp/stage && cp /etc/containers/systemd/probe.container /tmp/stage/
                    QUADLET_UNIT_DIRS=/tmp/stage /usr/libexec/podman/quadlet -dryrun >/dev/null
step journal;       echo probe-event | systemd-cat -t core-ops-probe
step native-event;  printf '%s\\n' MESSAGE=probe-native SYSLOG_IDENTIFIER=core-ops-probe \\
                      CORE_OPS_STATUS=noop | logger --journald
                    journalctl --no-pager -n 1 -q >/dev/null
step stop;          systemctl stop probe-native.service && systemctl reset-failed
step core-ops;      /usr/local/bin/core-ops --version
                    /usr/local/bin/core-ops validate --source-repo ${REPO}
                    /usr/local/bin/core-ops plan --source-repo ${REPO} --json >/dev/null
step apply;         /usr/local/bin/core-ops apply --source-repo ${REPO} --verify-settle 1
step lock;          exec 9>/run/core-ops/lock && flock -n 9 && exec 9>&-
for path in /etc/ssh/probe /etc/core-ops/probe /etc/containers/probe /etc/systemd/probe \\
            /etc/sudoers.d/probe /etc/pam.d/probe /usr/local/probe /var/lib/probe /root/probe; do
  if touch "$path" 2>/dev/null; then echo "WROTE $path"; else echo "DENIED $path"; fi
done
if echo >>/etc/passwd 2>/dev/null; then echo "WROTE /etc/passwd"; else echo "DENIED /etc/passwd"; fi
echo DONE
`;

/** The probe: the shipped service with ExecStart replaced, nothing else changed. */
async function probeUnit(): Promise<string> {
  const shipped = await shippedUnit("core-ops.service");
  const exec = /^ExecStart=\/usr\/local\/bin\/core-ops agent$/m;
  assert.match(shipped, exec, "core-ops.service has no ExecStart=/usr/local/bin/core-ops agent");
  return shipped.replace(exec, `ExecStart=${PROBE_SCRIPT}`);
}

/** verify, security and the sandbox probe. */
export const unitScenarios: Scenario[] = [
  {
    name: "units: systemd-analyze verify is clean; security exposure ≤ 2.0",
    async run(t) {
      await installShippedUnits(t);
      await t.writeFile(
        "/etc/systemd/system/core-ops-trigger.path",
        await shippedUnit("core-ops-trigger.path"),
      );
      await assertVerifyClean(t, ["core-ops.service", "core-ops.timer", "core-ops-trigger.path"]);
      await t.ok(["systemctl", "daemon-reload"]);
      await t.assertUnit("core-ops.timer", {
        LoadState: "loaded",
        UnitFileState: "disabled",
        RandomizedDelayUSec: "30s",
        Persistent: "yes",
      });
      // systemd's reading of the schedule (SPEC §8): 2 min after boot, then 5 min after each run.
      // (one TimersMonotonic= line per trigger)
      const monotonic = (await t.ok(
        ["systemctl", "show", "--no-pager", "--property=TimersMonotonic", "core-ops.timer"],
      )).stdout;
      assert.match(monotonic, /^TimersMonotonic=\{ OnBootUSec=2min ;/m, monotonic);
      assert.match(monotonic, /^TimersMonotonic=\{ OnUnitActiveUSec=5min ;/m, monotonic);
      const level = await exposure(t, "core-ops.service");
      assert.ok(level <= MAX_EXPOSURE, `core-ops.service exposure ${level} > ${MAX_EXPOSURE}`);
    },
  },
  {
    name:
      "units: the shipped sandbox can write, reload, start, run git, the generator and core-ops apply",
    async run(t) {
      await t.writeRepo(REPO, webService());
      await t.writeFile("/etc/core-ops/agent.toml", `repo = "file://${REPO}"\nrev = "main"\n`);
      await t.writeFile(PROBE_SCRIPT, { content: PROBE, mode: 0o755 });
      await t.writeFile(PROBE_QUADLET, container());
      await t.writeFile(`/etc/systemd/system/${PROBE_UNIT}`, await probeUnit());
      await installShippedUnits(t);
      await t.ok(["systemctl", "daemon-reload"]);
      // Same sandbox as the shipped unit, as systemd itself scores it.
      assert.equal(await exposure(t, PROBE_UNIT), await exposure(t, "core-ops.service"));

      const start = await t.exec(["systemctl", "start", PROBE_UNIT], { timeoutMs: 180_000 });
      const log = await t.exec(["cat", PROBE_LOG]);
      assert.equal(
        start.code,
        0,
        `${describe(["systemctl", "start", PROBE_UNIT], start)}\n` +
          `--- probe log\n${log.stdout}${log.stderr}`,
      );
      assert.match(log.stdout, /^DONE$/m, log.stdout);

      // What the sandboxed run did is visible on the host, core-ops apply's work included.
      for (const unit of ["web.service", "data-volume.service", "app-network.service"]) {
        await t.assertUnit(unit, { LoadState: "loaded", ActiveState: "active" });
      }
      assert.equal(await t.exists("/var/lib/core-ops/manifest.json"), true);
      await t.assertUnit("probe.service", { LoadState: "loaded", ActiveState: "active" });
      await t.assertUnit("probe-native.service", { LoadState: "loaded" });
      assert.equal(await t.readFile("/etc/probe-root/app.conf"), "probe\n");
      const mirror = await t.ok([
        "git",
        "--git-dir=/var/lib/core-ops/probe-mirror.git",
        "rev-parse",
        "HEAD",
      ]);
      const head = await t.ok(["git", "-C", REPO, "rev-parse", "HEAD"]);
      assert.equal(mirror.stdout, head.stdout);
      const events = await t.journal(["SYSLOG_IDENTIFIER=core-ops-probe"]);
      // A stream (systemd-cat) and a datagram (logger) may reach journald in either order.
      assert.deepEqual(events.map((e) => e.MESSAGE).sort(), ["probe-event", "probe-native"]);
      // Native journal fields, as the agent's audit event sends them, get through the sandbox.
      const native = events.find((e) => e.MESSAGE === "probe-native");
      assert.equal(native?.CORE_OPS_STATUS, "noop");
      assert.equal(await t.exists("/run/core-ops/lock"), true);
      // State and lock dirs exist with the unit's modes after the run.
      assert.equal((await t.ok(["stat", "-c", "%a", "/var/lib/core-ops"])).stdout.trim(), "700");
      // The private /tmp went away with the run.
      assert.equal(await t.exists("/tmp/stage"), false);

      // What the sandbox must protect was denied, and nothing of it landed.
      const tried = log.stdout.split("\n").filter((l) => /^(WROTE|DENIED) /.test(l));
      assert.equal(tried.length, 10, log.stdout);
      assert.deepEqual(tried.filter((l) => l.startsWith("WROTE")), [], log.stdout);
      for (const line of tried) {
        const path = line.slice("DENIED ".length);
        if (path !== "/etc/passwd") assert.equal(await t.exists(path), false, path);
      }
    },
  },
];
