/**
 * The agent's step between resolve and read, check: a tick at the revision
 * the last no-op saw, on a host that is still exactly as it saw it, records a
 * no-op without loading, validating or planning (converged.ts says what
 * "exactly" takes). Any other run goes on to read.
 *
 * @module
 */
import { asCoreOpsError, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { Systemd } from "../host/systemd.ts";
import type { QuadletGenerator } from "../plan/dryrun.ts";
import type { TargetDirs } from "../model.ts";
import { NO_ROLLBACK, type RunReport } from "../report/run_report.ts";
import { desiredKeyText } from "../state/cache_file.ts";
import type { ManifestEntry } from "../state/manifest.ts";
import type { RecordPolicy } from "../state/next.ts";
import type { RunState, StateStore } from "../state/store.ts";
import {
  type ConvergedContext,
  convergedKey,
  convergedPlan,
  convergedStates,
  stillConverged,
} from "./converged.ts";
import { recordRefusal, recordRun } from "./record.ts";
import type { Resolved } from "./resolve.ts";
import { mark } from "../trace.ts";

/** What check needs of the run (the run core's context has all of it). */
export interface CheckRun {
  /** Only a resolved source (the agent's fetched revision) is checked; any other is read. */
  source: { resolved: Resolved } | object;
  read: {
    host: string | null;
    dirs: TargetDirs;
    configRoots: readonly string[] | null;
    /** Only the agent keeps its loaded state (read.ts), and only it checks. */
    cache?: { build: string };
  };
  dirs: TargetDirs;
  store: StateStore;
  files: Files;
  systemd: Systemd;
  generator: QuadletGenerator;
  adopt: boolean | "matching";
  now?: () => number;
}

/**
 * The converged record's context for an agent tick at a fetched revision;
 * `null` for any other run, and after an interrupted run, whose recovery
 * always plans.
 */
export async function convergedContext(
  ctx: CheckRun,
  pending: readonly ManifestEntry[] | null,
): Promise<ConvergedContext | null> {
  const cache = ctx.read.cache;
  if (cache === undefined || pending !== null || !("resolved" in ctx.source)) return null;
  const { revision } = ctx.source.resolved;
  const desiredKey = desiredKeyText({
    commit: revision,
    host: ctx.read.host,
    dirs: ctx.read.dirs,
    configRoots: ctx.read.configRoots,
    build: cache.build,
  });
  return {
    revision,
    store: ctx.store,
    key: convergedKey(desiredKey, ctx.adopt, await ctx.generator.identity?.() ?? null),
    quadletDir: ctx.dirs.quadletDir,
    files: ctx.files,
    systemd: ctx.systemd,
  };
}

/**
 * The no-op a converged record stands for, recorded; `null` when the host is
 * not as the record saw it. A failure to look is recorded like any refusal.
 */
export async function convergedRun(
  ctx: CheckRun,
  converged: ConvergedContext,
  state: RunState,
  run: {
    runId: string;
    started: string;
    startedMs: number;
    policy: RecordPolicy;
    keep: number;
  },
): Promise<RunReport | null> {
  const clock = ctx.now ?? Date.now;
  const { revision } = converged;
  let record;
  try {
    record = await stillConverged(converged, clock());
  } catch (error) {
    const failure = asCoreOpsError(error);
    await recordRefusal(
      ctx.store,
      state,
      { ...run, revision, durationMs: clock() - run.startedMs },
      failure,
      run.policy,
    );
    throw failure;
  }
  mark(`check: converged record ${record === null ? "not matched" : "matched"}`);
  if (record === null) return null;
  const done: RunReport = {
    runId: run.runId,
    startedAt: run.started,
    revision,
    desired: null,
    plan: convergedPlan(record),
    states: convergedStates(record),
    steps: [],
    verification: [],
    rollback: NO_ROLLBACK,
    outcome: "noop",
    failure: null,
    exitCode: Exit.ok,
    durationMs: clock() - run.startedMs,
  };
  await recordRun(ctx.store, state, null, done, run.policy, run.keep);
  mark("recorded");
  return done;
}
