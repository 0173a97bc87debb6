/**
 * Step 4 of a run, plan: observe the host — the files at every destination,
 * the unit states, the running instances of templates — and plan with the
 * pure planner (SPEC §2). What a run killed mid-way had written counts as
 * core-ops' own. A plan with conflicts (files core-ops does not own at a
 * destination, without `--adopt`) is exit 65.
 *
 * @module
 */
import { CoreOpsError, type Diagnostic, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { Systemd } from "../host/systemd.ts";
import type { DesiredState, UnitState } from "../model.ts";
import type { Naming } from "../plan/naming.ts";
import {
  pathsOfInterest,
  type Plan,
  plan as planner,
  templatesOfInterest,
  unitsOfInterest,
} from "../plan/planner.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import { interruptedChanges, recoverManifest } from "../state/store.ts";
import type { NamedState } from "./naming.ts";

/** What a plan was made from, and the plan. */
export interface Planned {
  /** The desired state with units named by the generator (or the built-in naming). */
  desired: DesiredState;
  naming: Naming;
  /** The ownership planned with (an interrupted run's files included). */
  manifest: OwnershipManifest | null;
  states: ReadonlyMap<string, UnitState> | null;
  plan: Plan;
}

/** What planning observes the host through. */
export interface PlanContext {
  files: Files;
  systemd: Systemd;
  adopt: boolean | "matching";
}

/** Observes the host and plans; `pending` is what an interrupted run was converging to. */
export async function plan(
  named: NamedState,
  manifestOnDisk: OwnershipManifest | null,
  pending: readonly ManifestEntry[] | null,
  ctx: PlanContext,
): Promise<Planned> {
  const { desired } = named;
  const [digests, states, instances] = await Promise.all([
    ctx.files.digests([
      ...pathsOfInterest(desired, manifestOnDisk),
      ...(pending ?? []).map((e) => e.path),
    ]),
    ctx.systemd.states(unitsOfInterest(desired, manifestOnDisk)),
    ctx.systemd.instances(templatesOfInterest(desired, manifestOnDisk)),
  ]);
  const manifest = recoverManifest(manifestOnDisk, pending, digests);
  const planned = planner({
    desired,
    manifest,
    observed: { files: digests, units: states, instances },
    adopt: ctx.adopt,
    interrupted: interruptedChanges(manifestOnDisk, pending, digests),
  });
  if (planned.conflicts.length > 0) {
    throw new CoreOpsError(
      Exit.dataErr,
      "plan",
      planned.conflicts.map((c): Diagnostic => ({
        message: c.differs
          ? `${c.path} exists, is not owned by core-ops and differs from ${c.source}`
          : `${c.path} exists and is not owned by core-ops (source ${c.source})`,
        location: { file: c.path },
        hint: c.differs
          ? "adopt takes over only files that match the revision: move it away, make it " +
            "match, or run core-ops apply --adopt once to take it and write the revision's"
          : "move it away, or pass --adopt to take ownership of it",
      })),
    );
  }
  return { desired, naming: named.naming, manifest, states, plan: planned };
}

/** The paths core-ops owns or was writing when it was interrupted (never hand-placed). */
export function ownedPaths(
  manifest: OwnershipManifest | null,
  pending: readonly ManifestEntry[] | null,
): Set<string> {
  return new Set([
    ...(manifest?.files ?? []).map((f) => f.path),
    ...(pending ?? []).map((f) => f.path),
  ]);
}
