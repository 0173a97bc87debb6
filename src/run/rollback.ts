/**
 * Step 7 of a failed run, roll back: the files back to the last applied
 * content, one reload, the units back as they were — planned by the pure
 * src/apply/rollback.ts from the steps that ran, then executed (every restore
 * is tried) and verified like a run (SPEC §2). Then systemd's own account of
 * each failing unit, for the failure record.
 *
 * @module
 */
import { execute, type StepResult } from "../apply/execute.ts";
import { asCoreOpsError } from "../errors.ts";
import { planRollback, type Restore } from "../apply/rollback.ts";
import type { UnitVerdict } from "../apply/verify.ts";
import type { Files } from "../host/files.ts";
import type { Systemd } from "../host/systemd.ts";
import type { UnitKind, UnitState } from "../model.ts";
import type { Plan } from "../plan/planner.ts";
import type { RollbackReport } from "../report/run_report.ts";
import type { FailedUnit } from "../state/store.ts";
import { verify, type VerifyContext } from "./verify.ts";

/** What rolling back needs. */
export interface RollbackContext {
  files: Files;
  systemd: Systemd;
  verify: VerifyContext;
  onStep?: (step: StepResult) => void;
}

/** Rolls back the steps that ran. */
export async function rollBack(
  steps: readonly StepResult[],
  restores: ReadonlyMap<string, Restore>,
  before: ReadonlyMap<string, UnitState> | null,
  kinds: ReadonlyMap<string, UnitKind>,
  planned: Plan,
  ctx: RollbackContext,
): Promise<RollbackReport> {
  const rollback = planRollback({ steps, restores, before, kinds });
  const rolled = await execute(rollback.actions, {
    files: ctx.files,
    systemd: ctx.systemd,
    contents: rollback.contents,
    kinds,
    keepGoing: true,
    onStep: ctx.onStep,
  });
  // A rollback that cannot even ask systemd still ends in a record of the run.
  let verification: UnitVerdict[] = [];
  let unverified: string[] = [];
  try {
    verification = await verify(rollback.verify, planned, kinds, ctx.verify);
  } catch (error) {
    unverified = [`verification: ${asCoreOpsError(error).message}`];
  }
  const broken = [
    ...unverified,
    ...rolled.filter((s) => s.status !== "ok").map((s) =>
      `${s.op} ${s.target}: ${s.status === "not-run" ? "not run" : s.message}`
    ),
    ...verification.filter((v) => v.status === "failed").map((v) => `${v.unit}: ${v.message}`),
  ];
  return {
    status: broken.length === 0 ? "ok" : "failed",
    steps: rolled,
    verification,
    error: broken.length === 0 ? null : broken.join("; "),
  };
}

/** Why the run failed, one line: each failed step and failing unit (and what threw). */
export function failureReason(
  steps: readonly StepResult[],
  units: readonly UnitVerdict[],
  thrown: string | null,
): string {
  return [
    ...steps.map((s) => `${s.op} ${s.target} failed: ${s.message}`),
    ...units.map((u) => `${u.unit}: ${u.message}`),
    ...(thrown === null ? [] : [thrown]),
  ].join("; ");
}

/** systemd's own account of each failing unit, from one `show`, with its last journal lines. */
export async function failedUnitDetails(
  steps: readonly StepResult[],
  units: readonly UnitVerdict[],
  systemd: Systemd,
): Promise<FailedUnit[]> {
  const reasons = new Map<string, string>(units.map((v) => [v.unit, v.message]));
  // A failed pull names its image; systemd has no unit by that name to ask about.
  const out: FailedUnit[] = steps.filter((s) => s.op === "pull").map((s) => ({
    unit: s.target,
    reason: s.message,
    result: null,
    exit_status: null,
    journal: [],
  }));
  for (const s of steps) {
    if (s.op === "write" || s.op === "remove" || s.op === "reload" || s.op === "pull") continue;
    if (!reasons.has(s.target)) reasons.set(s.target, s.message);
  }
  if (reasons.size === 0) return out;
  const props = await systemd.show([...reasons.keys()], ["Result", "ExecMainStatus"]);
  for (const [unit, reason] of reasons) {
    const p = props.get(unit);
    out.push({
      unit,
      reason,
      result: p?.Result || null,
      exit_status: p?.ExecMainStatus || null,
      journal: await systemd.journal(unit, 10),
    });
  }
  return out;
}
