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
import { newSecretKey, observeDigests } from "../state/keyed.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import { interruptedChanges, recoverManifest } from "../state/store.ts";
import { basename, dirname } from "../paths.ts";
import { imageReference } from "../plan/images.ts";
import { parseUnitFile } from "../source/unitfile.ts";
import type { NamedState } from "./naming.ts";
import { mark } from "../trace.ts";

/** What a plan was made from, and the plan. */
export interface Planned {
  /** The desired state with units named by the generator (or the built-in naming). */
  desired: DesiredState;
  naming: Naming;
  /** The ownership planned with (an interrupted run's files included). */
  manifest: OwnershipManifest | null;
  states: ReadonlyMap<string, UnitState> | null;
  plan: Plan;
  /** What the plan saw besides the unit states (converged.ts keeps it after a no-op). */
  observed: {
    /** sha256 (or keyed digest) of every path the plan looked at, `null` where nothing is. */
    files: ReadonlyMap<string, string | null>;
    /** The units whose states were asked for (`states` is the answer). */
    units: readonly string[];
    templates: readonly string[];
    instances: ReadonlyMap<string, UnitState> | null;
  };
}

/** What planning observes the host through. */
export interface PlanContext {
  files: Files;
  systemd: Systemd;
  adopt: boolean | "matching";
  /** The key of the secrets' keyed digests (decrypt.ts); needed when there are secrets. */
  secretKey?: () => Promise<Uint8Array>;
}

/** Observes the host and plans; `pending` is what an interrupted run was converging to. */
export async function plan(
  named: NamedState,
  manifestOnDisk: OwnershipManifest | null,
  pending: readonly ManifestEntry[] | null,
  ctx: PlanContext,
): Promise<Planned> {
  const { desired } = named;
  const planning = fromCiphertext(desired, manifestOnDisk);
  const paths = [
    ...pathsOfInterest(desired, manifestOnDisk),
    ...(pending ?? []).map((e) => e.path),
  ];
  // A path is observed in the digest space of what it is recorded as (plain sha256 or keyed):
  // a config file that became a secret (or back) is then neither drift nor unchanged, but
  // written once more — with its new mode.
  const recorded = new Map(
    [...pending ?? [], ...manifestOnDisk?.files ?? []].map((e) => [e.path, e]),
  );
  const desiredSecrets = new Set(
    desired.artifacts.filter((a) => a.secret !== undefined).map((a) => a.destination),
  );
  const secretPaths = new Set(paths.filter((path) => {
    const entry = recorded.get(path);
    return entry === undefined ? desiredSecrets.has(path) : entry.secret !== undefined;
  }));
  // The digest key is read only when there is a secret to compare.
  const key = secretPaths.size === 0 ? null : await ctx.secretKey?.() ?? newSecretKey();
  const units = unitsOfInterest(desired, manifestOnDisk);
  const templates = templatesOfInterest(desired, manifestOnDisk);
  const [digests, states, instances] = await Promise.all([
    key === null
      ? ctx.files.digests(paths)
      : observeDigests(ctx.files, paths, { paths: secretPaths, key }),
    ctx.systemd.states(units),
    ctx.systemd.instances(templates),
  ]);
  mark("plan: files hashed, units and instances observed");
  const manifest = recoverManifest(manifestOnDisk, pending, digests);
  const images = await deployedImages(desired, manifest, digests, ctx.files);
  const planned = planner({
    desired: planning,
    manifest,
    observed: { files: digests, units: states, instances, images },
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
  return {
    desired,
    naming: named.naming,
    manifest,
    states,
    plan: planned,
    observed: { files: digests, units, templates, instances },
  };
}

/**
 * A secret the host could not decrypt is planned from its age file (SPEC §6):
 * the same age file as the one applied deploys the same plaintext, so it
 * keeps the keyed digest recorded for it; any other age file counts as
 * changed.
 */
function fromCiphertext(desired: DesiredState, manifest: OwnershipManifest | null): DesiredState {
  if (!desired.artifacts.some((a) => a.secret?.decrypted === false)) return desired;
  const owned = new Map((manifest?.files ?? []).map((f) => [f.path, f]));
  return {
    ...desired,
    artifacts: desired.artifacts.map((a) => {
      const entry = owned.get(a.destination);
      if (a.secret?.decrypted !== false || entry?.secret?.ciphertext !== a.sha256) return a;
      return { ...a, sha256: entry.sha256 };
    }),
  };
}

/**
 * The image each container names on the host now, for the containers whose
 * files this plan rewrites (`null` when it has no file there yet): read only
 * then, so a run that changes no container reads nothing more.
 */
async function deployedImages(
  desired: DesiredState,
  manifest: OwnershipManifest | null,
  digests: ReadonlyMap<string, string | null>,
  files: Files,
): Promise<Map<string, string | null>> {
  const changing = new Set<string>();
  for (const a of desired.artifacts) {
    if (a.unit === null || !a.unitFile?.endsWith(".container")) continue;
    if ((digests.get(a.destination) ?? null) !== a.sha256) changing.add(a.unit);
  }
  const images = new Map<string, string | null>();
  for (const unit of changing) {
    const paths = new Set([
      ...desired.artifacts.filter((a) => a.unit === unit).map((a) => a.destination),
      ...(manifest?.files ?? []).filter((f) => f.unit === unit).map((f) => f.path),
    ]);
    const present = [...paths].filter((p) => (digests.get(p) ?? null) !== null);
    const isDropin = (p: string) => dirname(p).endsWith(".d");
    const bases = present.filter((p) => !isDropin(p));
    if (bases.length === 0) {
      images.set(unit, null);
      continue;
    }
    // systemd's order: the unit file, then its drop-ins by file name.
    const dropins = present.filter(isDropin).sort((a, b) =>
      basename(a) < basename(b) ? -1 : basename(a) > basename(b) ? 1 : 0
    );
    const read = await Promise.all([...bases, ...dropins].map((p) => files.read(p)));
    const parsed = read.flatMap((f) =>
      f === null ? [] : [parseUnitFile(new TextDecoder().decode(f.content))]
    );
    images.set(unit, imageReference(parsed));
  }
  return images;
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
