/**
 * The run pipeline (SPEC §2): resolve → load → stage + generator dry-run →
 * plan → execute → verify → (rollback) → record. `core-ops apply` is this
 * function; the agent wraps the same function with its lock, fetch and audit
 * event, so nothing is written twice.
 *
 * @module
 */
import { CoreOpsError, Exit, type FailureClass } from "../errors.ts";
import type { FileContent, Files } from "../host/files.ts";
import type { QuadletGenerator } from "../host/quadlet.ts";
import type { Systemd } from "../host/systemd.ts";
import type { DesiredState, TargetDirs, UnitKind } from "../model.ts";
import type { Plan, UnitState } from "../plan/planner.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import {
  type FailedUnit,
  type FailureRecord,
  type RunState,
  type StateStore,
} from "../state/store.ts";
import { cachedGenerator } from "./dryrun_cache.ts";
import { execute, type StepResult } from "./execute.ts";
import { prepare } from "./prepare.ts";
import { type PausePoint, pausePoint } from "./faults.ts";
import { planRollback, type Restore } from "./rollback.ts";
import { type UnitVerdict, verify, type VerifyTarget } from "./verify.ts";

/** A resolved source: the revision it stands for, and how to load the desired state from it. */
export interface ResolvedSource {
  /** Commit SHA, or the provenance of a local checkout. */
  revision: string;
  /** Reads the tree and loads the host's desired state (layout errors are exit 65). */
  load(): Promise<DesiredState>;
}

/** Everything a run needs: the adapters, the settings, and how to get the source. */
export interface RunContext {
  /** Resolves the source: a checkout as it is, or a fetched revision. */
  resolve: () => Promise<ResolvedSource>;
  /** Where the source came from, for the state file (credentials already redacted). */
  source: { repository: string | null; ref: string | null };
  dirs: TargetDirs;
  store: StateStore;
  files: Files;
  systemd: Systemd;
  generator: QuadletGenerator;
  adopt: boolean;
  verifyTimeoutMs: number;
  verifySettleMs: number;
  pollMs?: number;
  /** Called with the plan before anything is executed (e.g. to show `--diff`). */
  onPlan?: (revision: string, desired: DesiredState, plan: Plan) => Promise<void>;
  /** Each executed step, as it happens (the human output streams from it). */
  onStep?: (phase: "apply" | "rollback", step: StepResult) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Test-only pause points (see faults.ts); inert unless a test arms one. */
  pause?: (point: PausePoint) => Promise<void>;
}

/** How a run ended. */
export type Outcome = "success" | "noop" | "failure";

/** Everything a run did, for the CLI, the state file and the audit event. */
export interface RunReport {
  runId: string;
  revision: string;
  desired: DesiredState;
  plan: Plan;
  /** Unit states before the run. */
  states: ReadonlyMap<string, UnitState> | null;
  steps: StepResult[];
  verification: UnitVerdict[];
  rollback: {
    status: "not-needed" | "ok" | "failed";
    steps: StepResult[];
    verification: UnitVerdict[];
    error: string | null;
  };
  outcome: Outcome;
  failure: FailureRecord | null;
  exitCode: number;
  startedAt: string;
  durationMs: number;
}

