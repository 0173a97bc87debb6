/**
 * Health checks and image auto-updates of desired containers (SPEC §9), read
 * from their quadlet files: what verification may rely on, and what the plan
 * warns about or reports.
 *
 * `Notify=healthy` makes the container's unit `Type=notify` with Podman
 * telling systemd "ready" only once the health check passed: the start job
 * itself waits for health, bounded by the unit's start timeout. So such a
 * container is healthy when systemd says it started, and it can only start
 * if it has a `HealthCmd=` that passes before that timeout runs out.
 *
 * @module
 */
import type { Warning } from "../model.ts";
import { lastValue, parseUnitFile, type UnitFile } from "../source/unitfile.ts";
import type { UnitInfo } from "./units.ts";

/** systemd's `DefaultTimeoutStartSec=`, which applies unless the unit sets its own. */
const DEFAULT_START_TIMEOUT_S = 90;

/** What a container's files say about its health check and image updates. */
export interface ContainerHealth {
  notifyHealthy: boolean;
  healthCmd: string | null;
  /** `HealthStartPeriod=` in seconds, or `null` when unset or unreadable. */
  startPeriodS: number | null;
  /** The unit's start timeout in seconds (`Infinity` for `infinity`/0). */
  startTimeoutS: number;
  /** `AutoUpdate=` (`registry` or `local`), or `null`. */
  autoUpdate: string | null;
}

/** The health facts of a container unit (`null` for every other kind). */
export function containerHealth(info: UnitInfo): ContainerHealth | null {
  if (info.kind !== "container") return null;
  const files: UnitFile[] = info.artifacts.map((a) =>
    parseUnitFile(new TextDecoder().decode(a.content))
  );
  const notify = lastValue(files, "Container", "Notify")?.toLowerCase();
  const healthCmd = lastValue(files, "Container", "HealthCmd") ?? null;
  const startPeriod = lastValue(files, "Container", "HealthStartPeriod");
  const timeout = lastValue(files, "Service", "TimeoutStartSec") ??
    lastValue(files, "Service", "TimeoutSec");
  return {
    notifyHealthy: notify === "healthy",
    healthCmd: healthCmd === "" || healthCmd?.toLowerCase() === "none" ? null : healthCmd,
    startPeriodS: startPeriod === undefined ? null : goDuration(startPeriod),
    startTimeoutS: timeout === undefined ? DEFAULT_START_TIMEOUT_S : systemdTimeout(timeout),
    autoUpdate: lastValue(files, "Container", "AutoUpdate") || null,
  };
}

/** The plan's warnings and notes about health checks and auto-updates, in unit order. */
export function healthWarnings(units: readonly UnitInfo[]): Warning[] {
  const out: Warning[] = [];
  for (const info of units) {
    const h = containerHealth(info);
    if (h === null) continue;
    const file = info.artifacts[0].source;
    if (h.notifyHealthy && h.healthCmd === null) {
      out.push({
        file,
        message: `${info.file} has Notify=healthy but no HealthCmd=: it can never report ` +
          `healthy, so its start will time out`,
      });
    }
    if (!h.notifyHealthy && h.healthCmd !== null) {
      out.push({
        file,
        message: `${info.file} has a HealthCmd= without Notify=healthy: systemd (and core-ops' ` +
          `verification) will not wait for it to pass`,
      });
    }
    if (h.startPeriodS !== null && h.startPeriodS > h.startTimeoutS) {
      out.push({
        file,
        message: `${info.file}: HealthStartPeriod= (${h.startPeriodS} s) is longer than the ` +
          `unit's start timeout (${h.startTimeoutS} s): raise TimeoutStartSec= in [Service]`,
      });
    }
    if (h.autoUpdate !== null) {
      out.push({
        file,
        message: `${info.file} has AutoUpdate=${h.autoUpdate}: podman-auto-update may replace ` +
          `its image between runs; core-ops leaves that to it (not drift)`,
      });
    }
  }
  return out;
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  "µs": 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** A Go duration (`30s`, `1m30s`, `1.5h`) in seconds, as Podman reads it; `null` if not one. */
export function goDuration(text: string): number | null {
  const value = text.trim();
  if (value === "0") return 0;
  const parts = [...value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) return null;
  return parts.reduce((sum, p) => sum + Number(p[1]) * GO_UNITS[p[2]], 0);
}

const SYSTEMD_UNITS: Record<string, number> = {
  us: 1e-6,
  usec: 1e-6,
  ms: 1e-3,
  msec: 1e-3,
  s: 1,
  sec: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  hours: 3600,
};

/** A systemd time span (`90`, `2min 30s`, `infinity`) in seconds; unreadable → the default. */
export function systemdTimeout(text: string): number {
  const value = text.trim().toLowerCase();
  if (value === "infinity" || value === "0") return Infinity;
  if (/^[0-9]+$/.test(value)) return Number(value);
  const parts = [...value.matchAll(/([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)/g)];
  let total = 0;
  for (const [, n, unit] of parts) {
    if (!(unit in SYSTEMD_UNITS)) return DEFAULT_START_TIMEOUT_S;
    total += Number(n) * SYSTEMD_UNITS[unit];
  }
  return parts.length === 0 ? DEFAULT_START_TIMEOUT_S : total;
}
