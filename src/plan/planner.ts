/**
 * The planner (SPEC §2): a pure function of the desired state, the ownership
 * manifest, the files on disk and the unit states, giving the ordered actions
 * that converge the host — and nothing when it already has.
 *
 * @module
 */
import {
  BRING_UP_TIER,
  type DesiredState,
  isTemplateUnit,
  type UnitKind,
  type Warning,
} from "../model.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import { bringUpOrder, describeUnits, mountsPath, type UnitInfo } from "./units.ts";

/** The operations a plan may contain. */
export type Op = "write" | "remove" | "reload" | "start" | "restart" | "stop" | "reset-failed";

/** One step of a plan: `target` is a path for write/remove, a unit otherwise. */
export interface Action {
  op: Op;
  target: string;
  reason: string;
}

/** A unit's state as systemd reports it. */
export interface UnitState {
  /** `LoadState`: loaded, not-found, bad-setting, error, masked. */
  load: string;
  /** `ActiveState`: active, inactive, failed, activating, deactivating, reloading. */
  active: string;
}

/** What is on the host now. */
export interface Observed {
  /** sha256 of each file at each path of interest; `null` when absent. */
  files: ReadonlyMap<string, string | null>;
  /** Unit states; `null` when systemd cannot be asked (e.g. planning off-host). */
  units: ReadonlyMap<string, UnitState> | null;
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
}

/** The planner's input. */
export interface PlanInput {
  desired: DesiredState;
  manifest: OwnershipManifest | null;
  observed: Observed;
  /** Take ownership of unowned files at destinations instead of reporting conflicts. */
  adopt: boolean;
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

/** Computes the plan. Pure: the same input always gives the same plan. */
export function plan(input: PlanInput): Plan {
  const { desired, manifest, observed } = input;
  const owned = new Map<string, ManifestEntry>((manifest?.files ?? []).map((f) => [f.path, f]));
  const warnings: Warning[] = [...desired.warnings];
  const drift: Drift[] = [];
  const conflicts: Conflict[] = [];
  const writes: Action[] = [];

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
    } else if (!input.adopt) {
      conflicts.push({ path: a.destination, source: a.source });
    } else if (disk !== a.sha256) {
      writes.push({ op: "write", target: a.destination, reason: "adopt" });
    }
  }
  const written = new Set(writes.map((w) => w.target));
  const created = new Set(writes.filter((w) => w.reason === "new").map((w) => w.target));

  const desiredPaths = new Set(desired.artifacts.map((a) => a.destination));
  const removed = (manifest?.files ?? []).filter((f) => !desiredPaths.has(f.path));
  const removes: Action[] = removed
    .filter((f) => (observed.files.get(f.path) ?? null) !== null)
    .map((f) => ({ op: "remove" as const, target: f.path, reason: "no longer in the repository" }));

  const units = describeUnits(desired.artifacts);
  const desiredUnits = new Set(units.map((u) => u.unit));

  // Units whose files all left the repository: stopped and reset before their files go.
  const goneUnits = new Map<string, UnitKind>();
  for (const f of removed) {
    if (f.unit === null || desiredUnits.has(f.unit) || f.kind === "dropin" || f.kind === "config") {
      continue;
    }
    goneUnits.set(f.unit, f.kind);
  }
  const teardown = [...goneUnits].sort(([, a], [, b]) => BRING_UP_TIER[b] - BRING_UP_TIER[a]);
  const stops: Action[] = [];
  for (const [unit] of teardown) {
    if (isTemplateUnit(unit)) continue;
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
  const unitFileTouched = [...writes, ...removes].some((action) => {
    const kind = kindAt.get(action.target) ?? owned.get(action.target)?.kind;
    return kind !== undefined && kind !== "config";
  });
  const reload: Action[] = unitFileTouched
    ? [{ op: "reload", target: "daemon-reload", reason: "unit files changed" }]
    : [];

  const removedPaths = new Set(removes.map((r) => r.target));
  const removedDropins = removed.filter((f) => f.kind === "dropin" && removedPaths.has(f.path));
  const removedConfig = removed.filter((f) => f.kind === "config" && removedPaths.has(f.path));
  const writtenConfig = desired.artifacts.filter((a) =>
    a.kind === "config" && written.has(a.destination)
  );

  const activation: Action[] = [];
  for (const u of bringUpOrder(units)) {
    if (u.template) continue;
    const base = u.artifacts[0];
    const state = observed.units?.get(u.unit) ?? null;
    const active = state !== null && ACTIVE.has(state.active);
    const isNew = created.has(base.destination);

    const why: string[] = [];
    if (!isNew && written.has(base.destination)) why.push(`${u.file} changed`);
    for (const d of u.artifacts.slice(1)) {
      if (written.has(d.destination)) why.push(`drop-in ${basename(d.destination)} changed`);
    }
    for (const d of removedDropins) {
      if (d.unit === u.unit) why.push(`drop-in ${basename(d.path)} removed`);
    }
    if (u.kind === "container" || u.kind === "kube" || u.kind === "pod") {
      for (const c of writtenConfig) {
        if (mountsPath(u.configPaths, c.destination)) why.push(`config ${c.destination} changed`);
      }
      for (const c of removedConfig) {
        if (mountsPath(u.configPaths, c.path)) why.push(`config ${c.path} removed`);
      }
    }

    if (u.kind === "container" && !u.hasInstall) {
      warnings.push({
        file: base.source,
        message: `${u.file} has no [Install] section: it will not start at boot`,
      });
    }
    if (u.triggeredBy !== null) {
      // Activated on demand by its socket/timer/path: restart only a running instance.
      if (why.length > 0 && active) {
        activation.push({ op: "restart", target: u.unit, reason: why.join("; ") });
      }
      continue;
    }
    if (isNew) {
      activation.push({ op: "start", target: u.unit, reason: "new" });
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

  const actions = conflicts.length > 0
    ? []
    : [...stops, ...resets, ...removes, ...writes, ...reload, ...activation];
  return { actions, warnings, drift, conflicts, units };
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