/** Runs the pipeline once; every outcome after the plan is a report, earlier failures throw. */
export async function runPipeline(ctx: RunContext): Promise<RunReport> {
  const clock = ctx.now ?? Date.now;
  const startedMs = clock();
  const startedAt = new Date(startedMs).toISOString();
  const runId = crypto.randomUUID();
  const { store, files, systemd } = ctx;

  const state = await store.readState();
  // Read before anything is attributed to the revision: a corrupt manifest is the host's fault.
  const manifestOnDisk = await store.readManifest();
  // resolve
  const source = await ctx.resolve();
  const revision = source.revision;
  let desired: DesiredState;
  let manifest: OwnershipManifest | null;
  let planned: Plan;
  let states: ReadonlyMap<string, UnitState> | null;
  try {
    // load
    const loaded = await source.load();
    if (!(await systemd.available())) {
      throw new CoreOpsError(Exit.failed, "apply", [{
        message: "this host does not run systemd: apply has nothing to start units with",
        hint: "run apply on the host itself; plan works anywhere",
      }]);
    }
    // stage + generator dry-run (nothing changes before Podman accepts the set) → plan
    const prepared = await prepare(
      loaded,
      manifestOnDisk,
      state.in_progress?.pending ?? null,
      {
        dirs: ctx.dirs,
        files,
        systemd,
        generator: cachedGenerator(ctx.generator, store.dir, files),
        adopt: ctx.adopt,
        requireGenerator: true,
      },
    );
    ({ desired, manifest, states, plan: planned } = prepared);
  } catch (error) {
    if (error instanceof CoreOpsError) {
      await recordEarlyFailure(ctx, state, revision, error, startedAt, clock() - startedMs, runId);
    }
    throw error;
  }

  await ctx.onPlan?.(revision, desired, planned);
  const base = { runId, revision, desired, plan: planned, states, startedAt };
  const noRollback = { status: "not-needed" as const, steps: [], verification: [], error: null };
  if (planned.actions.length === 0) {
    const report: RunReport = {
      ...base,
      steps: [],
      verification: [],
      rollback: noRollback,
      outcome: "noop",
      failure: null,
      exitCode: Exit.ok,
      durationMs: clock() - startedMs,
    };
    // A no-op leaves the manifest alone unless ownership changed without a write: files an
    // interrupted run wrote, or files --adopt took over that already had the desired content.
    const owned = nextManifest(desired, manifest, revision);
    await record(ctx, state, sameOwnership(owned, manifestOnDisk) ? null : owned, report);
    return report;
  }

  // execute: keep what rollback needs first, and say in the state file what is under way.
  const restores = await keepForRollback(planned, manifest, desired, ctx);
  const next = nextManifest(desired, manifest, revision);
  await store.writeState({
    ...state,
    status: "in_progress",
    in_progress: { run_id: runId, revision, started: startedAt, pending: next.files },
  });
  const kinds = unitKinds(planned, manifest);
  const contents = new Map<string, FileContent>(
    desired.artifacts.map((a) => [a.destination, { content: a.content, mode: a.mode }]),
  );
  const pause = ctx.pause ?? pausePoint;
  const steps = await execute(planned.actions, {
    files,
    systemd,
    contents,
    kinds,
    onStep: (step) => ctx.onStep?.("apply", step),
    afterBatch: async ([first]) => {
      if (first.op === "write") await pause("mid-write");
      if (first.op === "reload") await pause("after-reload");
      if (first.op === "start" || first.op === "restart") await pause("mid-start");
    },
  });

  // verify: every unit the run started or restarted.
  const started = steps.filter((s) =>
    (s.op === "start" || s.op === "restart") && s.status === "ok"
  );
  const verification = await verify(
    started.map((s) => verifyTarget(s.target, planned, kinds)),
    systemd,
    { ...verifyOptions(ctx), afterPoll: () => pause("mid-verify") },
  );

  const failedSteps = steps.filter((s) => s.status === "failed");
  const failedUnits = verification.filter((v) => v.status === "failed");
  if (failedSteps.length === 0 && failedUnits.length === 0) {
    const report: RunReport = {
      ...base,
      steps,
      verification,
      rollback: noRollback,
      outcome: "success",
      failure: null,
      exitCode: Exit.ok,
      durationMs: clock() - startedMs,
    };
    await record(ctx, state, next, report);
    return report;
  }

  // rollback: the files back to the last applied content, the units back as they were.
  const rollback = await runRollback(steps, restores, states, kinds, planned, ctx);
  const failureClass: FailureClass = failedSteps.length > 0 ? "apply" : "verify";
  const report: RunReport = {
    ...base,
    steps,
    verification,
    rollback,
    outcome: "failure",
    failure: {
      class: failureClass as FailureRecord["class"],
      reason: failureReason(failedSteps, failedUnits),
      units: await failedUnitDetails(failedSteps, failedUnits, systemd),
      rollback: rollback.status,
      rollback_error: rollback.error,
    },
    exitCode: Exit.failed,
    durationMs: clock() - startedMs,
  };
  await record(ctx, state, manifest, report);
  return report;
}

/** The manifest after a successful run: a file keeps the revision it was last written by. */
function nextManifest(
  desired: DesiredState,
  previous: OwnershipManifest | null,
  revision: string,
): OwnershipManifest {
  const old = new Map((previous?.files ?? []).map((f) => [f.path, f]));
  const files: ManifestEntry[] = desired.artifacts.map((a) => {
    const kept = old.get(a.destination);
    return {
      path: a.destination,
      sha256: a.sha256,
      service: a.service,
      kind: a.kind,
      unit: a.unit,
      revision: kept && kept.sha256 === a.sha256 ? kept.revision : revision,
      source: a.source,
    };
  });
  return { schema_version: 1, files };
}

