/**
 * The audit event of a run (SPEC §4): exactly one per run — success, no-op,
 * failure, and failures before planning — with a fixed set of `CORE_OPS_*`
 * fields that `journalctl MESSAGE_ID=… CORE_OPS_STATUS=failure` and
 * `core-ops explain` read. Pure: the journal adapter sends what this builds.
 *
 * @module
 */
import { type RunReport, summarize, summaryText } from "./run_report.ts";
import type { CoreOpsError, FailureClass } from "../errors.ts";
import type { Op } from "../model.ts";
import type { AuditEvent } from "../host/journal.ts";
import type { PauseRecord, RunState } from "../state/store.ts";

/** What one run amounts to, whatever its outcome. */
export interface RunEvent {
  runId: string;
  status: "success" | "noop" | "failure";
  /** The commit the run was about, or `null` when it failed before resolving one. */
  revision: string | null;
  generation: number;
  /** `op=count …` of what executed; `none` when nothing did. */
  planSummary: string;
  /** One `op target` per executed step. */
  actions: string[];
  /** How many steps of each op executed. */
  counts: Partial<Record<Op, number>>;
  /** The units (or files) that failed. */
  failedArtifacts: string[];
  failureClass: FailureClass | null;
  failureReason: string | null;
  /** Owned files found changed by hand. */
  drift: string[];
  durationMs: number;
  /** The one-line human summary (`MESSAGE`). */
  message: string;
  /** An agent tick that found the host paused (SPEC §10): `CORE_OPS_PAUSED=1`. */
  paused?: boolean;
}

/** The event of a run that reached the plan. */
export function eventFromReport(report: RunReport, generation: number): RunEvent {
  const counts = summarize(report.steps);
  const planSummary = summaryText(counts);
  const failedSteps = report.steps.filter((s) => s.status === "failed").map((s) => s.target);
  const failedUnits = report.failure?.units.map((u) => u.unit) ?? [];
  const failedArtifacts = [...new Set([...failedUnits, ...failedSteps])];
  const short = report.revision.slice(0, 12);
  const message = report.outcome === "noop"
    ? `core-ops: host matches ${short}, nothing to do`
    : report.outcome === "success"
    ? `core-ops: applied ${short}: ${planSummary}`
    : `core-ops: apply of ${short} failed (${failedArtifacts.join(", ")}); rolled back ${
      report.rollback.status === "ok" ? "ok" : "FAILED"
    }`;
  return {
    runId: report.runId,
    status: report.outcome,
    revision: report.revision,
    generation,
    planSummary,
    actions: report.steps.filter((s) => s.status !== "not-run").map((s) => `${s.op} ${s.target}`),
    counts,
    failedArtifacts,
    failureClass: report.failure?.class ?? null,
    failureReason: report.failure?.reason ?? null,
    drift: report.plan.drift.map((d) => d.path),
    durationMs: report.durationMs,
    message,
  };
}

/** The event of a run that failed before it had a plan (settings, lock, fetch, signature, layout). */
export function eventFromError(
  error: CoreOpsError,
  fields: { runId: string; revision: string | null; generation: number; durationMs: number },
): RunEvent {
  const reason = error.diagnostics.map((d) =>
    d.location ? `${d.location.file}: ${d.message}` : d.message
  ).join("; ");
  return {
    ...fields,
    status: "failure",
    planSummary: "none",
    actions: [],
    counts: {},
    failedArtifacts: error.diagnostics.flatMap((d) => d.location ? [d.location.file] : []),
    failureClass: error.failureClass,
    failureReason: reason,
    drift: [],
    message: `core-ops: run failed (${error.failureClass}): ${reason}`,
  };
}

/** The event of an agent tick that found the host paused (SPEC §10): a noop, `CORE_OPS_PAUSED=1`. */
export function pausedEvent(
  state: RunState,
  pause: PauseRecord,
  fields: { runId: string; durationMs: number },
): RunEvent {
  const why = pause.reason === null ? "" : `: ${pause.reason}`;
  return {
    ...fields,
    status: "noop",
    revision: state.last_applied_revision,
    generation: state.generation,
    planSummary: "none",
    actions: [],
    counts: {},
    failedArtifacts: [],
    failureClass: null,
    failureReason: null,
    drift: [],
    paused: true,
    message: `core-ops: paused by ${pause.by} since ${pause.since}${why}; applied nothing ` +
      `(core-ops resume returns to tracking ${state.ref ?? "the ref"})`,
  };
}

/** The journal entry of an event (SPEC §4): the message, its priority and the `CORE_OPS_*` fields. */
export function auditEvent(event: RunEvent): AuditEvent {
  return {
    message: event.message,
    priority: event.status === "failure" ? 3 : 6,
    fields: {
      CORE_OPS_RUN_ID: event.runId,
      CORE_OPS_STATUS: event.status,
      CORE_OPS_REVISION: event.revision ?? "",
      CORE_OPS_GENERATION: String(event.generation),
      CORE_OPS_PLAN_SUMMARY: event.planSummary,
      CORE_OPS_ACTIONS: event.actions.join("\n"),
      CORE_OPS_FAILED_ARTIFACTS: event.failedArtifacts.join("\n"),
      CORE_OPS_FAILURE_CLASS: event.failureClass ?? "",
      CORE_OPS_FAILURE_REASON: event.failureReason ?? "",
      CORE_OPS_DRIFT: event.drift.join("\n"),
      CORE_OPS_DURATION_MS: String(Math.round(event.durationMs)),
      ...(event.paused === true ? { CORE_OPS_PAUSED: "1" } : {}),
    },
  };
}

/** The event of an agent tick that found its revision backing off (the host stays as it is). */
export function backoffEvent(
  state: RunState,
  revision: string,
  runId: string,
  decision: { failures: number; nextAttempt: string },
  durationMs: number,
): RunEvent {
  const reason = `revision ${revision} failed ${decision.failures} time${
    decision.failures === 1 ? "" : "s"
  }; not retried before ${decision.nextAttempt} (core-ops agent --retry-now overrides)`;
  return {
    runId,
    status: "failure",
    revision,
    generation: state.generation,
    planSummary: "none",
    actions: [],
    counts: {},
    failedArtifacts: state.failure?.units.map((u) => u.unit) ?? [],
    failureClass: state.failure?.class ?? "apply",
    failureReason: reason,
    drift: [],
    durationMs,
    message: `core-ops: backing off: ${reason}`,
  };
}
