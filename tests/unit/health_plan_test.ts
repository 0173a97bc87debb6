/** Health checks and auto-updates of desired containers (src/plan/health.ts, SPEC §9). */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import {
  containerHealth,
  goDuration,
  healthWarnings,
  systemdTimeout,
} from "../../src/plan/health.ts";
import { describeUnits } from "../../src/plan/units.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

function unitsOf(files: Record<string, string>) {
  return describeUnits(loadDesiredState(memoryTree(files), { host: null, dirs: DIRS }).artifacts);
}

const container = (lines: string[]) => `[Container]\nImage=x\n${lines.join("\n")}\n`;

Deno.test("health: durations as Podman (Go) and systemd spell them", () => {
  assert.equal(goDuration("30s"), 30);
  assert.equal(goDuration("1m30s"), 90);
  assert.equal(goDuration("1.5h"), 5400);
  assert.equal(goDuration("500ms"), 0.5);
  assert.equal(goDuration("0"), 0);
  assert.equal(goDuration("30"), null);
  assert.equal(goDuration("30s junk"), null);
  assert.equal(systemdTimeout("90"), 90);
  assert.equal(systemdTimeout("2min 30s"), 150);
  assert.equal(systemdTimeout("5m"), 300);
  assert.equal(systemdTimeout("infinity"), Infinity);
  assert.equal(systemdTimeout("0"), Infinity);
});

Deno.test("health: the facts come from the quadlet and its drop-ins, the last value winning", () => {
  const [web] = unitsOf({
    "services/a/quadlet/web.container": container([
      "Notify=healthy",
      "HealthCmd=/bin/true",
      "HealthStartPeriod=2m",
      "AutoUpdate=registry",
    ]),
    "services/a/quadlet/web.container.d/10-t.conf": "[Service]\nTimeoutStartSec=3min\n" +
      "[Container]\nAutoUpdate=\n",
  });
  assert.deepEqual(containerHealth(web), {
    notifyHealthy: true,
    healthCmd: "/bin/true",
    startPeriodS: 120,
    startTimeoutS: 180,
    autoUpdate: null,
  });
  assert.deepEqual(healthWarnings([web]), []);
});

Deno.test("health: the plan warns about health checks that cannot work as written, and reports AutoUpdate=", () => {
  const units = unitsOf({
    "services/a/quadlet/a.container": container(["Notify=healthy"]),
    "services/a/quadlet/b.container": container(["HealthCmd=curl -f localhost"]),
    "services/a/quadlet/c.container": container([
      "Notify=healthy",
      "HealthCmd=/bin/true",
      "HealthStartPeriod=5m",
    ]),
    "services/a/quadlet/d.container": container(["AutoUpdate=registry"]),
    "services/a/quadlet/e.container": container(["Notify=healthy", "HealthCmd=/bin/true"]),
    "services/a/quadlet/v.volume": "[Volume]\n",
  });
  const warnings = healthWarnings(units);
  assert.deepEqual(warnings.map((w) => w.file), [
    "services/a/quadlet/a.container",
    "services/a/quadlet/b.container",
    "services/a/quadlet/c.container",
    "services/a/quadlet/d.container",
  ]);
  assert.match(warnings[0].message, /a\.container has Notify=healthy but no HealthCmd=/);
  assert.match(warnings[1].message, /b\.container has a HealthCmd= without Notify=healthy/);
  assert.match(warnings[2].message, /HealthStartPeriod= \(300 s\) is longer than .* \(90 s\)/);
  assert.match(warnings[3].message, /AutoUpdate=registry: podman-auto-update .* \(not drift\)/);
});
