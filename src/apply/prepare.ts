/**
 * The step `plan` and `apply` share after loading: run Podman's generator
 * over the candidate quadlet set — with the hand-placed quadlets already in
 * the quadlet dir beside it, since the generator on the host sees them too —
 * and name the units from its output; then observe the host (files, unit
 * states, template instances) and plan. A plan with conflicts is exit 65.
 *
 * @module
 */
import { CoreOpsError, type Diagnostic, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { ExtraQuadletFile, QuadletGenerator } from "../host/quadlet.ts";
import type { Systemd } from "../host/systemd.ts";
import { type DesiredState, isQuadletKind, QUADLET_KINDS, type TargetDirs } from "../model.ts";
import { nameUnits } from "./naming.ts";
import type { Naming } from "../plan/naming.ts";
import {
  pathsOfInterest,
  type Plan,
  plan,
  templatesOfInterest,
  unitsOfInterest,
  type UnitState,
} from "../plan/planner.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import { interruptedChanges, recoverManifest } from "../state/store.ts";

/** What a plan was made from, and the plan. */
export interface Prepared {
  /** The desired state with units named by the generator (or the built-in naming). */
  desired: DesiredState;
  naming: Naming;
  /** The ownership planned with (an interrupted run's files included). */
  manifest: OwnershipManifest | null;
  states: ReadonlyMap<string, UnitState> | null;
  plan: Plan;
}

/** The host adapters and settings preparing needs. */
export interface PrepareContext {
  dirs: TargetDirs;
  files: Files;
  systemd: Systemd;
  generator: QuadletGenerator;
  adopt: boolean;
  /** Off-host naming when the generator is not installed (`--podman-version`). */
  podmanVersion?: string;
  /** Refuse to go on without the generator's verdict (apply never deploys quadlets unchecked). */
  requireGenerator: boolean;
}

/** Names, observes and plans. */
export async function prepare(
  loaded: DesiredState,
  manifestOnDisk: OwnershipManifest | null,
  pending: readonly ManifestEntry[] | null,
  ctx: PrepareContext,
): Promise<Prepared> {
  const owned = new Set([
    ...(manifestOnDisk?.files ?? []).map((f) => f.path),
    ...(pending ?? []).map((f) => f.path),
  ]);
  const extra = await handPlacedQuadlets(loaded, owned, ctx);
  const named = await nameUnits(
    loaded,
    ctx.dirs.quadletDir,
    ctx.generator,
    ctx.podmanVersion,
    extra,
  );
  if (
    ctx.requireGenerator && named.dryRun.status === "skipped" &&
    loaded.artifacts.some((a) => isQuadletKind(a.kind))
  ) {
    throw new CoreOpsError(Exit.failed, "validation", [{
      message: `cannot validate the quadlets: ${named.dryRun.reason}`,
      hint: "install Podman (≥ 4.4) on this host; apply never deploys quadlets unchecked",
    }]);
  }
  const desired = named.desired;
  const [digests, states, instances] = await Promise.all([
    ctx.files.digests([
      ...pathsOfInterest(desired, manifestOnDisk),
      ...(pending ?? []).map((e) => e.path),
    ]),
    ctx.systemd.states(unitsOfInterest(desired, manifestOnDisk)),
    ctx.systemd.instances(templatesOfInterest(desired, manifestOnDisk)),
  ]);
  const manifest = recoverManifest(manifestOnDisk, pending, digests);
  const planned = plan({
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
        message: `${c.path} exists and is not owned by core-ops (source ${c.source})`,
        location: { file: c.path },
        hint: "move it away, or pass --adopt to take ownership of it",
      })),
    );
  }
  return { desired, naming: named.naming, manifest, states, plan: planned };
}

/** A quadlet file or one of its drop-ins, by the one list of quadlet kinds in model.ts. */
const QUADLET_FILE_OR_DROPIN = new RegExp(`\\.(${QUADLET_KINDS.join("|")})(\\.d/[^/]+\\.conf)?$`);

/** Quadlets and drop-ins in the quadlet dir that core-ops neither owns nor deploys. */
async function handPlacedQuadlets(
  desired: DesiredState,
  owned: ReadonlySet<string>,
  ctx: PrepareContext,
): Promise<ExtraQuadletFile[]> {
  const ours = new Set(desired.artifacts.map((a) => a.destination));
  const extra: ExtraQuadletFile[] = [];
  for (const path of await ctx.files.list(ctx.dirs.quadletDir)) {
    if (ours.has(path) || owned.has(path)) continue;
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (name.startsWith(".") || !QUADLET_FILE_OR_DROPIN.test(path)) continue;
    const file = await ctx.files.read(path);
    if (file !== null) extra.push({ path, content: file.content });
  }
  return extra;
}
