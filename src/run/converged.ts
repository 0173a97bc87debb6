/**
 * The agent's shortcut for the tick that finds nothing to do (SPEC §4: most
 * ticks). A plan is a pure function of the revision's desired state (itself
 * a pure function of the commit, the host id, the target dirs, the config
 * roots and the build: desired_cache.ts), the ownership manifest, the files
 * at every destination, the units' states and the templates' instances, and
 * the generator's verdict over the quadlet dir. A run that planned nothing
 * keeps all of that in `<state-dir>/converged.json` (state/converged.ts); the
 * next tick at the same revision with the same key only re-observes it —
 * one lstat per file instead of reading and hashing it, the same ONE
 * `list-units` — and when nothing moved, the plan is the same empty plan, so
 * it records a no-op without loading, validating or planning.
 *
 * What it takes to trust a file's stamp (like git's index): the stamp changes
 * with any write, rename over, chmod or chown (inode, size, mode, owner,
 * mtime and ctime are in it), and a file that changed less than
 * {@link RACY_MS} before the run began observing is kept without a stamp, so
 * that its content is hashed again by the next tick (a write within one tick
 * of the file system's clock could leave the stamp as it was). Anything that
 * does not match — another revision or key, a file, a unit, an instance, a
 * new or changed file in the quadlet dir, the manifest — and the run loads
 * and plans as always. A record older than {@link MAX_AGE_MS} is not used:
 * at least that often, every tick's answer comes from a whole plan again.
 *
 * Not kept (those ticks always plan): runs with user services (their logins'
 * uids and managers are looked up per run) or secrets (their digests are
 * keyed and decrypted per run), and a run that recovered an interrupted one.
 *
 * @module
 */
import type { Files, FileStamp } from "../host/files.ts";
import type { Systemd } from "../host/systemd.ts";
import type { UnitState } from "../model.ts";
import type { Plan } from "../plan/planner.ts";
import type { ConvergedRecord } from "../state/converged.ts";
import type { StateStore } from "../state/store.ts";
import type { Planned } from "./plan.ts";

/**
 * How long before the run began observing a file must have last changed for
 * its stamp to stand for its content (file systems' clocks tick in up to a few ms;
 * a clock that jumps is what the margin is for).
 */
export const RACY_MS = 2_000;
/** The oldest record a tick trusts: after that, one whole plan again. */
export const MAX_AGE_MS = 60 * 60 * 1000;

/** Where the record is and what it is checked against. */
export interface ConvergedContext {
  /** The revision the run is at. */
  revision: string;
  /** Where the record is kept, and the ownership manifest (rewritten, it changes what is owned). */
  store: StateStore;
  /** See {@link convergedKey}. */
  key: string;
  quadletDir: string;
  files: Files;
  systemd: Systemd;
}

/**
 * The key of a record: the desired state's key (commit, host, dirs, config
 * roots, build: desired_cache.ts), the adopt setting and the generator's
 * identity (a new Podman may judge the same quadlets differently).
 */
export function convergedKey(
  desiredKey: string,
  adopt: boolean | "matching",
  generator: string | null,
): string {
  return JSON.stringify(["converged/1", desiredKey, adopt, generator]);
}

/**
 * The record of the last no-op when the host is still exactly as it saw it
 * at the run's revision; `null` when anything differs (the run then plans).
 */
export async function stillConverged(
  ctx: ConvergedContext,
  now: number,
): Promise<ConvergedRecord | null> {
  const { revision } = ctx;
  const kept = await ctx.store.readConverged();
  if (kept === null || kept.key !== ctx.key || kept.record.revision !== revision) return null;
  const { record } = kept;
  const age = now - record.observedAt;
  if (age < 0 || age > MAX_AGE_MS) return null;
  const [listing, stamps, states, instances] = await Promise.all([
    ctx.files.list(ctx.quadletDir),
    ctx.files.stamps(recordPaths(record, ctx.store.manifestPath)),
    ctx.systemd.states(record.units),
    ctx.systemd.instances(record.templates),
  ]);
  // Files too young for their stamp when the record was made: their content, once more.
  const young = record.files.filter(([, digest, stamp]) => digest !== null && stamp === null);
  const digests = young.length === 0
    ? new Map<string, string | null>()
    : await ctx.files.digests(young.map(([path]) => path));
  const seen = { listing, stamps, states, instances, digests };
  if (!sameHost(record, seen, ctx.store.manifestPath)) return null;
  // Files that were too young for their stamps and have aged since: checked by content once
  // more just now, their stamps can stand for it from the next tick on.
  const aged = settle(record, stamps, now);
  if (aged !== null) await ctx.store.writeConverged({ key: ctx.key, record: aged });
  return record;
}

/**
 * `record` with the stamps of its young files that `stamps` (taken at `now`,
 * their content just found as recorded) shows old enough; `null` when none
 * is. Pure.
 */
