/**
 * One run of core-ops, on one page (SPEC §2):
 *
 *   resolve → (check) → read (→ place users) → validate → decrypt → plan → execute
 *     → verify → (roll back) → record
 *
 * one call per step, each step in its own file beside this one. Check is the
 * agent's: a tick the last no-op's record answers records a no-op there. `validate`
 * and `plan` stop after their step and change nothing; `apply` and the agent
 * (agent.ts, which adds the lock, the backoff and the audit event) run all of
 * it. From the first write on, whatever fails — a step, a unit, or anything
 * that throws, the state store included — is rolled back and recorded.
 *
 * @module
 */
import type { StepResult } from "../apply/execute.ts";
import type { UnitVerdict } from "../apply/verify.ts";
import { asCoreOpsError, CoreOpsError, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { QuadletGenerator } from "../plan/dryrun.ts";
import type { Systemd } from "../host/systemd.ts";
import type { DesiredState, TargetDirs } from "../model.ts";
import type { Plan } from "../plan/planner.ts";
import { NO_ROLLBACK, type RunReport } from "../report/run_report.ts";
import type { OwnershipManifest } from "../state/manifest.ts";
import type { RecordPolicy } from "../state/next.ts";
import type { RetryPolicy } from "../state/retry.ts";
import type { StateStore } from "../state/store.ts";
import type { Decryption, SecretsContext } from "./decrypt.ts";
import { type PausePoint, pausePoint } from "../host/faults.ts";
import type { NamedState } from "./naming.ts";
import type { Planned } from "./plan.ts";
import type { ReadOptions } from "./read.ts";
import { recordRefusal, recordRun, recordStart } from "./record.ts";
import { resolve, type Resolved, type SourcePorts, type SourceSpec } from "./resolve.ts";
import type { VerifyContext } from "./verify.ts";
import { realUsers, type Users } from "../host/users.ts";
import { convergedContext, convergedRun } from "./check.ts";
import { mark } from "../trace.ts";

/**
 * The steps after check, loaded when a run needs them: a tick that check
 * answers never evaluates them, nor the planner and the apply engine beneath
 * (bench/, issue 15).
 */
const laterSteps = () => import("./steps.ts");

/** Where a run reads its revision from: a source to resolve, or one already resolved (agent). */
export type RunSource = { spec: SourceSpec; ports: SourcePorts } | { resolved: Resolved };

/** What every run needs to read a revision. */
export interface ReadContext {
  source: RunSource;
  read: ReadOptions;
  generator: QuadletGenerator;
}

/** What a run that plans needs besides: the host as it is. */
export interface PlanRunContext extends ReadContext {
  dirs: TargetDirs;
  store: StateStore;
  files: Files;
  systemd: Systemd;
  /** See the planner's `adopt`: `"matching"` is the agent's `adopt = true`. */
  adopt: boolean | "matching";
  /** Off-host naming when the generator is not installed (`plan --podman-version`). */
  podmanVersion?: string;
  /** The host's age identity for secrets (default: the setting's default path). */
  secrets?: SecretsContext;
  /** The host's user database, for user services (SPEC §7; default: the real one). */
  users?: Users;
}

/** What a run that changes the host needs besides. */
export interface ApplyRunContext extends PlanRunContext {
  verifyTimeoutMs: number;
  verifySettleMs: number;
  /** Longest one image pull may take (`pull-timeout`, SPEC §9); default 15 min. */
  pullTimeoutSeconds?: number;
  pollMs?: number;
  /** The agent's backoff of failed revisions; `null` for a hand-run apply. */
  retry: RetryPolicy | null;
  /** Called with the plan before anything is executed (e.g. to show `--diff`). */
  onPlan?: (revision: string, desired: DesiredState, plan: Plan) => Promise<void>;
  /** Each executed step, as it happens (the human output streams from it). */
  onStep?: (phase: "apply" | "rollback", step: StepResult) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Test-only pause points (see faults.ts); inert unless a test arms one. */
  pause?: (point: PausePoint) => Promise<void>;
  /** The run's id, when the caller (the agent) already reports under one. */
  runId?: string;
  /** Applied generations kept for rollback (`keep-generations`, default 5). */
  keepGenerations?: number;
}

/** `validate`: resolve → read → validate. */
export async function validateRevision(
  ctx: ReadContext & { podmanVersion?: string },
): Promise<{ revision: string; named: NamedState }> {
  const { read, validate } = await laterSteps();
  return await withSource(ctx.source, async (source) => {
    const loaded = await read(source, ctx.read);
    const named = await validate(loaded, {
      quadletDir: ctx.read.dirs.quadletDir,
      generator: ctx.generator,
      podmanVersion: ctx.podmanVersion,
      requireGenerator: false,
      checkOrder: true,
    });
    return { revision: source.revision, named };
  });
}

/** `plan`: resolve → read → validate → plan. */
export async function planRevision(
  ctx: PlanRunContext,
): Promise<{ revision: string } & Planned> {
  const { decrypt, ownedPaths, placeUsers, plan, planUserManagers, read, usersOnce, validate } =
    await laterSteps();
  const state = await ctx.store.readState();
  const manifest = await ctx.store.readManifest();
  const pending = state.in_progress?.pending ?? null;
  return await withSource(ctx.source, async (source) => {
    const users = usersOnce(usersOf(ctx));
    const placed = await placeUsers(await read(source, ctx.read), ctx.dirs.quadletDir, users);
    // Logins that cannot run their units here are warnings for plan, and never asked.
    const { desired: loaded, systemd } = await planUserManagers(placed, users, ctx.systemd);
    const named = await validate(
      loaded,
      validateOptions(ctx, ownedPaths(manifest, pending), false),
    );
    const opened = await decrypt(named, "try", ctx);
    return {
      revision: source.revision,
      ...await plan(opened.named, manifest, pending, { ...ctx, systemd, secretKey: opened.key }),
    };
  });
}

/**
 * `apply` and the agent: the whole run. A failure before the first write is
 * recorded and thrown; every run that reached its plan resolves to its report.
 */
export async function applyRevision(ctx: ApplyRunContext): Promise<RunReport> {
  const clock = ctx.now ?? Date.now;
  const startedMs = clock();
  const run = {
    runId: ctx.runId ?? crypto.randomUUID(),
    started: new Date(startedMs).toISOString(),
  };
  const { store } = ctx;
  const pause = ctx.pause ?? pausePoint;
  const state = await store.readState();
  const pending = state.in_progress?.pending ?? null;
  const converged = await convergedContext(ctx, pending);
  // check: a tick that finds the host as the last no-op left it plans nothing (check.ts).
  const shortcut = converged === null ? null : await convergedRun(ctx, converged, state, {
    ...run,
    startedMs,
    policy: policyOf(ctx, "resolved" in ctx.source ? ctx.source.resolved : undefined),
    keep: ctx.keepGenerations ?? DEFAULT_KEEP_GENERATIONS,
  });
  if (shortcut !== null) return shortcut;
  const {
    cachedGenerator,
    decrypt,
    execute,
    failedUnitDetails,
    failureReason,
    keepConverged,
    keepForRollback,
    nextManifest,
    ownedPaths,
    placeUsers,
    plan,
    read,
    requireUserManagers,
    rollBack,
    sameOwnership,
    startedUnits,
    unitKinds,
    usersOnce,
    validate,
    verify,
  } = await laterSteps();
  // Read before anything is attributed to the revision: a corrupt manifest is the host's fault.
  const manifestOnDisk = await store.readManifest();
  mark("run: state and manifest read");
  let source: Resolved | undefined;
  let planned: Planned;
  let opened: Decryption;
  let next: OwnershipManifest;
  try {
    source = "resolved" in ctx.source ? ctx.source.resolved : await resolve(
      ctx.source.spec,
      ctx.source.ports,
    );
    const users = usersOnce(usersOf(ctx));
    const loaded = await placeUsers(await read(source, ctx.read), ctx.dirs.quadletDir, users);
    mark("read: desired state");
    await requireSystemd(ctx.systemd);
    await requireUserManagers(loaded, users, ctx.systemd);
    // The generator's verdict is kept per input in the state dir (dryrun_cache.ts): a no-change
    // tick stages no quadlet and starts no generator.
    const generator = cachedGenerator(ctx.generator, store.dir, ctx.files);
    const named = await validate(
      loaded,
      validateOptions({ ...ctx, generator }, ownedPaths(manifestOnDisk, pending), true),
    );
    mark("validated: units named");
    // On the host only, after validate and before plan: secrets in memory, keyed digests.
    opened = await decrypt(named, "require", ctx);
    mark("decrypted");
    planned = await plan(opened.named, manifestOnDisk, pending, { ...ctx, secretKey: opened.key });
    mark("planned");
    next = nextManifest(planned.desired, planned.manifest, source.revision);
    if (
      converged !== null && planned.plan.actions.length === 0 &&
      sameOwnership(next, manifestOnDisk)
    ) {
      await keepConverged(converged, source.revision, startedMs, planned);
    }
  } catch (error) {
    const failure = asCoreOpsError(error);
    await recordRefusal(
      store,
      state,
      {
        ...run,
        revision: source?.revision ?? null,
        durationMs: clock() - startedMs,
      },
      failure,
      policyOf(ctx, source),
    );
    throw failure;
  } finally {
    if (!("resolved" in ctx.source)) await source?.dispose();
  }
  const { revision } = source;
  const policy = policyOf(ctx, source);
  const keep = ctx.keepGenerations ?? DEFAULT_KEEP_GENERATIONS;
  const { desired, manifest, plan: actions } = planned;
  await ctx.onPlan?.(revision, desired, actions);
  const report = (outcome: Partial<RunReport>): RunReport => ({
    ...run,
    startedAt: run.started,
    revision,
    desired,
    plan: actions,
    states: planned.states,
    steps: [],
    verification: [],
    rollback: NO_ROLLBACK,
    outcome: "success",
    failure: null,
    exitCode: Exit.ok,
    durationMs: clock() - startedMs,
    ...outcome,
  });

  if (actions.actions.length === 0) {
    const done = report({ outcome: "noop" });
    await recordRun(
      store,
      state,
      sameOwnership(next, manifestOnDisk) ? null : next,
      done,
      policy,
      keep,
    );
    mark("recorded");
    return done;
  }

  // execute → verify. From the first write on, whatever throws is rolled back like a failure.
  const restores = await keepForRollback(actions, manifest, desired, {
    ...ctx,
    open: opened.open,
  });
  await recordStart(store, state, { ...run, revision }, next, policy);
  const kinds = unitKinds(actions, manifest);
  const verifyCtx: VerifyContext = {
    systemd: ctx.systemd,
    timeoutMs: ctx.verifyTimeoutMs,
    settleMs: ctx.verifySettleMs,
    pollMs: ctx.pollMs,
    now: ctx.now,
    sleep: ctx.sleep,
  };
  const ran: StepResult[] = [];
  let steps: StepResult[] = ran;
  let verification: UnitVerdict[] = [];
  let thrown: CoreOpsError | null = null;
  try {
    steps = await execute(actions, desired, kinds, ran, {
      ...ctx,
      onStep: (step) => ctx.onStep?.("apply", step),
      pause,
    });
    verification = await verify(startedUnits(steps), actions, kinds, {
      ...verifyCtx,
      afterPoll: () => pause("mid-verify"),
    });
    if (steps.every((s) => s.status !== "failed") && verification.every((v) => v.status === "ok")) {
      const done = report({ steps, verification });
      await pause("before-commit");
      await recordRun(store, state, next, done, policy, keep);
      return done;
    }
  } catch (error) {
    thrown = asCoreOpsError(error);
  }

  // roll back → record the failure.
  const failedSteps = steps.filter((s) => s.status === "failed");
  const failedUnits = verification.filter((v) => v.status === "failed");
  const rollback = await rollBack(steps, restores, planned.states, kinds, actions, {
    files: ctx.files,
    systemd: ctx.systemd,
    verify: verifyCtx,
    onStep: (step) => ctx.onStep?.("rollback", step),
  });
  const units = await failedUnitDetails(failedSteps, failedUnits, ctx.systemd).catch(() => []);
  const done = report({
    steps,
    verification,
    rollback,
    outcome: "failure",
    failure: {
      class: failedSteps.length > 0 || thrown !== null ? "apply" : "verify",
      reason: failureReason(failedSteps, failedUnits, thrown?.message ?? null),
      units,
      rollback: rollback.status,
      rollback_error: rollback.error,
    },
    exitCode: thrown?.exitCode ?? Exit.failed,
  });
  if (thrown === null) await pause("before-commit");
  // A fault of this host (not of the revision) never backs the revision off.
  await recordRun(store, state, manifest, done, {
    ...policy,
    retry: thrown !== null && thrown.blame !== "revision" ? null : policy.retry,
  }, keep);
  return done;
}

/** `keep-generations` when the caller does not say (SPEC §4). */
const DEFAULT_KEEP_GENERATIONS = 5;

/** Runs `body` with the resolved source, and removes what resolving left behind. */
async function withSource<T>(
  source: RunSource,
  body: (resolved: Resolved) => Promise<T>,
): Promise<T> {
  if ("resolved" in source) return await body(source.resolved);
  const resolved = await resolve(source.spec, source.ports);
  try {
    return await body(resolved);
  } finally {
    await resolved.dispose();
  }
}

function validateOptions(
  ctx: PlanRunContext,
  owned: ReadonlySet<string>,
  requireGenerator: boolean,
) {
  return {
    quadletDir: ctx.dirs.quadletDir,
    generator: ctx.generator,
    podmanVersion: ctx.podmanVersion,
    requireGenerator,
    handPlaced: { files: ctx.files, owned },
  };
}

function policyOf(ctx: ApplyRunContext, source: Resolved | undefined): RecordPolicy {
  return {
    source: { repository: source?.repository ?? null, ref: source?.ref ?? null },
    retry: ctx.retry,
  };
}

function usersOf(ctx: PlanRunContext): Users {
  return ctx.users ?? realUsers;
}

/** apply has nothing to start units with on a host without systemd: the host's fault. */
async function requireSystemd(systemd: Systemd): Promise<void> {
  if (await systemd.available()) return;
  throw new CoreOpsError(Exit.failed, "apply", [{
    message: "this host does not run systemd: apply has nothing to start units with",
    hint: "run apply on the host itself; plan works anywhere",
  }], { blame: "host" });
}
