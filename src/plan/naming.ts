/**
 * Which systemd unit each quadlet becomes (SPEC §2): on a host Podman's own
 * generator decides (each unit it prints names its `SourcePath=`); off-host
 * core-ops' built-in naming stands in for it, following the Podman version the
 * operator names. Pure: both re-label a desired state's quadlet artifacts and
 * their drop-ins, and refuse two quadlets that end up with one unit.
 *
 * @module
 */
import { CoreOpsError, type Diagnostic, Exit } from "../errors.ts";
import {
  type Artifact,
  type DesiredState,
  type GeneratedUnit,
  isQuadletKind,
  QUADLET_SECTION,
  quadletUnitName,
  type TemplateNaming,
  userUnit,
} from "../model.ts";
import { compare } from "../tree.ts";
import { lastValue, parseUnitFile } from "../source/unitfile.ts";

/** Which naming a plan's units follow; `plan --json` shows it as `naming`. */
export type Naming =
  | {
    /** The generator's dry-run on this host named the units. */
    by: "generator";
    /** The generator that ran. */
    generator: string;
  }
  | {
    /** core-ops' built-in naming (off-host, or no generator installed). */
    by: "built-in";
    /** The template naming assumed. */
    templates: TemplateNaming;
    /** The `--podman-version` it follows; `null` for the default (the newest Podman). */
    podmanVersion: string | null;
  };

/** One line for people: which naming a plan assumed. */
export function describeNaming(naming: Naming): string {
  if (naming.by === "generator") {
    return `unit names from the quadlet generator (${naming.generator})`;
  }
  const example = naming.templates === "podman>=5.7"
    ? "foo-volume@.service"
    : "foo@-volume.service";
  const version = naming.podmanVersion === null
    ? "the newest Podman (pass --podman-version to match a host)"
    : `Podman ${naming.podmanVersion}`;
  return `unit names built in, as ${version} names them (template foo@.volume → ${example})`;
}

/**
 * Re-labels each quadlet (and its drop-ins) with the unit its base file gets
 * under the built-in naming `templates`, `ServiceName=` included.
 */
export function withBuiltInNaming(desired: DesiredState, templates: TemplateNaming): DesiredState {
  const units = new Map<string, string>();
  for (const group of quadletGroups(desired.artifacts)) {
    const { base } = group;
    if (!isQuadletKind(base.kind) || !base.unitFile) continue;
    // The generator applies drop-ins in file-name order, whatever their origin.
    const files = [base, ...group.dropins].map((a) =>
      parseUnitFile(new TextDecoder().decode(a.content))
    );
    const serviceName = lastValue(files, QUADLET_SECTION[base.kind], "ServiceName");
    const stem = base.unitFile.slice(0, base.unitFile.lastIndexOf("."));
    const unit = quadletUnitName(stem, base.kind, serviceName, templates);
    units.set(base.destination, base.user ? userUnit(base.user.login, unit) : unit);
  }
  return relabel(desired, units, "built-in naming");
}

/**
 * Re-labels each quadlet (and its drop-ins) with the unit the generator made
 * from it. A quadlet the generator produced nothing for keeps its built-in
 * name (the dry-run's judgement reports it). A unit that a file core-ops does
 * not deploy also produces (a hand-placed quadlet) is refused like two sources.
 */
export function withGeneratorNaming(
  desired: DesiredState,
  generated: readonly GeneratedUnit[],
): DesiredState {
  const units = new Map<string, string>();
  for (const g of generated) if (g.source !== null) units.set(g.source, g.unit);
  const relabeled = relabel(desired, units, "the quadlet generator");
  const ours = new Map<string, Artifact>();
  for (const a of relabeled.artifacts) {
    if (isQuadletKind(a.kind) && a.unit !== null) ours.set(a.unit, a);
  }
  const deployed = new Set(relabeled.artifacts.map((a) => a.destination));
  const clashes: Diagnostic[] = [];
  for (const g of generated) {
    const mine = ours.get(g.unit);
    if (!mine || g.source === null || deployed.has(g.source)) continue;
    clashes.push({
      message:
        `the quadlet generator also makes ${g.unit} from ${g.source}, a file core-ops does not deploy`,
      location: { file: mine.source },
      hint: `remove ${g.source} or change one of the two files' ServiceName=`,
    });
  }
  if (clashes.length > 0) throw new CoreOpsError(Exit.dataErr, "validation", clashes);
  return relabeled;
}

interface QuadletGroup {
  base: Artifact;
  /** Its drop-ins in file-name order (how the generator applies them). */
  dropins: Artifact[];
}

/** Each quadlet base file with its drop-ins. */
function quadletGroups(artifacts: readonly Artifact[]): QuadletGroup[] {
  // Drop-ins by each path `p` they lie under as `p.d/…`: one pass, not a scan
  // of every artifact per quadlet (quadratic in the repo size; bench/, issue 11).
  const under = new Map<string, Artifact[]>();
  for (const d of artifacts) {
    if (d.kind !== "dropin") continue;
    for (let i = d.destination.indexOf(".d/"); i >= 0; i = d.destination.indexOf(".d/", i + 1)) {
      const key = d.destination.slice(0, i);
      const list = under.get(key);
      if (list) list.push(d);
      else under.set(key, [d]);
    }
  }
  const groups: QuadletGroup[] = [];
  for (const base of artifacts) {
    if (!isQuadletKind(base.kind)) continue;
    const dropins = [...(under.get(base.destination) ?? [])]
      .sort((a, b) => compare(a.destination, b.destination));
    groups.push({ base, dropins });
  }
  return groups;
}

/**
 * Sets the unit of each quadlet base at a destination of `units`, and of its
 * drop-ins; refuses two quadlets with one unit (65, naming both files).
 */
function relabel(
  desired: DesiredState,
  units: ReadonlyMap<string, string>,
  authority: string,
): DesiredState {
  const unitOf = new Map<string, string>();
  for (const { base, dropins } of quadletGroups(desired.artifacts)) {
    const unit = units.get(base.destination);
    if (unit === undefined) continue;
    unitOf.set(base.destination, unit);
    for (const d of dropins) unitOf.set(d.destination, unit);
  }
  const artifacts = desired.artifacts.map((a) => {
    const unit = unitOf.get(a.destination);
    return unit === undefined || unit === a.unit ? a : { ...a, unit };
  });
  const owner = new Map<string, Artifact>();
  const clashes: Diagnostic[] = [];
  for (const a of artifacts) {
    if (a.kind === "dropin" || a.kind === "config" || a.unit === null) continue;
    const other = owner.get(a.unit);
    if (other) {
      clashes.push({
        message:
          `two sources for one unit ${a.unit} (under ${authority}): ${other.source} and ${a.source}`,
        location: { file: a.source },
        hint: "rename one of them or change its ServiceName=",
      });
    } else {
      owner.set(a.unit, a);
    }
  }
  if (clashes.length > 0) throw new CoreOpsError(Exit.dataErr, "validation", clashes);
  return { ...desired, artifacts };
}
