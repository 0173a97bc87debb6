/**
 * Facts about the desired units, read from the unit files themselves: which
 * units each one needs (for bring-up order), which config files it mounts (for
 * "restart what changed"), whether it starts at boot, and what triggers it.
 *
 * @module
 */
import {
  type Artifact,
  BRING_UP_TIER,
  isQuadletKind,
  isTemplateUnit,
  QUADLET_SECTION,
  type UnitKind,
} from "../model.ts";
import { compare } from "../source/tree.ts";
import { parseUnitFile, splitList, type UnitFile, values } from "../source/unitfile.ts";

/** One desired systemd unit and what the planner needs to know about it. */
export interface UnitInfo {
  /** The systemd unit name, e.g. `web.service` for `web.container`. */
  unit: string;
  kind: UnitKind;
  service: string;
  /** The unit file name in the repo, e.g. `web.container`. */
  file: string;
  /** The unit file followed by its drop-ins, in the order the generator applies them. */
  artifacts: Artifact[];
  /** Desired units this one needs started first. */
  dependsOn: string[];
  /** Absolute host paths this unit mounts or reads (bind mounts, `EnvironmentFile=`, `Yaml=`). */
  configPaths: string[];
  /** Whether any file of the unit has an `[Install]` section. */
  hasInstall: boolean;
  /** A desired socket, timer or path unit that activates this one. */
  triggeredBy: string | null;
  /** `foo@.service`: never started by name. */
  template: boolean;
}

const UNIT_DEPENDENCY_KEYS = [
  "Requires",
  "Wants",
  "After",
  "BindsTo",
  "Requisite",
  "PartOf",
  "Upholds",
];

/** Derives {@link UnitInfo} for every unit among `artifacts`, in artifact order. */
export function describeUnits(artifacts: readonly Artifact[]): UnitInfo[] {
  const byUnit = new Map<string, Artifact[]>();
  for (const a of artifacts) {
    if (a.unit === null) continue;
    if (!byUnit.has(a.unit)) byUnit.set(a.unit, []);
    byUnit.get(a.unit)!.push(a);
  }
  // Quadlets refer to each other by file name (`db.volume`); units by unit name.
  const unitOfFile = new Map<string, string>();
  for (const a of artifacts) {
    if (a.unit !== null && a.kind !== "dropin" && a.unitFile) unitOfFile.set(a.unitFile, a.unit);
  }
  const resolve = (name: string): string | undefined =>
    unitOfFile.get(name) ?? (byUnit.has(name) ? name : undefined);

  const infos: UnitInfo[] = [];
  const activates = new Map<string, string[]>();
  for (const [unit, files] of byUnit) {
    const base = files.find((a) => a.kind !== "dropin");
    if (!base || base.kind === "dropin" || base.kind === "config") continue;
    const kind = base.kind;
    const dropins = files.filter((a) => a.kind === "dropin").sort((a, b) =>
      compare(a.destination, b.destination)
    );
    const ordered = [base, ...dropins];
    const parsed = ordered.map((a) => parseUnitFile(new TextDecoder().decode(a.content)));
    const refs = isQuadletKind(kind)
      ? quadletReferences(parsed, QUADLET_SECTION[kind])
      : { units: [], paths: [] };
    for (const key of UNIT_DEPENDENCY_KEYS) {
      for (const value of values(parsed, "Unit", key)) refs.units.push(...splitList(value));
    }
    const serviceEnv = values(parsed, "Service", "EnvironmentFile").map(stripOptional);
    const dependsOn = unique(
      refs.units.map(resolve).filter((u): u is string => u !== undefined && u !== unit),
    );
    infos.push({
      unit,
      kind,
      service: base.service,
      file: base.unitFile ?? unit,
      artifacts: ordered,
      dependsOn,
      configPaths: unique([...refs.paths, ...serviceEnv].filter((p) => p.startsWith("/"))),
      hasInstall: parsed.some((f) => f.sections.includes("Install")),
      triggeredBy: null,
      template: isTemplateUnit(unit),
    });
    activates.set(unit, triggers(unit, kind, parsed));
  }

  const infoByUnit = new Map(infos.map((i) => [i.unit, i]));
  for (const info of infos) {
    for (const target of activates.get(info.unit)!) {
      const triggered = infoByUnit.get(target);
      if (triggered && triggered.triggeredBy === null) triggered.triggeredBy = info.unit;
    }
  }
  return infos;
}

