/**
 * Rollback planning (SPEC §2): from what a failed run actually executed, the
 * actions that return the host to the last applied revision — every file the
 * run touched back to its last applied content (or removed, if the run
 * created it), one daemon-reload, units the run created stopped, units it
 * restarted or stopped brought back (their failed state and start limit reset
 * first). Pure: the pipeline executes the result
 * with the same executor as the run itself.
 *
 * @module
 */
import type { FileContent } from "../host/files.ts";
import { BRING_UP_TIER, type UnitKind } from "../model.ts";
import type { Action, UnitState } from "../model.ts";
import type { StepResult } from "./execute.ts";

/** What a file looked like before the run, and what it must look like after rollback. */
export interface Restore {
  path: string;
  /** The content to put back; `null` removes the file (the run created it). */
  content: FileContent | null;
  /**
   * For a unit file or drop-in, the reload its manager needs after restoring
   * it (`daemon-reload`, `<login>:daemon-reload`); `null` for a config file.
   */
  reload: string | null;
}

/** The rollback's input. */
export interface RollbackInput {
  /** The run's step results (only `ok`/`failed` steps ran; `not-run` ones did not). */
  steps: readonly StepResult[];
  /** Restore instructions for every path the run wrote or removed. */
  restores: ReadonlyMap<string, Restore>;
  /** Unit states before the run. */
  before: ReadonlyMap<string, UnitState> | null;
  kinds: ReadonlyMap<string, UnitKind>;
}

/** The rollback: its actions and the content of every file it writes. */
export interface RollbackPlan {
  actions: Action[];
  contents: Map<string, FileContent>;
  /** Units that must be up again afterwards (verified like a run's units). */
  verify: string[];
}

const ACTIVE = new Set(["active", "activating", "reloading"]);

/** Plans the rollback of a failed run. */
export function planRollback(input: RollbackInput): RollbackPlan {
  const ran = input.steps.filter((s) => s.status !== "not-run");
  const why = "rollback";
  const stops: Action[] = [];
  const resets: Action[] = [];
  const files: Action[] = [];
  const ups: Action[] = [];
  const contents = new Map<string, FileContent>();
  const reloads = new Set<string>();

  for (const step of ran) {
    if (step.op !== "write" && step.op !== "remove") continue;
    // Writes are atomic: one that failed left the old file in place.
    if (step.op === "write" && step.status === "failed") continue;
    const restore = input.restores.get(step.target);
    if (!restore) continue;
    if (restore.reload !== null) reloads.add(restore.reload);
    if (restore.content === null) {
      files.push({ op: "remove", target: step.target, reason: `${why}: new in the failed run` });
    } else {
      contents.set(step.target, restore.content);
      files.push({ op: "write", target: step.target, reason: `${why}: last applied content` });
    }
  }

  const wasActive = (unit: string) => ACTIVE.has(input.before?.get(unit)?.active ?? "");
  const upUnits = new Set<string>();
  for (const step of ran) {
    if (step.op === "start" && step.reason === "new") {
      stops.push({ op: "stop", target: step.target, reason: `${why}: new in the failed run` });
      resets.push({ op: "reset-failed", target: step.target, reason: why });
    } else if ((step.op === "start" || step.op === "restart") && !wasActive(step.target)) {
      stops.push({ op: "stop", target: step.target, reason: `${why}: was not active before` });
    } else if (step.op === "start" || step.op === "restart" || step.op === "stop") {
      if (step.op === "stop" && !wasActive(step.target)) continue;
      upUnits.add(step.target);
    }
  }
  // Back up in bring-up order (the run stopped removed units in tear-down order).
  const tier = (unit: string) => {
    const kind = input.kinds.get(unit);
    return kind === undefined ? Infinity : BRING_UP_TIER[kind];
  };
  const upResets: Action[] = [];
  for (const unit of [...upUnits].sort((a, b) => tier(a) - tier(b))) {
    // A unit that crash-looped on the failed revision may have hit its start
    // rate limit (StartLimitBurst): systemd refuses to restart it until the
    // counter is reset. After the reload, so a restored unit is loaded again.
    upResets.push({ op: "reset-failed", target: unit, reason: `${why}: clear its start limit` });
    ups.push({ op: "restart", target: unit, reason: `${why}: was active before` });
  }
  // PID 1 first (its target sorts before every `<login>:` one), each manager once.
  const reload: Action[] = [...reloads].sort().map((target) => ({
    op: "reload",
    target,
    reason: `${why}: unit files restored`,
  }));
  return {
    actions: [...stops, ...resets, ...files, ...reload, ...upResets, ...ups],
    contents,
    verify: ups.map((a) => a.target),
  };
}
