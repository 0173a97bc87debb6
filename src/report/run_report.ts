/**
 * What one run did, as data: the record every surface is made from — the
 * CLI's text and `--json`, the state file, the audit event and the metrics.
 *
 * @module
 */
import type { StepResult } from "../apply/execute.ts";
import type { UnitVerdict } from "../apply/verify.ts";
import type { DesiredState, Op, UnitState } from "../model.ts";
import type { Plan } from "../plan/planner.ts";
import type { FailureRecord } from "../state/store.ts";

/** How a run ended. */
export type Outcome = "success" | "noop" | "failure";

/** How the rollback of a failed run went. */
export interface RollbackReport {
  status: "not-needed" | "ok" | "failed";
  steps: StepResult[];
  verification: UnitVerdict[];
  error: string | null;
}

/** Everything a run that reached its plan did, for the CLI, the state file and the audit event. */
export interface RunReport {
  runId: string;
  revision: string;
  /** `null` for a no-op the converged record answered (run/converged.ts): it loaded nothing. */
  desired: DesiredState | null;
  plan: Plan;
  /** Unit states before the run. */
  states: ReadonlyMap<string, UnitState> | null;
  steps: StepResult[];
  verification: UnitVerdict[];
  rollback: RollbackReport;
  outcome: Outcome;
  failure: FailureRecord | null;
  exitCode: number;
  startedAt: string;
  durationMs: number;
}

/** A rollback that was not needed. */
export const NO_ROLLBACK: RollbackReport = Object.freeze({
  status: "not-needed",
  steps: [],
  verification: [],
  error: null,
}) as RollbackReport;

/** Counts of executed steps by op: `{write: 2, reload: 1, restart: 1}`. */
export function summarize(steps: readonly StepResult[]): Partial<Record<Op, number>> {
  const counts: Partial<Record<Op, number>> = {};
  for (const s of steps) if (s.status !== "not-run") counts[s.op] = (counts[s.op] ?? 0) + 1;
  return counts;
}

/** `write=2 reload=1 restart=1`, or `none`. */
export function summaryText(counts: Partial<Record<Op, number>>): string {
  return Object.entries(counts).map(([op, n]) => `${op}=${n}`).join(" ") || "none";
}