/** Whether two manifests record the same files with the same digests and origins. */
function sameOwnership(a: OwnershipManifest, b: OwnershipManifest | null): boolean {
  const key = (m: OwnershipManifest) =>
    m.files.map((f) =>
      [f.path, f.sha256, f.service, f.kind, f.unit, f.revision, f.source].join("\0")
    ).sort().join("\n");
  return b !== null && key(a) === key(b);
}

/**
 * Stores, before anything changes, every content rollback may need: the new
 * content of each artifact (the next run's "last applied"), and the current
 * content of each path this run writes or removes.
 */
async function keepForRollback(
  planned: Plan,
  manifest: OwnershipManifest | null,
  desired: DesiredState,
  ctx: RunContext,
): Promise<Map<string, Restore>> {
  for (const a of desired.artifacts) await ctx.store.putObject(a.content);
  const owned = new Map((manifest?.files ?? []).map((f) => [f.path, f]));
  const artifactAt = new Map(desired.artifacts.map((a) => [a.destination, a]));
  const restores = new Map<string, Restore>();
  for (const action of planned.actions) {
    if (action.op !== "write" && action.op !== "remove") continue;
    const current = await ctx.files.read(action.target);
    const entry = owned.get(action.target);
    const unitFile = isUnitFile(artifactAt.get(action.target)?.kind ?? entry?.kind);
    if (current === null) {
      restores.set(action.target, { path: action.target, content: null, unitFile });
      continue;
    }
    await ctx.store.putObject(current.content);
    // An owned file goes back to what core-ops last applied; an adopted one to what was there.
    const content = entry ? await ctx.store.getObject(entry.sha256) : current.content;
    restores.set(action.target, {
      path: action.target,
      content: { content, mode: current.mode },
      unitFile,
    });
  }
  return restores;
}

function isUnitFile(kind: string | undefined): boolean {
  return kind !== undefined && kind !== "config";
}

/** The kind of every unit the plan names: desired units, and owned units being removed. */
function unitKinds(planned: Plan, manifest: OwnershipManifest | null): Map<string, UnitKind> {
  const kinds = new Map<string, UnitKind>();
  for (const f of manifest?.files ?? []) {
    if (f.unit !== null && f.kind !== "dropin" && f.kind !== "config") kinds.set(f.unit, f.kind);
  }
  for (const u of planned.units) kinds.set(u.unit, u.kind);
  return kinds;
}

function verifyTarget(unit: string, planned: Plan, kinds: Map<string, UnitKind>): VerifyTarget {
  const info = planned.units.find((u) => u.unit === unit);
  const kind = kinds.get(unit) ?? instanceKind(unit, kinds) ?? "service";
  return { unit, kind, trigger: info?.triggeredBy ?? undefined };
}

/** `web@a.service` has the kind of its template `web@.service`. */
function instanceKind(unit: string, kinds: Map<string, UnitKind>): UnitKind | undefined {
  const m = unit.match(/^([^@]+@)[^.]+(\.[a-z]+)$/);
  return m ? kinds.get(`${m[1]}${m[2]}`) : undefined;
}

function verifyOptions(ctx: RunContext) {
  return {
    timeoutMs: ctx.verifyTimeoutMs,
    settleMs: ctx.verifySettleMs,
    pollMs: ctx.pollMs,
    now: ctx.now,
    sleep: ctx.sleep,
  };
}

