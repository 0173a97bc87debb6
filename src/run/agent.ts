/**
 * The unattended run (SPEC §4) as an explicit state machine: one state per
 * stage of a tick and one function per transition, so what the agent does
 * next is always one visible decision.
 *
 *   start → locked → ready → fetched → applying → applied → done
 *                         ↘ paused → done   ↘ backing-off → done
 *   (any) → failed → done
 *
 * `paused` (SPEC §10): `core-ops pause` holds the host still — the tick takes
 * the lock, records a run that applied nothing and reports it, without
 * fetching (a rollback with the remote gone pauses too).
 *
 * Every run — success, no-op, failure, and failures before planning (lock,
 * fetch, signature) — leaves exactly one audit event and, when asked for, the
 * metrics textfile; every run that took the lock leaves its record in
 * `state.json` (unless the state dir itself cannot be read).
 *
 * @module
 */
import type { Settings } from "../settings.ts";
import { asCoreOpsError, type CoreOpsError, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import { redactUrl } from "../host/remote.ts";
import type { QuadletGenerator } from "../plan/dryrun.ts";
import type { Systemd } from "../host/systemd.ts";
import {
  backoffEvent,
  eventFromError,
  eventFromReport,
  pausedEvent,
  type RunEvent,
} from "../report/event.ts";
import type { RunReport } from "../report/run_report.ts";
import { decide, type RetryDecision } from "../state/retry.ts";
import { type PauseRecord, type RunState, StateStore } from "../state/store.ts";
import {
  type PrefetchedStates,
  prefetchStamps,
  prefetchStates,
  type Settled,
  settled,
} from "./prefetch.ts";
import { recordPaths } from "./converged.ts";
import { recordHeld, recordRefusal } from "./record.ts";
import type { Resolved, SourcePorts } from "./resolve.ts";
import { resolve } from "./resolve.ts";
import { applyRevision, type ApplyRunContext } from "./run.ts";
import { mark } from "../trace.ts";

/** A held run lock. */
export interface HeldLock {
  release(): Promise<void>;
}

/** The host adapters the agent drives; unit tests pass fakes. */
export interface AgentPorts {
  /** Takes the run lock without waiting (exit 75 when held). */
  lock(path: string): Promise<HeldLock>;
  /** Removes the run trigger (SPEC §8), if there is one; see {@link Tick.lock}. */
  clearTrigger?: () => Promise<void>;
  /** Fetching, signature checks and tree reading (the same resolver as every command's). */
  source: SourcePorts;
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

/**
 * What the agent runs with: the resolved settings it reads (each one row of
 * src/settings/table.ts, so nothing is spelled twice), with the source made
 * definite and `--retry-now`.
 */
export type AgentSettings =
  & Pick<
    Settings,
    | "dirs"
    | "stateDir"
    | "lockPath"
    | "requireSigned"
    | "allowedSigners"
    | "sshKey"
    | "fetchTimeoutSeconds"
    | "verifyTimeoutSeconds"
    | "verifySettleSeconds"
    | "pullTimeoutSeconds"
    | "retryInitialSeconds"
    | "retryMaxSeconds"
    | "configRoots"
    | "ageIdentity"
    | "adopt"
    | "keepGenerations"
  >
  & {
    repo: string;
    rev: string;
    /** Where the rev came from, for hints (`--rev`, `CORE_OPS_REV`, `rev in agent.toml`). */
    revFrom?: string;
    host: string | null;
    retryNow: boolean;
  };

/** What the agent shows as it runs (its stdout lands in the unit's journal). */
export interface AgentOutput {
  onStep?: ApplyRunContext["onStep"];
  onReport?: (report: RunReport) => void;
  onBackoff?: (message: string) => void;
  onPaused?: (message: string) => void;
}

/** Where a tick is. */
type AgentState =
  | { at: "start" }
  | { at: "locked"; lock: HeldLock }
  | { at: "ready"; lock: HeldLock; state: Promise<Settled<RunState>> }
  | { at: "paused"; lock: HeldLock; state: RunState; pause: PauseRecord }
  | { at: "fetched"; lock: HeldLock; state: RunState; source: Resolved }
  | {
    at: "backing-off";
    lock: HeldLock;
    state: RunState;
    revision: string;
    decision: Extract<RetryDecision, { run: false }>;
  }
  | { at: "applying"; lock: HeldLock; source: Resolved }
  | { at: "applied"; lock: HeldLock; report: RunReport }
  | {
    at: "failed";
    lock: HeldLock | null;
    error: CoreOpsError;
    /** The state read under the lock, when it could be read: then the failure is recorded. */
    state: RunState | null;
    revision: string | null;
    /** Whether the failure is already recorded (the run core records its own). */
    recorded: boolean;
  }
  | { at: "done"; exitCode: number; error: CoreOpsError | null };

/** One tick of the agent; resolves to its exit code after the event is out, or throws its error. */
export async function runAgent(
  settings: AgentSettings,
  ports: AgentPorts,
  show: AgentOutput = {},
): Promise<number> {
  const tick = new Tick(settings, ports, show);
  let at: AgentState = { at: "start" };
  try {
    while (at.at !== "done") at = await tick.next(at);
  } finally {
    await tick.finish();
  }
  if (at.error !== null) throw at.error;
  return at.exitCode;
}

/** The transitions of one tick. */
class Tick {
  readonly #clock: () => number;
  readonly #started: number;
  readonly #runId = crypto.randomUUID();
  readonly #store: StateStore;
  #prefetch: PrefetchedStates | undefined;
  /** The files, with the converged record's stamps taken early (prefetch.ts). */
  #files: Files | undefined;
  #lock: HeldLock | null = null;

  constructor(
    readonly settings: AgentSettings,
    readonly ports: AgentPorts,
    readonly show: AgentOutput,
  ) {
    this.#clock = ports.now ?? Date.now;
    this.#started = this.#clock();
    this.#store = new StateStore(settings.stateDir, ports.files);
  }

  /** The transition out of `at`; a throw becomes the `failed` state. */
  async next(at: Exclude<AgentState, { at: "done" }>): Promise<AgentState> {
    try {
      switch (at.at) {
        case "start":
          return await this.lock();
        case "locked":
          return await this.readState(at);
        case "ready":
          return await this.fetch(at);
        case "paused":
          return await this.hold(at);
        case "fetched":
          return this.decide(at);
        case "backing-off":
          return await this.backOff(at);
        case "applying":
          return await this.apply(at);
        case "applied":
          return await this.report(at);
        case "failed":
          return await this.fail(at);
      }
    } catch (error) {
      if (at.at === "failed") throw error; // reporting the failure failed: nothing left to try
      return {
        at: "failed",
        lock: this.#lock,
        error: asCoreOpsError(error),
        state: null,
        revision: null,
        recorded: false,
      };
    }
  }

  /**
   * start → locked: one run at a time per host (exit 75 when another holds the
   * lock). The trigger goes right after the lock and before the fetch: a
   * trigger set from here on (a push during this run) outlives the run and
   * starts exactly one more; one set before is served by this run's fetch.
   * A run refused the lock clears it too: it would otherwise start the agent
   * again at once, over and over, while a manual run holds the lock (the
   * timer's next tick catches up).
   */
  async lock(): Promise<AgentState> {
    try {
      this.#lock = await this.ports.lock(this.settings.lockPath);
    } finally {
      await this.ports.clearTrigger?.();
    }
    mark("lock taken");
    return { at: "locked", lock: this.#lock };
  }

  /**
   * locked → ready, or paused when `core-ops pause` holds the host still. Only the pause is
   * looked up before the fetch (a paused host is never fetched for); the state is validated
   * while git fetches.
   */
  async readState(at: Extract<AgentState, { at: "locked" }>): Promise<AgentState> {
    const ready = !(await this.#store.mayBePaused());
    mark("pause looked up");
    if (ready) return { at: "ready", lock: at.lock, state: settled(this.#store.readState()) };
    const state = await this.#store.readState();
    if (state.paused !== null) return { at: "paused", lock: at.lock, state, pause: state.paused };
    return { at: "ready", lock: at.lock, state: Promise.resolve({ value: state }) };
  }

  /** paused → done: a run that applied nothing, recorded and reported (status noop, exit 0). */
  async hold(at: Extract<AgentState, { at: "paused" }>): Promise<AgentState> {
    const finished = this.#clock();
    const recorded = await recordHeld(this.#store, at.state, {
      runId: this.#runId,
      started: new Date(this.#started).toISOString(),
      durationMs: finished - this.#started,
    });
    const event = pausedEvent(recorded, at.pause, {
      runId: this.#runId,
      durationMs: finished - this.#started,
    });
    this.show.onPaused?.(event.message);
    await this.ports.emit(event);
    await this.ports.writeMetrics(event, recorded);
    return { at: "done", exitCode: Exit.ok, error: null };
  }

  /**
   * ready → fetched: the ref resolved to a commit (signature checked). git
   * fetches while the manifest is read and the owned units' states are asked
   * for (a no-change tick plans with exactly those): the processes overlap.
   */
  async fetch(at: Extract<AgentState, { at: "ready" }>): Promise<AgentState> {
    const s = this.settings;
    const fetching = settled(resolve({
      kind: "remote",
      url: s.repo,
      rev: s.rev,
      revFrom: s.revFrom,
      into: "mirror",
      stateDir: s.stateDir,
      fetchTimeoutSeconds: s.fetchTimeoutSeconds,
      sshKey: s.sshKey,
      allowedSigners: s.requireSigned ? s.allowedSigners ?? "" : null,
    }, this.ports.source));
    let state: RunState;
    try {
      const read = await at.state;
      if ("error" in read) throw read.error;
      state = read.value;
      mark("state.json read");
      // The units the last no-op asked about (converged.ts), else every owned unit.
      const kept = await this.#store.readConverged();
      const units = kept?.record.units ??
        (await this.#store.readManifest())?.files.flatMap((f) => f.unit ?? []);
      if (units !== undefined) this.#prefetch = prefetchStates(this.ports.systemd, units);
      if (kept !== null) {
        const paths = recordPaths(kept.record, this.#store.manifestPath);
        this.#files = prefetchStamps(this.ports.files, this.settings.dirs.quadletDir, paths);
      }
    } catch (error) {
      // A corrupt state file or manifest is this host's problem, not the revision's: reported,
      // never written over. git still writes the mirror, which the lock guards: it finishes first.
      await fetching;
      throw error;
    }
    mark("manifest read, unit states asked");
    const fetched = await fetching;
    mark("fetched");
    if ("error" in fetched) {
      const error = asCoreOpsError(fetched.error);
      // A signature refusal names the commit it refused: that revision backs off.
      const revision = error.blame === "revision" ? error.revision : null;
      return { at: "failed", lock: at.lock, error, state, revision, recorded: false };
    }
    return { at: "fetched", lock: at.lock, state, source: fetched.value };
  }

  /** fetched → applying, or backing-off while a failed revision waits out its backoff. */
  decide(at: Extract<AgentState, { at: "fetched" }>): AgentState {
    const revision = at.source.revision;
    const decision = decide(at.state.retry, revision, this.#clock(), this.settings.retryNow);
    if (!decision.run) return { ...at, at: "backing-off", revision, decision };
    return { at: "applying", lock: at.lock, source: at.source };
  }

  /** backing-off → done: the host stays at the last applied revision; the tick still reports. */
  async backOff(at: Extract<AgentState, { at: "backing-off" }>): Promise<AgentState> {
    const event = backoffEvent(
      at.state,
      at.revision,
      this.#runId,
      at.decision,
      this.#clock() - this.#started,
    );
    this.show.onBackoff?.(event.message);
    await this.ports.emit(event);
    await this.ports.writeMetrics(event, at.state);
    return { at: "done", exitCode: Exit.failed, error: null };
  }

  /** applying → applied: the run core, which records its own outcome. */
  async apply(at: Extract<AgentState, { at: "applying" }>): Promise<AgentState> {
    const s = this.settings;
    const build = await this.ports.buildIdentity?.();
    mark("build identity");
    try {
      const report = await applyRevision({
        runId: this.#runId,
        source: { resolved: at.source },
        read: {
          host: s.host,
          dirs: s.dirs,
          configRoots: s.configRoots,
          cache: build === undefined
            ? undefined
            : { stateDir: s.stateDir, files: this.ports.files, build },
        },
        dirs: s.dirs,
        store: this.#store,
        files: this.#files ?? this.ports.files,
        systemd: this.#prefetch?.systemd ?? this.ports.systemd,
        generator: this.ports.generator,
        adopt: s.adopt ? "matching" : false,
        keepGenerations: s.keepGenerations,
        secrets: { identity: s.ageIdentity },
        verifyTimeoutMs: s.verifyTimeoutSeconds * 1000,
        verifySettleMs: s.verifySettleSeconds * 1000,
        pullTimeoutSeconds: s.pullTimeoutSeconds,
        retry: { initialSeconds: s.retryInitialSeconds, maxSeconds: s.retryMaxSeconds },
        now: this.ports.now,
        sleep: this.ports.sleep,
        onStep: this.show.onStep,
      });
      return { at: "applied", lock: at.lock, report };
    } catch (error) {
      return {
        at: "failed",
        lock: at.lock,
        error: asCoreOpsError(error),
        state: null,
        revision: at.source.revision,
        recorded: true,
      };
    }
  }

  /** applied → done: the event and the metrics of a run that reached its plan. */
  async report(at: Extract<AgentState, { at: "applied" }>): Promise<AgentState> {
    this.show.onReport?.(at.report);
    const recorded = await this.#store.readState();
    const event = eventFromReport(at.report, recorded.generation);
    await this.ports.emit(event);
    mark("event sent");
    await this.ports.writeMetrics(event, recorded);
    mark("metrics written");
    return { at: "done", exitCode: at.report.exitCode, error: null };
  }

  /** failed → done: recorded (when the state could be read), then the event and the metrics. */
  async fail(at: Extract<AgentState, { at: "failed" }>): Promise<AgentState> {
    let recorded: RunState | null = null;
    if (at.recorded) {
      recorded = await this.#store.readState().catch(() => null);
    } else if (at.state !== null) {
      recorded = await recordRefusal(
        this.#store,
        at.state,
        {
          runId: this.#runId,
          revision: at.revision,
          started: new Date(this.#started).toISOString(),
          durationMs: this.#clock() - this.#started,
        },
        at.error,
        {
          source: { repository: redactUrl(this.settings.repo), ref: this.settings.rev },
          retry: {
            initialSeconds: this.settings.retryInitialSeconds,
            maxSeconds: this.settings.retryMaxSeconds,
          },
        },
      );
    }
    const event = eventFromError(at.error, {
      runId: this.#runId,
      revision: at.revision,
      generation: recorded?.generation ?? 0,
      durationMs: this.#clock() - this.#started,
    });
    await this.ports.emit(event);
    if (recorded !== null) await this.ports.writeMetrics(event, recorded);
    return { at: "done", exitCode: at.error.exitCode, error: at.error };
  }

  /** Whatever the outcome: no systemctl outlives the run, and the lock goes. */
  async finish(): Promise<void> {
    await this.#prefetch?.done;
    await this.#lock?.release();
  }
}
