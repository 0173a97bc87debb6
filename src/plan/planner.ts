/**
 * The planner (SPEC §2): a pure function of the desired state, the ownership
 * manifest, the files on disk and the unit states, giving the ordered actions
 * that converge the host — and nothing when it already has.
 *
 * @module
 */
import { CoreOpsError } from "../errors.ts";
import {
  type Action,
  type Artifact,
  BRING_UP_TIER,
  type DesiredState,
  isTemplateUnit,
  reloadTarget,
  type UnitKind,
  unitScope,
  type UnitState,
  type Warning,
} from "../model.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import { compare } from "../tree.ts";
import { healthWarnings } from "./health.ts";
import { pullActions } from "./images.ts";
import { mountIndex } from "./mounts.ts";
import { bringUpOrder, describeUnits, tearDownOrder, type UnitInfo } from "./units.ts";

/** What is on the host now. */
export interface Observed {
  /** sha256 of each file at each path of interest; `null` when absent. */
  files: ReadonlyMap<string, string | null>;
  /** Unit states; `null` when systemd cannot be asked (e.g. planning off-host). */
  units: ReadonlyMap<string, UnitState> | null;
  /**
   * Loaded instances of the templates of {@link templatesOfInterest}
   * (`web@a.service` of `web@.service`), by instance unit name; `null` or
   * absent when unknown. A changed template restarts its running instances; a
   * removed one stops them.
   */
  instances?: ReadonlyMap<string, UnitState> | null;
  /**
   * The image each container's files on the host name now (`null`: no file),
   * for the containers whose files this plan rewrites; absent when unknown
   * (off-host), and then nothing is pre-pulled (SPEC §9).
   */
  images?: ReadonlyMap<string, string | null>;
}

/** An owned file that was changed by hand since core-ops wrote it. */
export interface Drift {
  path: string;
  unit: string | null;
  /** sha256 core-ops wrote. */
  expected: string;
  /** sha256 on disk now; `null` when the file was deleted. */
  actual: string | null;
}

/** A destination holding a file core-ops does not own. */
export interface Conflict {
  path: string;
  source: string;
  /** Adoption was asked for, but only of matching files, and this one differs. */
  differs?: boolean;
}

/** The planner's input. */
export interface PlanInput {
  desired: DesiredState;
  manifest: OwnershipManifest | null;
  observed: Observed;
  /**
   * Take ownership of unowned files at destinations instead of reporting
   * conflicts: `true` takes every one (rewriting what differs; `apply
   * --adopt`), `"matching"` only files that already hold what the revision
   * deploys (agent.toml `adopt`) — a file that differs stays a conflict.
   */
  adopt: boolean | "matching";
  /**
   * The artifacts of the last applied revision, when known: their
   * dependencies order the tear-down of removed units (the reverse of their
   * bring-up). Without them removed units go down by kind tiers in reverse.
   */
  previous?: readonly Artifact[];
  /**
   * Paths a run killed mid-way wrote or removed (see `interruptedChanges`):
   * they count as changed by this run, so their units are restarted and
   * systemd reloaded even though the files on disk are already as desired.
   */
  interrupted?: { written: readonly string[]; removed: readonly string[] };
}

/** The planner's output. */
export interface Plan {
  actions: Action[];
  warnings: Warning[];
  drift: Drift[];
  conflicts: Conflict[];
  units: UnitInfo[];
}

const ACTIVE = new Set(["active", "activating", "reloading"]);

/** Paths the planner needs observed: every desired destination and every owned path. */
export function pathsOfInterest(
  desired: DesiredState,
  manifest: OwnershipManifest | null,
): string[] {
  const paths = new Set(desired.artifacts.map((a) => a.destination));
  for (const f of manifest?.files ?? []) paths.add(f.path);
  return [...paths];
}

/** Units the planner needs states for: every desired unit and every owned unit. */
export function unitsOfInterest(
  desired: DesiredState,
  manifest: OwnershipManifest | null,
): string[] {
  const units = new Set<string>();
  for (const a of desired.artifacts) if (a.unit !== null) units.add(a.unit);
  for (const f of manifest?.files ?? []) if (f.unit !== null) units.add(f.unit);
  return [...units];
}

