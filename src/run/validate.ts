/**
 * Step 3 of a run, validate: Podman's own generator over the candidate
 * quadlet set — with the hand-placed quadlets of the quadlet dir beside it,
 * since the generator on the host sees them too — before anything on the
 * host changes. A unit it rejects or drops is exit 65; its output names every
 * quadlet's unit (SPEC §2). Without a generator, the built-in naming of
 * `--podman-version` applies, which only `plan` and `validate` accept.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import type { Files } from "../host/files.ts";
import type { ExtraQuadletFile, QuadletGenerator } from "../plan/dryrun.ts";
import { type DesiredState, isQuadletFileName, isQuadletKind } from "../model.ts";
import { bringUpOrder, describeUnits } from "../plan/units.ts";
import { type NamedState, nameUnits } from "./naming.ts";
import { mark } from "../trace.ts";

/** What validating needs. */
export interface ValidateOptions {
  quadletDir: string;
  generator: QuadletGenerator;
  /** Off-host naming when the generator is not installed (`--podman-version`). */
  podmanVersion?: string;
  /** Refuse to go on without the generator's verdict (apply never deploys quadlets unchecked). */
  requireGenerator: boolean;
  /** Stage the quadlet dir's files that core-ops does not own (all but `owned`) beside the set. */
  handPlaced?: { files: Files; owned: ReadonlySet<string> };
  /**
   * Refuse a dependency cycle here (`validate` stops after this step; `plan`
   * and `apply` find cycles while ordering the plan).
   */
  checkOrder?: boolean;
}

/** Dry-runs the generator over the desired quadlets and names their units. */
export async function validate(
  loaded: DesiredState,
  options: ValidateOptions,
): Promise<NamedState> {
  const extra = options.handPlaced === undefined
    ? []
    : await handPlacedQuadlets(loaded, options.quadletDir, options.handPlaced);
  mark("validate: hand-placed quadlets listed");
  const named = await nameUnits(
    loaded,
    options.quadletDir,
    options.generator,
    options.podmanVersion,
    extra,
  );
  if (
    options.requireGenerator && named.dryRun.status === "skipped" &&
    loaded.artifacts.some((a) => isQuadletKind(a.kind))
  ) {
    throw new CoreOpsError(Exit.failed, "validation", [{
      message: `cannot validate the quadlets: ${named.dryRun.reason}`,
      hint: "install Podman (≥ 4.4) on this host; apply never deploys quadlets unchecked",
    }], { blame: "host" });
  }
  if (options.checkOrder) bringUpOrder(describeUnits(named.desired.artifacts));
  return named;
}

/** Quadlets and drop-ins in the quadlet dir that core-ops neither owns nor deploys. */
async function handPlacedQuadlets(
  desired: DesiredState,
  quadletDir: string,
  { files, owned }: { files: Files; owned: ReadonlySet<string> },
): Promise<ExtraQuadletFile[]> {
  const ours = new Set(desired.artifacts.map((a) => a.destination));
  const extra: ExtraQuadletFile[] = [];
  for (const path of await files.list(quadletDir)) {
    if (ours.has(path) || owned.has(path)) continue;
    const relative = path.slice(quadletDir.length + 1);
    const name = relative.slice(relative.lastIndexOf("/") + 1);
    if (name.startsWith(".") || !isQuadletFileName(relative)) continue;
    const file = await files.read(path);
    if (file !== null) extra.push({ path, content: file.content });
  }
  return extra;
}