async function runRollback(
  steps: StepResult[],
  restores: Map<string, Restore>,
  before: ReadonlyMap<string, UnitState> | null,
  kinds: Map<string, UnitKind>,
  planned: Plan,
  ctx: RunContext,
): Promise<RunReport["rollback"]> {
  const rollback = planRollback({ steps, restores, before, kinds });
  const rolled = await execute(rollback.actions, {
    files: ctx.files,
    systemd: ctx.systemd,
    contents: rollback.contents,
    kinds,
    keepGoing: true,
    onStep: (step) => ctx.onStep?.("rollback", step),
  });
  const verification = await verify(
    rollback.verify.map((u) => verifyTarget(u, planned, kinds)),
    ctx.systemd,
    verifyOptions(ctx),
  );
  const broken = [
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

function failureReason(steps: StepResult[], units: UnitVerdict[]): string {
  const parts = [
    ...steps.map((s) => `${s.op} ${s.target} failed: ${s.message}`),
    ...units.map((u) => `${u.unit}: ${u.message}`),
  ];
  return parts.join("; ");
}

async function failedUnitDetails(
  steps: StepResult[],
  units: UnitVerdict[],
  systemd: Systemd,
): Promise<FailedUnit[]> {
  const reasons = new Map<string, string>(units.map((v) => [v.unit, v.message]));
  for (const s of steps) {
    if (s.op === "write" || s.op === "remove" || s.op === "reload") continue;
    if (!reasons.has(s.target)) reasons.set(s.target, s.message);
  }
  // systemd's own account of each failing unit, in one show.
  const props = await systemd.show([...reasons.keys()], ["Result", "ExecMainStatus"]);
  const out: FailedUnit[] = [];
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

/** Counts of executed steps by op: `write=2 reload=1 restart=1`. */
export function summarize(steps: readonly StepResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of steps) if (s.status !== "not-run") counts[s.op] = (counts[s.op] ?? 0) + 1;
  return counts;
}

/**
 * Commits the run to the state dir: the manifest (the new one after a success,
 * none after a no-op unless ownership changed, the old one's objects kept
 * after a failure), then state.json.
 */
async function record(
  ctx: RunContext,
  previous: RunState,
  manifest: OwnershipManifest | null,
  report: RunReport,
): Promise<void> {
  const { store } = ctx;
  if (report.outcome !== "noop") await (ctx.pause ?? pausePoint)("before-commit");
  const finished = new Date(Date.parse(report.startedAt) + report.durationMs).toISOString();
  // A no-op run passes a manifest only when ownership changed (recovered or adopted files).
  if (manifest !== null) {
    if (report.outcome !== "failure") await store.writeManifest(manifest);
    await store.pruneObjects(new Set(manifest.files.map((f) => f.sha256)));
  }
  const success = report.outcome !== "failure";
  const counts = summarize(report.steps);
  await store.writeState({
    ...previous,
    generation: previous.generation + (report.outcome === "success" ? 1 : 0),
    status: success ? "success" : "failed",
    repository: ctx.source.repository,
    ref: ctx.source.ref,
    last_attempted_revision: report.revision,
    last_applied_revision: success ? report.revision : previous.last_applied_revision,
    last_success: success ? finished : previous.last_success,
    last_failure: success ? previous.last_failure : finished,
    consecutive_failures: success ? 0 : previous.consecutive_failures + 1,
    last_run: {
      id: report.runId,
      outcome: report.outcome,
      revision: report.revision,
      started: report.startedAt,
      finished,
      duration_ms: report.durationMs,
      plan_summary: Object.entries(counts).map(([op, n]) => `${op}=${n}`).join(" ") || "none",
      actions: counts,
      drift: report.plan.drift.length,
    },
    failure: report.failure,
    last_change: report.outcome === "noop" ? previous.last_change : {
      run_id: report.runId,
      revision: report.revision,
      outcome: report.outcome,
      finished,
      steps: [
        ...report.steps.filter((s) => s.status !== "not-run").map(changeStep),
        ...report.verification.map((v) => verifyStep(v, "")),
        ...report.rollback.steps.filter((s) => s.status !== "not-run").map(changeStep),
        ...report.rollback.verification.map((v) => verifyStep(v, "rollback: ")),
      ],
    },
    in_progress: null,
  });
}

function changeStep(s: StepResult) {
  return { op: s.op, target: s.target, reason: s.reason, status: s.status, message: s.message };
}

/** A verdict, told as a step of the run: `verify web.service`. */
function verifyStep(v: UnitVerdict, prefix: string) {
  return {
    op: "verify",
    target: v.unit,
    reason: `${prefix}verification`,
    status: v.status,
    message: v.message,
  };
}

/** A failure before anything changed (generator rejection, conflict) still leaves its record. */
async function recordEarlyFailure(
  ctx: RunContext,
  previous: RunState,
  revision: string,
  error: CoreOpsError,
  startedAt: string,
  durationMs: number,
  runId: string,
): Promise<void> {
  const finished = new Date(Date.parse(startedAt) + durationMs).toISOString();
  const cls = error.failureClass;
  await ctx.store.writeState({
    ...previous,
    status: "failed",
    repository: ctx.source.repository,
    ref: ctx.source.ref,
    last_attempted_revision: revision,
    last_failure: finished,
    consecutive_failures: previous.consecutive_failures + 1,
    last_run: {
      id: runId,
      outcome: "failure",
      revision,
      started: startedAt,
      finished,
      duration_ms: durationMs,
      plan_summary: "none",
      actions: {},
      drift: 0,
    },
    failure: {
      class: cls === "plan" || cls === "apply" || cls === "verify" || cls === "transient"
        ? cls
        : "validation",
      reason: error.diagnostics.map((d) =>
        d.location ? `${d.location.file}: ${d.message}` : d.message
      ).join("; "),
      units: [],
      rollback: "not-needed",
      rollback_error: null,
    },
  });
}
