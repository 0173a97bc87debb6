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
  type Artifact,
  type DesiredState,
  type GeneratedUnit,
  isQuadletKind,
  namingForPodmanVersion,
  NEWEST_NAMING,
  type TemplateNaming,
  userQuadletDir,
  userUnit,
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
 * rejection is exit 65. The system's quadlets go through the system
 * generator, each login's through the user generator over its own dir (SPEC
 * §7), its units named `<login>:<unit>`. Without a generator, the built-in
 * naming for `podmanVersion` applies.
 */
export async function nameUnits(
  desired: DesiredState,
  quadletDir: string,
  generator: QuadletGenerator,
  podmanVersion: string | undefined,
  extra: readonly ExtraQuadletFile[] = [],
): Promise<NamedState> {
  const templates = templateNaming(podmanVersion); // a bad flag fails before any work
  const usersDir = `${quadletDir}/users/`;
  const sets = new Map<string | null, { dir: string; quadlets: Artifact[] }>();
  sets.set(null, { dir: quadletDir, quadlets: [] });
  for (const a of desired.artifacts) {
    if (
      !isQuadletKind(a.kind) && !(a.kind === "dropin" && a.destination.startsWith(quadletDir + "/"))
    ) {
      continue;
    }
    const login = a.user?.login ?? null;
    if (!sets.has(login)) {
      sets.set(login, { dir: userQuadletDir(quadletDir, a.user!), quadlets: [] });
    }
    sets.get(login)!.quadlets.push(a);
  }
  const results: { login: string | null; result: DryRunResult }[] = [];
  for (const [login, set] of sets) {
    // The system generator never reads users/; each user generator reads its own dir.
    const beside = extra.filter((e) =>
      login === null ? !e.path.startsWith(usersDir) : e.path.startsWith(set.dir + "/")
    );
    const result = await generator.dryRun(set.quadlets, set.dir, beside, { user: login !== null });
    results.push({ login, result });
  }
  const rejected = results.flatMap(({ result }) =>
    result.status === "rejected" ? result.diagnostics : []
  );
  if (rejected.length > 0) throw new CoreOpsError(Exit.dataErr, "validation", rejected);
  const system = results[0].result;
  if (system.status === "skipped") {
    return {
      desired: withBuiltInNaming(desired, templates),
      naming: { by: "built-in", templates, podmanVersion: podmanVersion ?? null },
      dryRun: system,
    };
  }
  const qualify = (login: string | null, unit: string) =>
    login === null ? unit : userUnit(login, unit);
  const units: string[] = [];
  const generated: GeneratedUnit[] = [];
  for (const { login, result } of results) {
    // Without the system generator there is none for users either: skipped above.
    if (result.status !== "ok") continue;
    units.push(...result.units.map((u) => qualify(login, u)));
    for (const g of result.generated ?? []) generated.push({ ...g, unit: qualify(login, g.unit) });
  }
  const dryRun: NamedState["dryRun"] = {
    status: "ok",
    generator: system.generator,
    units,
    generated,
  };
  return {
    desired: withGeneratorNaming(desired, generated),
    naming: { by: "generator", generator: system.generator },
    dryRun,
  };
}