export function settle(
  record: ConvergedRecord,
  stamps: ReadonlyMap<string, FileStamp | null>,
  now: number,
): ConvergedRecord | null {
  let changed = false;
  const files = record.files.map(([path, digest, stamp]): ConvergedRecord["files"][number] => {
    const seen = stamps.get(path) ?? null;
    if (stamp !== null || digest === null || seen === null || seen.changedMs >= now - RACY_MS) {
      return [path, digest, stamp];
    }
    changed = true;
    return [path, digest, seen.id];
  });
  return changed ? { ...record, files } : null;
}

/** Every path whose stamp a check compares: the manifest, the files, the quadlet dir's others. */
export function recordPaths(record: ConvergedRecord, manifestPath: string): string[] {
  return [
    manifestPath,
    ...record.files.map(([path]) => path),
    ...record.others.map(([path]) => path),
  ];
}

/** What a tick saw of the host, for {@link sameHost}. */
export interface Seen {
  listing: readonly string[];
  stamps: ReadonlyMap<string, { id: string } | null>;
  states: ReadonlyMap<string, UnitState> | null;
  instances: ReadonlyMap<string, UnitState> | null;
  digests: ReadonlyMap<string, string | null>;
}

/** Whether `seen` is the host `record` describes. Pure. */
export function sameHost(record: ConvergedRecord, seen: Seen, manifestPath: string): boolean {
  if ((seen.stamps.get(manifestPath)?.id ?? null) !== record.manifest) return false;
  for (const [path, digest, stamp] of record.files) {
    const now = seen.stamps.get(path) ?? null;
    if (digest === null || now === null) {
      if (digest !== null || now !== null) return false;
    } else if (stamp === null ? seen.digests.get(path) !== digest : now.id !== stamp) {
      return false;
    }
  }
  // Every other file of the quadlet dir, as it was: the generator reads them beside ours.
  const ours = new Set(record.files.map(([path]) => path));
  const others = seen.listing.filter((path) => !ours.has(path));
  const recorded = new Map(record.others);
  if (others.length !== recorded.size) return false;
  for (const path of others) {
    const stamp = recorded.get(path);
    if (stamp === undefined || stamp === null || seen.stamps.get(path)?.id !== stamp) return false;
  }
  return sameStates(record.states, seen.states) && sameStates(record.instances, seen.instances);
}

function sameStates(
  recorded: readonly (readonly [string, string, string])[],
  seen: ReadonlyMap<string, UnitState> | null,
): boolean {
  if (seen === null || seen.size !== recorded.length) return false;
  return recorded.every(([unit, load, active]) => {
    const state = seen.get(unit);
    return state !== undefined && state.load === load && state.active === active;
  });
}

/**
 * Keeps what a run that planned nothing saw, for the next tick; `observedAt`
 * is when the run began observing the host. Runs the shortcut does not cover
 * (see the module doc) keep nothing — and leave any older record to fail its
 * own checks.
 */
export async function keepConverged(
  ctx: ConvergedContext,
  revision: string,
  observedAt: number,
  planned: Planned,
): Promise<void> {
  const { desired, states, observed } = planned;
  if (states === null || observed.instances === null) return;
  if (desired.artifacts.some((a) => a.user !== undefined || a.secret !== undefined)) return;
  const files = [...observed.files];
  const ours = new Set(files.map(([path]) => path));
  const others = (await ctx.files.list(ctx.quadletDir)).filter((path) => !ours.has(path));
  const { manifestPath } = ctx.store;
  const stamps = await ctx.files.stamps([manifestPath, ...ours, ...others]);
  const settled = (path: string) => {
    const stamp = stamps.get(path) ?? null;
    return stamp !== null && stamp.changedMs < observedAt - RACY_MS ? stamp.id : null;
  };
  const tuples = (map: ReadonlyMap<string, UnitState>) =>
    [...map].map(([unit, s]): [string, string, string] => [unit, s.load, s.active]);
  await ctx.store.writeConverged({
    key: ctx.key,
    record: {
      revision,
      observedAt,
      manifest: stamps.get(manifestPath)?.id ?? null,
      files: files.map(([path, digest]) => [path, digest, digest === null ? null : settled(path)]),
      units: [...observed.units],
      states: tuples(states),
      templates: [...observed.templates],
      instances: tuples(observed.instances),
      others: others.map((path) => [path, settled(path)]),
      warnings: planned.plan.warnings,
    },
  });
}

/** The plan a record stands for: nothing to do, with the warnings the run saw. */
export function convergedPlan(record: ConvergedRecord): Plan {
  return { actions: [], warnings: record.warnings, drift: [], conflicts: [], units: [] };
}

/** The unit states a record saw (the run report's states before the run). */
export function convergedStates(record: ConvergedRecord): Map<string, UnitState> {
  return new Map(record.states.map(([unit, load, active]) => [unit, { load, active }]));
}
