/**
 * Step 6 of a run, verify: every unit the run started or restarted, through
 * one batched `systemctl show` polled until a deadline, each held for the
 * settle window (src/apply/verify.ts, SPEC §2).
 *
 * @module
 */
import type { StepResult } from "../apply/execute.ts";
import {
  type UnitVerdict,
  verify as verifyUnits,
  type VerifyOptions,
  type VerifyTarget,
} from "../apply/verify.ts";
import type { Systemd } from "../host/systemd.ts";
import type { UnitKind } from "../model.ts";
import { containerHealth } from "../plan/health.ts";
import type { Plan } from "../plan/planner.ts";

/** Deadlines and clock of verification, and the systemd it asks. */
export interface VerifyContext extends VerifyOptions {
  systemd: Systemd;
}

/** Verifies `units` (started, restarted or brought back up). */
export async function verify(
  units: readonly string[],
  planned: Plan,
  kinds: ReadonlyMap<string, UnitKind>,
  ctx: VerifyContext,
): Promise<UnitVerdict[]> {
  return await verifyUnits(units.map((u) => target(u, planned, kinds)), ctx.systemd, ctx);
}

/** The units a run's steps started or restarted. */
export function startedUnits(steps: readonly StepResult[]): string[] {
  return steps.filter((s) => (s.op === "start" || s.op === "restart") && s.status === "ok")
    .map((s) => s.target);
}

function target(unit: string, planned: Plan, kinds: ReadonlyMap<string, UnitKind>): VerifyTarget {
  const info = planned.units.find((u) => u.unit === unit);
  const kind = kinds.get(unit) ?? instanceKind(unit, kinds) ?? "service";
  const health = info === undefined ? null : containerHealth(info);
  return {
    unit,
    kind,
    trigger: info?.triggeredBy ?? undefined,
    healthChecked: health?.notifyHealthy === true && health.healthCmd !== null,
  };
}

/** `web@a.service` has the kind of its template `web@.service`. */
function instanceKind(unit: string, kinds: ReadonlyMap<string, UnitKind>): UnitKind | undefined {
  const m = unit.match(/^([^@]+@)[^.]+(\.[a-z]+)$/);
  return m ? kinds.get(`${m[1]}${m[2]}`) : undefined;
}
