/**
 * Executes a plan's actions in order (SPEC §2) and records one result per
 * action — what actually ran, how it went and how long it took; an action
 * after a failure is `not-run`, never reported as done. Unit jobs of the same
 * operation and bring-up tier run as ONE `systemctl` call.
 *
 * @module
 */
import { BRING_UP_TIER, type UnitKind, unitScope } from "../model.ts";
import type { FileContent, Files } from "../host/files.ts";
import type { JobOp, Systemd } from "../host/systemd.ts";
import type { Action, Op } from "../model.ts";
import { isPlainOneshot } from "./health.ts";

/** How one action went. */
export interface StepResult {
  /** Position in the plan, from 1. */
  order: number;
  op: Op;
  target: string;
  reason: string;
  status: "ok" | "failed" | "not-run";
  /** For a `pull` into a login's image store: the login (SPEC §7). */
  user?: string;
  /** What went wrong, or a note on success (e.g. systemctl's words on reset-failed). */
  message: string;
  durationMs: number;
}

/** What execution needs besides the actions. */
export interface ExecuteContext {
  files: Files;
  systemd: Systemd;
  /** Content to write at each path a `write` action names. */
  contents: ReadonlyMap<string, FileContent>;
  /** The kind of each unit, for batching jobs by tier. */
  kinds: ReadonlyMap<string, UnitKind>;
  /** Longest one image pull may take (`pull-timeout`, SPEC §9); default 15 min. */
  pullTimeoutSeconds?: number;
  /** Called after each step, as it happens (the human output streams from it). */
  onStep?: (step: StepResult) => void;
  /** Go on after a failed step (rollback tries every restore) instead of stopping. */
  keepGoing?: boolean;
  /** Awaited after each batch that went well (the fault matrix pauses runs here). */
  afterBatch?: (steps: readonly StepResult[]) => Promise<void>;
  now?: () => number;
}

const UNIT_OPS = new Set<Op>(["start", "restart", "stop", "reset-failed"]);

/** How many pulls of one run go at once: enough to overlap, few enough for a small host. */
export const PULL_CONCURRENCY = 3;

/**
 * Groups `actions` into batches: consecutive unit jobs of one op, one tier
 * and one manager share a batch; file operations and the reload stand alone. Pure.
 */
export function batches(actions: readonly Action[], kinds: ReadonlyMap<string, UnitKind>) {
  const tier = (unit: string) => {
    const kind = kinds.get(unit);
    return kind === undefined ? -1 : BRING_UP_TIER[kind];
  };
  const out: { start: number; actions: Action[] }[] = [];
  actions.forEach((action, i) => {
    const last = out.at(-1);
    const prev = last?.actions.at(-1);
    // One call per manager too (SPEC §7): PID 1's units and a login's never share one.
    const sameJob = UNIT_OPS.has(action.op) && tier(prev?.target ?? "") === tier(action.target) &&
      unitScope(prev?.target ?? "").login === unitScope(action.target).login;
    // All pulls of a run are one batch: they go in parallel (bounded), not one by one.
    if (last && prev && prev.op === action.op && (action.op === "pull" || sameJob)) {
      last.actions.push(action);
    } else {
      out.push({ start: i, actions: [action] });
    }
  });
  return out;
}

/** Runs `actions`; stops at the first failure unless `keepGoing`. */
export async function execute(
  actions: readonly Action[],
  ctx: ExecuteContext,
): Promise<StepResult[]> {
  const now = ctx.now ?? (() => performance.now());
  const results: StepResult[] = [];
  let failed = false;
  for (const batch of batches(actions, ctx.kinds)) {
    const record = (i: number, status: StepResult["status"], message: string, ms: number) => {
      const a = batch.actions[i];
      const step: StepResult = {
        order: batch.start + i + 1,
        op: a.op,
        target: a.target,
        reason: a.reason,
        status,
        message,
        durationMs: Math.round(ms),
      };
      if (a.user !== undefined) step.user = a.user;
      results.push(step);
      if (status !== "not-run") ctx.onStep?.(step);
    };
    if (failed) {
      batch.actions.forEach((_, i) => record(i, "not-run", "an earlier step failed", 0));
      continue;
    }
    const started = now();
    const outcomes = await runBatch(batch.actions, ctx);
    const elapsed = now() - started;
    outcomes.forEach((o, i) => record(i, o.ok ? "ok" : "failed", o.message, elapsed));
    if (outcomes.some((o) => !o.ok)) {
      if (!ctx.keepGoing) failed = true;
    } else {
      await ctx.afterBatch?.(results.slice(-batch.actions.length));
    }
  }
  return results;
}

