/**
 * The unattended run (SPEC §4): `core-ops agent` wraps the run pipeline with
 * the run lock, the Git mirror, signature verification, retry with backoff,
 * and the record every run leaves — exactly one audit event and, if asked
 * for, the metrics textfile — whatever the outcome, also for failures before
 * planning.
 *
 * lock → fetch → verify signature → backoff? → pipeline → record → event
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { QuadletGenerator } from "../host/quadlet.ts";
import type { Systemd } from "../host/systemd.ts";
import type { TargetDirs } from "../model.ts";
import type { RepoTree } from "../source/tree.ts";
import type { LoadOptions } from "../source/layout.ts";
import { eventFromError, eventFromReport, type RunEvent } from "../state/event.ts";
import { type FailureRecord, type RunState, StateStore } from "../state/store.ts";
import { cachedLoad } from "./desired_cache.ts";
import { type RunContext, runPipeline, type RunReport } from "./pipeline.ts";
import { afterFailure, decide } from "./retry.ts";

/** A held run lock. */
export interface HeldLock {
  release(): Promise<void>;
}

/** The host adapters the agent drives; unit tests pass fakes. */
export interface AgentPorts {
  /** Takes the run lock without waiting (exit 75 when held). */
  lock(path: string): Promise<HeldLock>;
  /** Fetches `ref` of `url` into the state dir's mirror; resolves to the commit. */
  fetch(url: string, ref: string): Promise<string>;
  /** Verifies the commit's signature against the allowed signers (exit 65 when not). */
  verifySignature(commit: string, allowedSigners: string): Promise<void>;
  /** The tree of `commit`, read from the mirror. */
  readTree(commit: string): Promise<RepoTree>;
  /** Sends the run's audit event (journald, or stderr when journald is unavailable). */
  emit(event: RunEvent): Promise<void>;
  /** Writes the metrics textfile after the run. */
  writeMetrics(event: RunEvent, state: RunState): Promise<void>;
  files: Files;
  systemd: Systemd;
  generator: QuadletGenerator;
  /** The running build, which keys the loaded-state cache; without it every tick loads. */
  buildIdentity?: () => Promise<string>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** What the agent runs with, from settings. */
export interface AgentSettings {
  repo: string;
  /** Credential-free form of `repo`, for state and events. */
  repoShown: string;
  rev: string;
  host: LoadOptions["host"];
  dirs: TargetDirs;
  stateDir: string;
  lockPath: string;
  requireSigned: boolean;
  allowedSigners: string | null;
  verifyTimeoutMs: number;
  verifySettleMs: number;
  retryInitialSeconds: number;
  retryMaxSeconds: number;
  /** Allowed config roots, or `null` for all but the built-in deny-list. */
  configRoots: readonly string[] | null;
  retryNow: boolean;
}

/** What the agent shows as it runs (its stdout lands in the unit's journal). */
export interface AgentOutput {
  onStep?: RunContext["onStep"];
  onReport?: (report: RunReport) => void;
  onBackoff?: (message: string) => void;
}

/** One agent run; resolves to its exit code after the event is out. */
export async function runAgent(
  settings: AgentSettings,
  ports: AgentPorts,
  show: AgentOutput = {},
): Promise<number> {
  const clock = ports.now ?? Date.now;
  const started = clock();
  const runId = crypto.randomUUID();
  const store = new StateStore(settings.stateDir, ports.files);
  let lock: HeldLock | undefined;
  let state: RunState | undefined;
  let revision: string | null = null;
  let inPipeline = false;
  let prefetch: PrefetchedStates | undefined;
  try {
    lock = await ports.lock(settings.lockPath);
    // git fetches while the state dir is read and parsed, and the owned units' states are
    // asked for (a no-change tick plans with exactly those): the processes overlap.
    const fetching = settled(ports.fetch(settings.repo, settings.rev));
    let manifest;
    try {
      state = await store.readState();
      manifest = await store.readManifest();
    } catch (error) {
      // A corrupt state dir is this host's problem, not the revision's: it is reported with
      // no revision, so it never puts one into backoff. git still writes the mirror, which
      // the lock guards: it finishes before the lock goes; its own outcome no longer matters.
      await fetching;
      throw error;
    }
    if (manifest !== null) {
      prefetch = prefetchStates(ports.systemd, manifest.files.flatMap((f) => f.unit ?? []));
    }
    const fetched = await fetching;
    if ("error" in fetched) throw fetched.error;
    revision = fetched.value;
    if (settings.requireSigned) {
      await ports.verifySignature(revision, settings.allowedSigners ?? "");
    }

    const decision = decide(state.retry, revision, clock(), settings.retryNow);
    if (!decision.run) {
      // Backing off: the host stays at the last applied revision; the tick still reports.
      const event = backoffEvent(state, revision, runId, decision, clock() - started);
      show.onBackoff?.(event.message);
      await ports.emit(event);
      await ports.writeMetrics(event, state);
      return Exit.failed;
    }

    const commit = revision;
    inPipeline = true;
    const load = async () => {
      // The loader (and the yaml parser it needs) is only evaluated when the cache misses.
      const { loadDesiredState } = await import("../source/layout.ts");
      return loadDesiredState(await ports.readTree(commit), {
        host: settings.host,
        dirs: settings.dirs,
        configRoots: { allow: settings.configRoots },
      });
    };
    const build = await ports.buildIdentity?.();
    const report = await runPipeline({
      resolve: () =>
        Promise.resolve({
          revision: commit,
          load: build === undefined ? load : cachedLoad(
            load,
            {
              commit,
              host: settings.host,
              dirs: settings.dirs,
              configRoots: settings.configRoots,
              build,
            },
            settings.stateDir,
            ports.files,
          ),
        }),
      source: { repository: settings.repoShown, ref: settings.rev },
      dirs: settings.dirs,
      store,
      files: ports.files,
      systemd: prefetch?.systemd ?? ports.systemd,
      generator: ports.generator,
      adopt: false,
      verifyTimeoutMs: settings.verifyTimeoutMs,
      verifySettleMs: settings.verifySettleMs,
      now: ports.now,
      sleep: ports.sleep,
      onStep: show.onStep,
    });
    show.onReport?.(report);
    const recorded = await withRetry(store, report.outcome === "failure", commit, settings, clock);
    const event = eventFromReport(report, recorded.generation);
    await ports.emit(event);
    await ports.writeMetrics(event, recorded);
    return report.exitCode;
  } catch (error) {
    if (!(error instanceof CoreOpsError)) throw error;
    let recorded = state;
    // A state dir that cannot be read is reported, not written over: the operator restores it.
    const stateDirBroken = error.diagnostics.some((d) =>
      d.location?.file === store.statePath || d.location?.file === store.manifestPath
    );
    if (
      !stateDirBroken && state !== undefined && error.failureClass !== "transient" &&
      revision !== null
    ) {
      // The revision itself is at fault (signature, layout, generator, conflict): back off.
      // The pipeline recorded its own failures; one before it is recorded here.
      recorded = await withRetry(
        store,
        true,
        revision,
        settings,
        clock,
        inPipeline ? undefined : error,
      );
    } else if (!stateDirBroken && state !== undefined && lock !== undefined) {
      recorded = await recordTransient(store, error, runId, started, clock);
    }
    const event = eventFromError(error, {
      runId,
      revision,
      generation: recorded?.generation ?? 0,
      durationMs: clock() - started,
    });
    await ports.emit(event);
    if (recorded !== undefined) await ports.writeMetrics(event, recorded);
    throw error;
  } finally {
    await prefetch?.done; // no systemctl outlives the run
    await lock?.release();
  }
}

/** A promise's outcome as a value: awaited later, its rejection is never unhandled meanwhile. */
function settled<T>(p: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return p.then((value) => ({ value }), (error: unknown) => ({ error }));
}

/** Unit states asked for early, and the systemd that answers with them. */
interface PrefetchedStates {
  systemd: Systemd;
  /** Settles when the early query has (whatever its outcome). */
  done: Promise<void>;
}

/**
 * Starts ONE `states(units)` query now and returns a `Systemd` that answers the
 * first `states()` call asking exactly that set with it; any other query, a
 * second one, or an early query that failed goes to `systemd` itself, so an
 * error surfaces where the pipeline asks. The answer is observed after the
 * lock was taken, like every other observation of the run.
 */
function prefetchStates(systemd: Systemd, units: readonly string[]): PrefetchedStates {
  const key = (list: readonly string[]) => [...new Set(list)].sort().join("\n");
  const asked = key(units);
  const early = settled(systemd.states([...new Set(units)]));
  let used = false;
  return {
    done: early.then(() => {}),
    systemd: {
      available: () => systemd.available(),
      states: async (query) => {
        if (!used && key(query) === asked) {
          used = true;
          const got = await early;
          if ("value" in got) return got.value;
        }
        return await systemd.states(query);
      },
      instances: (templates) => systemd.instances(templates),
      show: (units, props) => systemd.show(units, props),
      daemonReload: () => systemd.daemonReload(),
      job: (op, units) => systemd.job(op, units),
      journal: (unit, lines) => systemd.journal(unit, lines),
    },
  };
}

/**
 * Records the revision's backoff after a run (or clears it after a success).
 * A failure before the pipeline (e.g. a bad signature) is recorded here as the
 * attempt it was.
 */
async function withRetry(
  store: StateStore,
  failed: boolean,
  revision: string,
  settings: AgentSettings,
  clock: () => number,
  error?: CoreOpsError,
): Promise<RunState> {
  const state = await store.readState();
  const next: RunState = failed
    ? {
      ...state,
      retry: afterFailure(state.retry, revision, clock(), {
        initialSeconds: settings.retryInitialSeconds,
        maxSeconds: settings.retryMaxSeconds,
      }),
    }
    : { ...state, retry: null };
  if (error !== undefined) {
    next.status = "failed";
    next.last_attempted_revision = revision;
    next.last_failure = new Date(clock()).toISOString();
    next.consecutive_failures = state.consecutive_failures + 1;
    next.failure = nothingChanged(error.failureClass === "plan" ? "plan" : "validation", error);
  }
  // A success that had no backoff to clear leaves the state the pipeline just wrote alone:
  // a no-change tick writes state.json once, not twice.
  if (error === undefined && state.retry === null && next.retry === null) return state;
  await store.writeState(next);
  return next;
}

/** A transient failure (fetch) leaves the host as it was; only the run's record changes. */
async function recordTransient(
  store: StateStore,
  error: CoreOpsError,
  runId: string,
  started: number,
  clock: () => number,
): Promise<RunState> {
  const state = await store.readState();
  const finished = new Date(clock()).toISOString();
  const next: RunState = {
    ...state,
    last_failure: finished,
    consecutive_failures: state.consecutive_failures + 1,
    last_run: {
      id: runId,
      outcome: "failure",
      revision: null,
      started: new Date(started).toISOString(),
      finished,
      duration_ms: clock() - started,
      plan_summary: "none",
      actions: {},
      drift: 0,
    },
    failure: nothingChanged("transient", error),
  };
  await store.writeState(next);
  return next;
}

/** The failure record of a run that failed before it changed anything. */
function nothingChanged(cls: FailureRecord["class"], error: CoreOpsError): FailureRecord {
  return {
    class: cls,
    reason: error.message,
    units: [],
    rollback: "not-needed",
    rollback_error: null,
  };
}

function backoffEvent(
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
    failedArtifacts: state.failure?.units.map((u) => u.unit) ?? [],
    failureClass: state.failure?.class ?? "apply",
    failureReason: reason,
    drift: [],
    durationMs,
    message: `core-ops: backing off: ${reason}`,
  };
}
