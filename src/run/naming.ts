/**
 * The step `plan` and `validate` share after loading: run Podman's generator
 * over the candidate quadlet set when it is installed, and take each quadlet's
 * unit name from it; else name units the built-in way, as the Podman version
 * of `--podman-version` (default: the newest) would (SPEC §2–3).
 *
 * @module
 */
import { CoreOpsError, Exit, usage } from "../errors.ts";
import type { DryRunResult, ExtraQuadletFile, QuadletGenerator } from "../plan/dryrun.ts";
import {
  type DesiredState,
  isQuadletKind,
  namingForPodmanVersion,
  NEWEST_NAMING,
  type TemplateNaming,
} from "../model.ts";
import { type Naming, withBuiltInNaming, withGeneratorNaming } from "../plan/naming.ts";

/** A desired state whose units follow the host's (or the assumed) naming. */
export interface NamedState {
  desired: DesiredState;
  naming: Naming;
  /** The dry-run that decided (never a rejection: that is thrown). */
  dryRun: Exclude<DryRunResult, { status: "rejected" }>;
}

/** Parses `--podman-version`; a value that is not a version is a usage error (64). */
export function templateNaming(podmanVersion: string | undefined): TemplateNaming {
  if (podmanVersion === undefined) return NEWEST_NAMING;
  const naming = namingForPodmanVersion(podmanVersion);
  if (naming === null) {
    throw usage(
      `--podman-version "${podmanVersion}" is not a Podman version`,
      "give it as MAJOR.MINOR[.PATCH], e.g. --podman-version 5.4.2 (see `podman --version`)",
    );
  }
  return naming;
}

/**
 * Dry-runs the generator over the quadlets of `desired` (with `extra`
 * hand-placed files beside them) and names the units from its output; a
 * rejection is exit 65. Without a generator, the built-in naming for
 * `podmanVersion` applies.
 */
export async function nameUnits(
  desired: DesiredState,
  quadletDir: string,
  generator: QuadletGenerator,
  podmanVersion: string | undefined,
  extra: readonly ExtraQuadletFile[] = [],
): Promise<NamedState> {
  const templates = templateNaming(podmanVersion); // a bad flag fails before any work
  const quadlets = desired.artifacts.filter((a) =>
    isQuadletKind(a.kind) || (a.kind === "dropin" && a.destination.startsWith(quadletDir + "/"))
  );
  const dryRun = await generator.dryRun(quadlets, quadletDir, extra);
  switch (dryRun.status) {
    case "rejected":
      throw new CoreOpsError(Exit.dataErr, "validation", dryRun.diagnostics);
    case "ok":
      return {
        desired: withGeneratorNaming(desired, dryRun.generated ?? []),
        naming: { by: "generator", generator: dryRun.generator },
        dryRun,
      };
    case "skipped":
      return {
        desired: withBuiltInNaming(desired, templates),
        naming: { by: "built-in", templates, podmanVersion: podmanVersion ?? null },
        dryRun,
      };
  }
}