/** Units a socket, timer or path unit activates, by systemd's defaults and explicit keys. */
function triggers(unit: string, kind: UnitKind, parsed: UnitFile[]): string[] {
  if (kind !== "socket" && kind !== "timer" && kind !== "path") return [];
  const section = kind === "socket" ? "Socket" : kind === "timer" ? "Timer" : "Path";
  const explicit = values(parsed, section, kind === "socket" ? "Service" : "Unit");
  if (explicit.length > 0) return explicit;
  const stem = unit.slice(0, unit.lastIndexOf("."));
  if (kind === "socket") {
    const accept = values(parsed, "Socket", "Accept").at(-1);
    if (accept !== undefined && /^(yes|true|on|1)$/i.test(accept)) return [`${stem}@.service`];
  }
  return [`${stem}.service`];
}

/**
 * Other quadlets and host paths a quadlet refers to: `Volume=x.volume:/d`,
 * `Network=x.network`, `Pod=x.pod`, `Image=x.image`, `Mount=…source=…`, bind
 * mounts of host paths, `EnvironmentFile=`, and a kube's `Yaml=`/`ConfigMap=`.
 */
function quadletReferences(
  files: UnitFile[],
  section: string,
): { units: string[]; paths: string[] } {
  const units: string[] = [];
  const paths: string[] = [];
  const add = (ref: string) => {
    if (ref.startsWith("/")) paths.push(ref);
    else if (/\.(volume|network|pod|image|build|container|kube)$/.test(ref)) units.push(ref);
  };
  for (const v of values(files, section, "Volume")) add(v.split(":")[0]);
  for (const v of values(files, section, "Network")) add(v.split(":")[0]);
  for (const key of ["Pod", "Image"]) for (const v of values(files, section, key)) add(v);
  for (const key of ["EnvironmentFile", "Yaml", "ConfigMap"]) {
    for (const v of values(files, section, key)) add(stripOptional(v));
  }
  for (const v of values(files, section, "Mount")) {
    for (const option of v.split(",")) {
      const [name, value] = option.split("=", 2);
      if ((name === "source" || name === "src") && value) add(value);
    }
  }
  return { units, paths };
}

/** `EnvironmentFile=-/path` marks the file optional; the path is what matters here. */
function stripOptional(path: string): string {
  return path.startsWith("-") ? path.slice(1) : path;
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/** Whether a config file at `destination` is one of `paths` or lies below one of them. */
export function mountsPath(paths: readonly string[], destination: string): boolean {
  return paths.some((p) => {
    const dir = p.endsWith("/") ? p.slice(0, -1) : p;
    return destination === dir || destination.startsWith(dir + "/");
  });
}

/** Bring-up order: tiers (SPEC §2), then dependencies within a tier, then artifact order. */
export function bringUpOrder(units: readonly UnitInfo[]): UnitInfo[] {
  const position = new Map(units.map((u, i) => [u.unit, i]));
  const byUnit = new Map(units.map((u) => [u.unit, u]));
  const sorted: UnitInfo[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  // Depth-first over dependencies in the same or an earlier tier; a cycle is left to systemd.
  const visit = (u: UnitInfo) => {
    if (done.has(u.unit) || visiting.has(u.unit)) return;
    visiting.add(u.unit);
    for (const dep of u.dependsOn) {
      const d = byUnit.get(dep);
      if (d && BRING_UP_TIER[d.kind] <= BRING_UP_TIER[u.kind]) visit(d);
    }
    visiting.delete(u.unit);
    done.add(u.unit);
    sorted.push(u);
  };
  const byTier = [...units].sort((a, b) =>
    BRING_UP_TIER[a.kind] - BRING_UP_TIER[b.kind] || position.get(a.unit)! - position.get(b.unit)!
  );
  for (const tier of new Set(byTier.map((u) => BRING_UP_TIER[u.kind]))) {
    for (const u of byTier) if (BRING_UP_TIER[u.kind] === tier) visit(u);
  }
  return sorted;
}
