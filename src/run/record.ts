/**
 * Step 8 of a run, record: commit what the run did to the state dir — the
 * ownership manifest (the new one after a success; after a no-op only when
 * ownership changed; none after a failure) and `state.json`, whose next
 * content is the pure {@link nextState}. Every run that took the lock leaves
 * its record, whatever ended it (SPEC §2).
 *
 * @module
 */
import type { StepResult } from "../apply/execute.ts";
import type { UnitVerdict } from "../apply/verify.ts";
import type { CoreOpsError } from "../errors.ts";
import type { DesiredState } from "../model.ts";
import { type RunReport, summarize } from "../report/run_report.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import {
  type ChangeStep,
  nextChange,
  nextState,
  type RecordPolicy,
  type RunStamp,
  type StateEvent,
} from "../state/next.ts";
import type { RunState, StateStore } from "../state/store.ts";

/** Records that the run is about to change the host, converging to `next`. */
export async function recordStart(
  store: StateStore,
  previous: RunState,
  run: { runId: string; revision: string; started: string },
  next: OwnershipManifest,
  policy: RecordPolicy,
): Promise<void> {
  await store.writeState(
    nextState(previous, { kind: "started", ...run, pending: next.files }, policy),
  );
}

/**
 * Records a run that reached its plan. `manifest` is the ownership to keep:
 * the new one after a success; after a no-op only when ownership changed
 * (files an interrupted run wrote, or `--adopt` took over), else `null`; after
 * a failure the old one, whose objects rollback may still need.
 */
export async function recordRun(
  store: StateStore,
  previous: RunState,
  manifest: OwnershipManifest | null,
  report: RunReport,
  policy: RecordPolicy,
  keepGenerations: number,
): Promise<RunState> {
  const generation = previous.generation + (report.outcome === "success" ? 1 : 0);
  if (manifest !== null) {
    const { desired } = report;
    if (desired === null) throw new Error("internal: a run that loaded nothing changed ownership");
    // Loaded only by a run that changes ownership: a no-change tick never does.
    const { generationRecord, keepGeneration, neededObjects, readGenerations } = await import(
      "../state/generations.ts"
    );
    if (report.outcome !== "failure") {
      // A re-encrypted secret changes no file but the age file rollback decrypts: keep it.
      for (const a of desired.artifacts) {
        if (a.secret?.decrypted) await store.putObject(a.secret.ciphertext);
      }
      await store.writeManifest(manifest);
    }
    // A new generation is kept for rollback; the objects of every kept one stay.
    const kept = report.outcome === "success"
      ? await keepGeneration(
        store.dir,
        store.files,
        generationRecord(desired, {
          generation,
          revision: report.revision,
          applied: new Date(Date.parse(report.startedAt) + report.durationMs).toISOString(),
          repository: policy.source.repository,
          ref: policy.source.ref,
        }),
        keepGenerations,
      )
      : await readGenerations(store.dir, store.files);
    await store.pruneObjects(
      new Set([
        ...manifest.files.map((f) => f.secret?.ciphertext ?? f.sha256),
        ...neededObjects(kept),
      ]),
    );
  }
  const event: StateEvent = {
    kind: "ran",
    stamp: stampOf(report.runId, report.startedAt, report.durationMs),
    outcome: report.outcome,
    revision: report.revision,
    actions: summarize(report.steps),
    drift: report.plan.drift.length,
    failure: report.failure,
    steps: [
      ...report.steps.filter((s) => s.status !== "not-run").map(changeStep),
      ...report.verification.map((v) => verifyStep(v, "")),
      ...report.rollback.steps.filter((s) => s.status !== "not-run").map(changeStep),
      ...report.rollback.verification.map((v) => verifyStep(v, "rollback: ")),
    ],
  };
  const change = nextChange(event);
  if (change !== null) await store.writeLastChange(change);
  const next = nextState(previous, event, policy);
  await store.writeState(next);
  return next;
}

/** Records a run that ended before it changed anything. */
export async function recordRefusal(
  store: StateStore,
  previous: RunState,
  run: { runId: string; revision: string | null; started: string; durationMs: number },
  error: CoreOpsError,
  policy: RecordPolicy,
): Promise<RunState> {
  const next = nextState(previous, {
    kind: "refused",
    stamp: stampOf(run.runId, run.started, run.durationMs),
    revision: run.revision,
    error,
  }, policy);
  await store.writeState(next);
  return next;
}

/** Records an agent tick that found the host paused: a run that applied nothing (SPEC §10). */
export async function recordHeld(
  store: StateStore,
  previous: RunState,
  run: { runId: string; started: string; durationMs: number },
): Promise<RunState> {
  const next = nextState(previous, {
    kind: "held",
    stamp: stampOf(run.runId, run.started, run.durationMs),
  }, { source: { repository: previous.repository, ref: previous.ref }, retry: null });
  await store.writeState(next);
  return next;
}

/** The manifest after a successful run: a file keeps the revision it was last written by. */
export function nextManifest(
  desired: DesiredState,
  previous: OwnershipManifest | null,
  revision: string,
): OwnershipManifest {
  const old = new Map((previous?.files ?? []).map((f) => [f.path, f]));
  const files: ManifestEntry[] = desired.artifacts.map((a) => {
    const kept = old.get(a.destination);
    const entry: ManifestEntry = {
      path: a.destination,
      sha256: a.sha256,
      service: a.service,
      kind: a.kind,
      unit: a.unit,
      revision: kept && kept.sha256 === a.sha256 ? kept.revision : revision,
      source: a.source,
    };
    // sha256 is then the keyed digest of the plaintext; the age file is what is kept.
    if (a.secret?.decrypted) entry.secret = { ciphertext: a.secret.ciphertextSha256 };
    return entry;
  });
  return { schema_version: 1, files };
}

/** Whether two manifests record the same files with the same digests and origins. */
export function sameOwnership(a: OwnershipManifest, b: OwnershipManifest | null): boolean {
  const key = (m: OwnershipManifest) =>
    m.files.map((f) =>
      [f.path, f.sha256, f.service, f.kind, f.unit, f.revision, f.source, f.secret?.ciphertext]
        .join("\0")
    ).sort().join("\n");
  return b !== null && key(a) === key(b);
}

function stampOf(runId: string, started: string, durationMs: number): RunStamp {
  return {
    runId,
    started,
    finished: new Date(Date.parse(started) + durationMs).toISOString(),
    durationMs,
  };
}

function changeStep(s: StepResult): ChangeStep {
  return { op: s.op, target: s.target, reason: s.reason, status: s.status, message: s.message };
}

/** A verdict, told as a step of the run: `verify web.service`. */
function verifyStep(v: UnitVerdict, prefix: string): ChangeStep {
  return {
    op: "verify",
    target: v.unit,
    reason: `${prefix}verification`,
    status: v.status,
    message: v.message,
  };
}
