/**
 * What `state.json` records after each event of a run: one pure function of
 * the previous state and what happened, so every writer of the state file
 * agrees on it (SPEC §2, §4). The run's record step is its only caller.
 *
 * @module
 */
import type { CoreOpsError } from "../errors.ts";
import type { ManifestEntry } from "./manifest.ts";
import { afterFailure, type RetryPolicy } from "./retry.ts";
import type { FailureRecord, LastChange, LastRun, RunState } from "./store.ts";

/** One executed step or verdict, as `last-change.json` tells it. */
export type ChangeStep = LastChange["steps"][number];

/** The run's identity and timing, common to every outcome. */
export interface RunStamp {
  runId: string;
  started: string;
  finished: string;
  durationMs: number;
}

/** What happened, as far as the state file is concerned. */
export type StateEvent =
  /** The run is about to change the host: what it converges to, for a crash's recovery. */
  | { kind: "started"; runId: string; revision: string; started: string; pending: ManifestEntry[] }
  /** The run reached its plan and ended (nothing to do, applied, or failed and rolled back). */
  | {
    kind: "ran";
    stamp: RunStamp;
    outcome: "success" | "noop" | "failure";
    revision: string;
    /** `op → count` of what executed. */
    actions: Record<string, number>;
    drift: number;
    failure: FailureRecord | null;
    /** What executed, for `explain` (empty for a no-op, which keeps the last change). */
    steps: ChangeStep[];
  }
  /** The run ended before it changed anything (settings, lock, fetch, layout, generator …). */
  | { kind: "refused"; stamp: RunStamp; revision: string | null; error: CoreOpsError }
  /** `core-ops pause` (SPEC §10): the agent holds still from now on. */
  | { kind: "paused"; at: string; by: string; reason: string | null }
  /** `core-ops resume`: the agent tracks the ref again. */
  | { kind: "resumed" }
  /** An agent tick that found the host paused: recorded as a run that applied nothing. */
  | { kind: "held"; stamp: RunStamp };

/** Where the run took its source from, and how failed revisions back off (agent only). */
export interface RecordPolicy {
  source: { repository: string | null; ref: string | null };
  /** `null` for a hand-run `apply`: only the agent keeps the backoff record. */
  retry: RetryPolicy | null;
}

/** The classes a failure record may carry (SPEC §4). */
const RECORDED = new Set(["validation", "plan", "apply", "verify", "transient"]);

/** The state after `event`. Pure. */
export function nextState(previous: RunState, event: StateEvent, policy: RecordPolicy): RunState {
  switch (event.kind) {
    case "started":
      return {
        ...previous,
        status: "in_progress",
        in_progress: {
          run_id: event.runId,
          revision: event.revision,
          started: event.started,
          pending: event.pending,
        },
      };
    case "ran":
      return ran(previous, event, policy);
    case "refused":
      return refused(previous, event, policy);
    case "paused":
      // Pausing a paused host keeps the first record: who paused it, and since when.
      return previous.paused !== null ? previous : {
        ...previous,
        paused: {
          reason: event.reason,
          since: event.at,
          by: event.by,
          revision: previous.last_applied_revision,
        },
      };
    case "resumed":
      return { ...previous, paused: null };
    case "held":
      return {
        ...previous,
        last_run: lastRun(event.stamp, "paused", previous.last_applied_revision, {}, 0),
      };
  }
}

function ran(
  previous: RunState,
  event: Extract<StateEvent, { kind: "ran" }>,
  policy: RecordPolicy,
): RunState {
  const ok = event.outcome !== "failure";
  const { finished } = event.stamp;
  return {
    ...previous,
    generation: previous.generation + (event.outcome === "success" ? 1 : 0),
    status: ok ? "success" : "failed",
    repository: policy.source.repository,
    ref: policy.source.ref,
    last_attempted_revision: event.revision,
    last_applied_revision: ok ? event.revision : previous.last_applied_revision,
    last_success: ok ? finished : previous.last_success,
    last_failure: ok ? previous.last_failure : finished,
    consecutive_failures: ok ? 0 : previous.consecutive_failures + 1,
    last_run: lastRun(event.stamp, event.outcome, event.revision, event.actions, event.drift),
    failure: event.failure,
    retry: policy.retry === null
      ? previous.retry
      : ok
      ? null
      : afterFailure(previous.retry, event.revision, Date.parse(finished), policy.retry),
    in_progress: null,
  };
}

/**
 * What `last-change.json` records after a run that reached its plan: what it
 * executed; `null` after a no-op, which keeps the last change. Pure.
 */
export function nextChange(event: Extract<StateEvent, { kind: "ran" }>): LastChange | null {
  if (event.outcome === "noop") return null;
  return {
    run_id: event.stamp.runId,
    revision: event.revision,
    outcome: event.outcome,
    finished: event.stamp.finished,
    steps: event.steps,
  };
}

function refused(
  previous: RunState,
  event: Extract<StateEvent, { kind: "refused" }>,
  policy: RecordPolicy,
): RunState {
  const { error, stamp } = event;
  // Only a revision's own fault is an attempt of it; a host or temporary fault leaves the
  // host as it was and the revision free to run on the next tick.
  const attempt = error.blame === "revision" && event.revision !== null ? event.revision : null;
  const cls = RECORDED.has(error.failureClass) && error.blame !== "transient"
    ? error.failureClass as FailureRecord["class"]
    : "transient";
  return {
    ...previous,
    status: attempt !== null ? "failed" : previous.status,
    repository: attempt !== null ? policy.source.repository : previous.repository,
    ref: attempt !== null ? policy.source.ref : previous.ref,
    last_attempted_revision: attempt ?? previous.last_attempted_revision,
    last_failure: stamp.finished,
    consecutive_failures: previous.consecutive_failures + 1,
    last_run: lastRun(stamp, "failure", attempt, {}, 0),
    failure: {
      class: cls,
      reason: reasonOf(error),
      units: [],
      rollback: "not-needed",
      rollback_error: null,
    },
    retry: policy.retry !== null && attempt !== null
      ? afterFailure(previous.retry, attempt, Date.parse(stamp.finished), policy.retry)
      : previous.retry,
  };
}

function lastRun(
  stamp: RunStamp,
  outcome: LastRun["outcome"],
  revision: string | null,
  actions: Record<string, number>,
  drift: number,
): LastRun {
  return {
    id: stamp.runId,
    outcome,
    revision,
    started: stamp.started,
    finished: stamp.finished,
    duration_ms: stamp.durationMs,
    plan_summary: Object.entries(actions).map(([op, n]) => `${op}=${n}`).join(" ") || "none",
    actions,
    drift,
  };
}

/** A failure's reason as one line: each problem, with the file it is in. */
export function reasonOf(error: CoreOpsError): string {
  return error.diagnostics.map((d) => d.location ? `${d.location.file}: ${d.message}` : d.message)
    .join("; ");
}