async function runBatch(
  actions: Action[],
  ctx: ExecuteContext,
): Promise<{ ok: boolean; message: string }[]> {
  const [first] = actions;
  try {
    switch (first.op) {
      case "write": {
        const file = ctx.contents.get(first.target);
        if (!file) return [{ ok: false, message: "no content planned for this path" }];
        await ctx.files.write(first.target, file.content, file.mode, file.owner);
        return [{ ok: true, message: "" }];
      }
      case "remove":
        await ctx.files.remove(first.target);
        return [{ ok: true, message: "" }];
      case "reload": {
        const outcome = await ctx.systemd.daemonReload(unitScope(first.target).login);
        return [{ ok: outcome.ok, message: outcome.message }];
      }
      case "pull":
        return await pullAll(actions, ctx);
      default:
        return await runJob(first.op, actions.map((a) => a.target), ctx.systemd);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return actions.map(() => ({ ok: false, message }));
  }
}

/** Pulls every image of `actions`, {@link PULL_CONCURRENCY} at a time; one outcome each. */
async function pullAll(
  actions: readonly Action[],
  ctx: ExecuteContext,
): Promise<{ ok: boolean; message: string }[]> {
  const timeout = ctx.pullTimeoutSeconds ?? 900;
  const outcomes: { ok: boolean; message: string }[] = new Array(actions.length);
  let next = 0;
  const worker = async () => {
    while (next < actions.length) {
      const i = next++;
      const a = actions[i];
      try {
        const o = await ctx.systemd.pull(a.target, a.policy ?? "missing", timeout, a.user ?? null);
        outcomes[i] = { ok: o.ok, message: o.message || (o.ok ? "" : "podman pull failed") };
      } catch (error) {
        outcomes[i] = {
          ok: false,
          message: error instanceof Error ? error.message : String(error),
        };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PULL_CONCURRENCY, actions.length) }, worker));
  return outcomes;
}

/** One `systemctl <op>` for all `units`; on failure, asks systemd which of them it concerns. */
async function runJob(
  op: JobOp,
  units: string[],
  systemd: Systemd,
): Promise<{ ok: boolean; message: string }[]> {
  const outcome = await systemd.job(op, units);
  if (outcome.ok) return units.map(() => ({ ok: true, message: "" }));
  if (op === "reset-failed") {
    // Nothing to reset on a unit systemd no longer has loaded: the goal holds; say so.
    return units.map(() => ({ ok: true, message: outcome.message }));
  }
  // systemctl fails the whole call for one bad unit; judge each by its state and its words.
  const props = await systemd.show(units, [
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "Type",
    "RemainAfterExit",
  ]);
  const bad = units.map((unit) => {
    const p = props.get(unit) ?? {};
    if (mentions(outcome.message, unit)) return true;
    if (op === "stop") return p.ActiveState === "active" || p.ActiveState === "deactivating";
    const ranOnce = isPlainOneshot(p) && p.Result === "success";
    return p.LoadState !== "loaded" || p.ActiveState === "failed" ||
      (p.ActiveState === "inactive" && !ranOnce);
  });
  // A failed call that names no unit and leaves none visibly bad: blame them all, not none.
  const blameAll = !bad.some((b) => b);
  return units.map((unit, i) => {
    if (!bad[i] && !blameAll) return { ok: true, message: "" };
    const p = props.get(unit) ?? {};
    const result = p.Result && p.Result !== "success" ? `, Result=${p.Result}` : "";
    return {
      ok: false,
      message: `${outcome.message || `systemctl ${op} failed`} (now ${p.ActiveState ?? "?"}/${
        p.SubState ?? "?"
      }${result})`,
    };
  });
}

/** Whether systemctl's message names `unit` as a whole word (`web.service`, not `myweb.service`). */
function mentions(message: string, unit: string): boolean {
  const escaped = unit.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[\\s"'])${escaped}([\\s"'.:,]|$)`).test(message);
}
