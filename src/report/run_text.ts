/**
 * Renders a run for people (one line per executed step as it happens, then a
 * summary) and for programs (`apply --json`: the plan's fields plus what
 * executed, with each step's result and duration). Pure.
 *
 * @module
 */
import { planDocument } from "./plan_text.ts";
import type { StepResult } from "../apply/execute.ts";
import { type RunReport, summarize } from "./run_report.ts";
import type { UnitVerdict } from "../apply/verify.ts";

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One executed step: `restart web.service … ok 1.2 s`. */
export function stepLine(phase: "apply" | "rollback", step: StepResult): string {
  const prefix = phase === "rollback" ? "rollback: " : "";
  const status = step.status === "ok" ? "ok" : "FAILED";
  const note = step.message ? ` (${step.message})` : "";
  const as = step.user === undefined ? "" : ` as ${step.user}`;
  return `${prefix}${step.op} ${step.target}${as} … ${status} ${seconds(step.durationMs)}${note}\n`;
}

function verdictLine(v: UnitVerdict): string {
  return `verify ${v.unit} … ${v.status === "ok" ? "ok" : "FAILED"}: ${v.message}\n`;
}

/** The summary after the streamed steps. */
export function applySummary(report: RunReport): string {
  const lines: string[] = [];
  for (const v of report.verification) lines.push(verdictLine(v));
  const counts = Object.entries(summarize(report.steps)).map(([op, n]) => `${op}=${n}`).join(" ");
  const took = seconds(report.durationMs);
  if (report.outcome === "noop") {
    lines.push(`nothing to do: the host matches revision ${report.revision} (${took})\n`);
  } else if (report.outcome === "success") {
    lines.push(`applied revision ${report.revision}: ${counts} (${took})\n`);
  } else {
    lines.push(`apply of revision ${report.revision} FAILED (${took})\n`);
    for (const u of report.failure?.units ?? []) {
      lines.push(`  ${u.unit}: ${u.reason}\n`);
      for (const j of u.journal) lines.push(`    | ${j}\n`);
    }
    for (const v of report.rollback.verification) lines.push(`rollback ${verdictLine(v)}`);
    lines.push(
      report.rollback.status === "ok"
        ? "rolled back: the files are back at the last applied revision and its units are up\n"
        : `ROLLBACK FAILED: ${report.rollback.error}\n  the host may be between revisions; see core-ops status\n`,
    );
  }
  for (const d of report.plan.drift) {
    lines.push(`drift restored: ${d.path} (${d.actual === null ? "deleted" : "modified"})\n`);
  }
  for (const w of report.plan.warnings) {
    lines.push(`warning: ${w.file ? `${w.file}: ` : ""}${w.message}\n`);
  }
  return lines.join("");
}

function stepJson(s: StepResult) {
  return {
    order: s.order,
    op: s.op,
    target: s.target,
    reason: s.reason,
    status: s.status,
    message: s.message,
    duration_ms: s.durationMs,
  };
}

function verdictJson(v: UnitVerdict) {
  return {
    unit: v.unit,
    status: v.status,
    message: v.message,
    result: v.result,
    exit_status: v.exitStatus,
  };
}

/**
 * The `apply --json` document, of a run that loaded its desired state (apply
 * and rollback always do; only an agent tick answers from the converged record).
 */
export function applyJson(report: RunReport, extra: Record<string, unknown> = {}): string {
  const { desired } = report;
  if (desired === null) throw new Error("internal: apply --json of a run that loaded nothing");
  const doc = {
    ...planDocument({ ...report, desired }),
    run_id: report.runId,
    outcome: report.outcome,
    exit_code: report.exitCode,
    started: report.startedAt,
    duration_ms: report.durationMs,
    steps: report.steps.map(stepJson),
    verification: report.verification.map(verdictJson),
    rollback: {
      status: report.rollback.status,
      steps: report.rollback.steps.map(stepJson),
      verification: report.rollback.verification.map(verdictJson),
      error: report.rollback.error,
    },
    failure: report.failure,
    ...extra,
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
