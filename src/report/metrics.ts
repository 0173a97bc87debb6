/**
 * The Prometheus textfile (SPEC §4, `metrics-file`) that node_exporter's
 * textfile collector reads: what the last agent run did, for watching a fleet
 * with the monitoring it already has. Pure rendering; the agent writes the
 * text with the file adapter's atomic write (`Files.write(path, bytes, 0o644)`:
 * temp file in the same dir, fsync, rename), whose `.tmp` temp name the
 * textfile collector skips.
 *
 * @module
 */
import type { Op } from "../model.ts";
import type { RunState } from "../state/store.ts";
import type { RunEvent } from "./event.ts";

/** Every plan operation, so `core_ops_actions{op}` has a sample for each, zeros included. */
export const OPS = [
  "pull",
  "write",
  "remove",
  "reload",
  "start",
  "restart",
  "stop",
  "reset-failed",
] as const satisfies readonly Op[];

// A new Op added to the planner must be listed above: this fails to compile otherwise.
const _everyOpListed: [Exclude<Op, (typeof OPS)[number]>] extends [never] ? true : false = true;

/** What one agent run reports. */
export interface RunMetrics {
  /** When the run finished, in Unix seconds. */
  finishedAt: number;
  /** Converged (success or noop). */
  success: boolean;
  durationSeconds: number;
  /** The revision last applied successfully (this run's or an earlier one's), if any. */
  appliedRevision: string | null;
  /** Owned files found changed by hand. */
  driftFiles: number;
  /** Actions this run executed (or planned, when it failed before executing), by op. */
  actions: Partial<Record<Op, number>>;
  /** Failed runs in a row, this one included (a tick waiting out a backoff is no new run); 0 after a success. */
  consecutiveFailures: number;
  /** Whether `core-ops pause` holds the host still (SPEC §10). */
  paused: boolean;
}

/** The metrics of the run `event` reports, with `state` as recorded after it. Pure. */
export function metricsOf(event: RunEvent, state: RunState, finishedAtMs: number): RunMetrics {
  return {
    finishedAt: finishedAtMs / 1000,
    success: event.status !== "failure",
    durationSeconds: event.durationMs / 1000,
    appliedRevision: state.last_applied_revision,
    driftFiles: event.drift.length,
    actions: event.counts,
    consecutiveFailures: event.status === "failure" ? Math.max(1, state.consecutive_failures) : 0,
    paused: state.paused !== null,
  };
}

/** Renders the textfile: HELP and TYPE for every metric, one sample per line. Pure. */
export function renderMetrics(m: RunMetrics): string {
  const out: string[] = [];
  const gauge = (name: string, help: string, samples: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${number(value)}`);
  };
  gauge(
    "core_ops_last_run_timestamp_seconds",
    "Unix time the last core-ops agent run finished.",
    [["", m.finishedAt]],
  );
  gauge(
    "core_ops_last_run_success",
    "Whether the last core-ops agent run converged the host (1) or failed (0).",
    [["", m.success ? 1 : 0]],
  );
  gauge(
    "core_ops_last_run_duration_seconds",
    "How long the last core-ops agent run took.",
    [["", m.durationSeconds]],
  );
  gauge(
    "core_ops_applied_revision_info",
    "The revision core-ops last applied successfully (value always 1).",
    m.appliedRevision === null ? [] : [[`{revision="${label(m.appliedRevision)}"}`, 1]],
  );
  gauge(
    "core_ops_drift_files",
    "Files owned by core-ops found changed by hand in the last run.",
    [["", m.driftFiles]],
  );
  gauge(
    "core_ops_actions",
    "Actions of the last core-ops agent run, by operation.",
    OPS.map((op) => [`{op="${op}"}`, m.actions[op] ?? 0]),
  );
  gauge(
    "core_ops_consecutive_failures",
    "core-ops agent runs that failed in a row; ticks waiting out a backoff do not count (0 after a success).",
    [["", m.consecutiveFailures]],
  );
  gauge(
    "core_ops_paused",
    "Whether core-ops is paused (1): the agent applies nothing until core-ops resume.",
    [["", m.paused ? 1 : 0]],
  );
  return out.join("\n") + "\n";
}

/** Escapes a label value per the text exposition format. */
function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}