/** Templates whose instances the planner needs (see {@link Observed.instances}): desired or owned. */
export function templatesOfInterest(
  desired: DesiredState,
  manifest: OwnershipManifest | null,
): string[] {
  return unitsOfInterest(desired, manifest).filter(isTemplateUnit);
}

/** Whether `unit` is an instance of the template `template` (`web@a.service` of `web@.service`). */
export function isInstanceOf(unit: string, template: string): boolean {
  const at = template.indexOf("@.");
  if (at < 0) return false;
  const prefix = template.slice(0, at + 1);
  const suffix = template.slice(at + 1);
  return unit.length > prefix.length + suffix.length && unit.startsWith(prefix) &&
    unit.endsWith(suffix);
}

/** Computes the plan. Pure: the same input always gives the same plan. */
export function plan(input: PlanInput): Plan {
  const { desired, manifest, observed } = input;
  const owned = new Map<string, ManifestEntry>((manifest?.files ?? []).map((f) => [f.path, f]));
  const warnings: Warning[] = [...desired.warnings];
  const drift: Drift[] = [];
  const conflicts: Conflict[] = [];
  const writes: Action[] = [];
  /** Unowned files taken over as they are (they already hold what the revision deploys). */
  const adoptedAsIs: Artifact[] = [];

  for (const a of desired.artifacts) {
    const disk = observed.files.get(a.destination) ?? null;
    const entry = owned.get(a.destination);
    if (entry) {
      if (disk !== entry.sha256) {
        drift.push({ path: a.destination, unit: entry.unit, expected: entry.sha256, actual: disk });
      }
      if (disk === a.sha256) continue;
      const reason = disk === null ? "missing" : disk !== entry.sha256 ? "drift" : "changed";
      writes.push({ op: "write", target: a.destination, reason });
    } else if (disk === null) {
      writes.push({ op: "write", target: a.destination, reason: "new" });
    } else if (input.adopt === false || (input.adopt === "matching" && disk !== a.sha256)) {
      const conflict: Conflict = { path: a.destination, source: a.source };
      if (input.adopt === "matching") conflict.differs = true;
      conflicts.push(conflict);
    } else if (disk !== a.sha256) {
      writes.push({ op: "write", target: a.destination, reason: "adopt" });
    } else {
      adoptedAsIs.push(a);
    }
  }
  const desiredAt = new Map(desired.artifacts.map((a) => [a.destination, a]));
  const desiredPaths = new Set(desiredAt.keys());
  // What an interrupted run already wrote counts as written now (its restarts never ran).
  const resumedWrites = (input.interrupted?.written ?? []).filter((p) => desiredPaths.has(p));
  const resumedRemoves = new Set(input.interrupted?.removed ?? []);
  const written = new Set([...writes.map((w) => w.target), ...resumedWrites]);
  const created = new Set(writes.filter((w) => w.reason === "new").map((w) => w.target));

  const removed = (manifest?.files ?? []).filter((f) => !desiredPaths.has(f.path));
  const removes: Action[] = removed
    .filter((f) => (observed.files.get(f.path) ?? null) !== null)
    .map((f) => ({ op: "remove" as const, target: f.path, reason: "no longer in the repository" }));

  const units = describeUnits(desired.artifacts);
  const desiredUnits = new Set(units.map((u) => u.unit));
  warnings.push(...healthWarnings(units));

  // Units whose files all left the repository: stopped and reset before their files go.
  const goneUnits = new Map<string, UnitKind>();
  for (const f of removed) {
    if (f.unit === null || desiredUnits.has(f.unit) || f.kind === "dropin" || f.kind === "config") {
      continue;
    }
    goneUnits.set(f.unit, f.kind);
  }
  const teardown = tearDown(goneUnits, input.previous);
  const instancesOf = (template: string): [string, UnitState][] =>
    [...(observed.instances ?? new Map<string, UnitState>())]
      .filter(([name]) => isInstanceOf(name, template) && !desiredUnits.has(name))
      .sort(([a], [b]) => compare(a, b));
  const stops: Action[] = [];
  for (const unit of teardown) {
    if (isTemplateUnit(unit)) {
      for (const [instance, state] of instancesOf(unit)) {
        if (!ACTIVE.has(state.active) && state.active !== "failed") continue;
        stops.push({
          op: "stop",
          target: instance,
          reason: `instance of ${unit}, removed from the repository`,
        });
      }
      continue;
    }
    const state = observed.units?.get(unit);
    if (
      state && state.load === "not-found" && !ACTIVE.has(state.active) && state.active !== "failed"
    ) continue;
    stops.push({ op: "stop", target: unit, reason: "removed from the repository" });
  }
  const resets: Action[] = stops.map((s) => ({
    op: "reset-failed",
    target: s.target,
    reason: "removed from the repository",
  }));

  const kindAt = new Map(desired.artifacts.map((a) => [a.destination, a.kind]));
  const managerAt = (path: string): string | null => {
    const login = desiredAt.get(path)?.user?.login;
    if (login !== undefined) return login;
    const unit = owned.get(path)?.unit;
    return unit ? unitScope(unit).login : null;
  };
  // Each manager whose unit files changed reloads once (SPEC §2, §7): PID 1, then users'.
  const reloads = new Map<string | null, string>();
  for (
    const target of [
      ...[...writes, ...removes].map((a) => a.target),
      ...resumedWrites,
      ...resumedRemoves,
    ]
  ) {
    const kind = kindAt.get(target) ?? owned.get(target)?.kind;
    if (kind !== undefined && kind !== "config") {
      reloads.set(managerAt(target), "unit files changed");
    }
  }
  // Files another tool placed without telling systemd: nothing is written, but systemd
  // must read them before their units can start.
  for (const a of adoptedAsIs) {
    if (a.kind === "config" || a.unit === null) continue;
    if (observed.units?.get(a.unit)?.load !== "not-found") continue;
    const login = a.user?.login ?? null;
    if (!reloads.has(login)) reloads.set(login, "adopted unit files systemd has not loaded");
  }
  const reload: Action[] = [...reloads]
    .sort(([a], [b]) => a === null ? -1 : b === null ? 1 : compare(a, b))
    .map(([login, reason]) => ({ op: "reload", target: reloadTarget(login), reason }));

  const removedPaths = new Set([...removes.map((r) => r.target), ...resumedRemoves]);
  const removedDropins = removed.filter((f) => f.kind === "dropin" && removedPaths.has(f.path));
  const removedConfig = removed.filter((f) => f.kind === "config" && removedPaths.has(f.path));
  const writtenConfig = desired.artifacts.filter((a) =>
    a.kind === "config" && written.has(a.destination)
  );

  const writtenMounted = mountIndex(writtenConfig, (c) => c.destination);
  const removedMounted = mountIndex(removedConfig, (c) => c.path);

  /** What changed of a unit's own files (its file, drop-ins, mounted config). */
  const changesOf = (u: UnitInfo): string[] => {
    const base = u.artifacts[0];
    const why: string[] = [];
    if (!created.has(base.destination) && written.has(base.destination)) {
      why.push(`${u.file} changed`);
    }
    for (const d of u.artifacts.slice(1)) {
      if (written.has(d.destination)) why.push(`drop-in ${basename(d.destination)} changed`);
    }
    for (const d of removedDropins) {
      if (d.unit === u.unit) why.push(`drop-in ${basename(d.path)} removed`);
    }
    if (u.kind === "container" || u.kind === "kube" || u.kind === "pod") {
      for (const c of writtenMounted(u.configPaths)) why.push(`config ${c.destination} changed`);
      for (const c of removedMounted(u.configPaths)) why.push(`config ${c.path} removed`);
    }
    return why;
  };
  // A template's file and drop-ins apply to its instances — also to an instance the
  // repository deploys as a file of its own (`web@a.container` beside `web@.container`).
  const templateChanges = units.filter((u) => u.template).map((u) => ({
    unit: u.unit,
    why: changesOf(u),
  }));

  const activation: Action[] = [];
  for (const u of bringUpOrder(units)) {
    const base = u.artifacts[0];
    const state = observed.units?.get(u.unit) ?? null;
    const active = state !== null && ACTIVE.has(state.active);
    const isNew = created.has(base.destination);

    const why = changesOf(u);
    if (!u.template) {
      for (const t of templateChanges) {
        if (!isInstanceOf(u.unit, t.unit)) continue;
        for (const w of t.why) why.push(`${w} (template ${t.unit})`);
      }
    }

    if (u.template) {
      // A template's file and drop-ins apply to every instance: restart the running ones.
      if (why.length === 0) continue;
      for (const [instance, state] of instancesOf(u.unit)) {
        if (!ACTIVE.has(state.active)) continue;
        activation.push({
          op: "restart",
          target: instance,
          reason: `${why.join("; ")} (instance of ${u.unit})`,
        });
      }
      continue;
    }
    if (u.kind === "container" && !u.hasInstall) {
      warnings.push({
        file: base.source,
        message: `${u.file} has no [Install] section: it will not start at boot`,
      });
    }
    if (u.triggeredBy !== null || u.startsOnDemand) {
      // Activated on demand (by its socket/timer/path, or a StartWithPod=no pod
      // member by whatever the operator set up): restart only while it runs.
      if (why.length > 0 && active) {
        activation.push({ op: "restart", target: u.unit, reason: why.join("; ") });
      }
      continue;
    }
    if (isNew) {
      activation.push({ op: "start", target: u.unit, reason: "new" });
    } else if (u.oneshot) {
      // Runs to completion and is inactive after: run again only when it changed.
      if (why.length > 0) {
        activation.push({
          op: active ? "restart" : "start",
          target: u.unit,
          reason: why.join("; "),
        });
      }
    } else if (u.kind === "volume" || u.kind === "network") {
      if (why.length > 0) {
        warnings.push({
          file: base.source,
          message:
            `${u.file} changed: core-ops never restarts volumes and networks; recreate it to apply the change`,
        });
      }
      if (state !== null && !active) {
        activation.push({ op: "start", target: u.unit, reason: `not active (${state.active})` });
      }
    } else if (why.length > 0) {
      activation.push({
        op: state === null || active ? "restart" : "start",
        target: u.unit,
        reason: why.join("; "),
      });
    } else if (state !== null && !active) {
      activation.push({ op: "start", target: u.unit, reason: `not active (${state.active})` });
    }
  }

  // Images first: the old containers keep serving while they pull, and a failed pull stops
  // the run before anything changed.
  const pulls = observed.images ? pullActions(units, activation, observed.images) : [];
  const actions = conflicts.length > 0
    ? []
    : [...pulls, ...stops, ...resets, ...removes, ...writes, ...reload, ...activation];
  return { actions, warnings, drift, conflicts, units };
}

/**
 * Units whose files all left the repository, in tear-down order: the reverse
 * of their bring-up under the last applied revision's dependencies when
 * known, else kind tiers in reverse. Units the previous revision cannot order
 * (or a previous revision with a dependency cycle) fall back to the tiers.
 */
function tearDown(gone: ReadonlyMap<string, UnitKind>, previous?: readonly Artifact[]): string[] {
  let order: string[] = [];
  if (previous !== undefined) {
    try {
      order = tearDownOrder(describeUnits(previous)).map((u) => u.unit);
    } catch (error) {
      if (!(error instanceof CoreOpsError)) throw error;
    }
  }
  const rank = new Map(order.map((u, i) => [u, i]));
  return [...gone].sort(([a, ka], [b, kb]) => {
    const [ra, rb] = [rank.get(a), rank.get(b)];
    if (ra !== undefined && rb !== undefined) return ra - rb;
    return BRING_UP_TIER[kb] - BRING_UP_TIER[ka] || compare(a, b);
  }).map(([unit]) => unit);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
