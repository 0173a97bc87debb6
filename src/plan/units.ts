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
  unitScope,
  userUnit,
} from "../model.ts";
import { compare } from "../tree.ts";
import { lastValue, parseUnitFile, splitList, type UnitFile, values } from "../source/unitfile.ts";
import { CoreOpsError, type Diagnostic, Exit } from "../errors.ts";

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
  /**
   * A native service with `Type=oneshot` and no `RemainAfterExit=yes`: it runs
   * to completion and is then inactive, so it is run when new or changed, never
   * because it is inactive, and verified by `Result=success` (SPEC §2).
   */
  oneshot: boolean;
  /**
   * A pod member with `StartWithPod=no`. The generator adds every other member
   * to its pod's `Wants=`/`Before=`, so starting the pod starts it; this one
   * only gets `BindsTo=`/`After=` on the pod and runs when something else
   * starts it. core-ops never starts it on its own (only restarts it while it
   * runs).
   */
  startsOnDemand: boolean;
}

/** `[Unit]` keys that order a unit after the units they name (`Before=` orders the other way). */
const ORDERING_KEYS = ["Requires", "Requisite", "BindsTo", "After"];

/** Derives {@link UnitInfo} for every unit among `artifacts`, in artifact order. */
export function describeUnits(artifacts: readonly Artifact[]): UnitInfo[] {
  const byUnit = new Map<string, Artifact[]>();
  for (const a of artifacts) {
    if (a.unit === null) continue;
    if (!byUnit.has(a.unit)) byUnit.set(a.unit, []);
    byUnit.get(a.unit)!.push(a);
  }
  // Quadlets refer to each other by file name (`db.volume`); units by unit name — both
  // within their own manager: a user unit's `db.volume` is that login's (SPEC §7).
  const unitOfFile = new Map<string, string>();
  const scoped = (login: string | null, name: string) =>
    login === null ? name : userUnit(login, name);
  for (const a of artifacts) {
    if (a.unit !== null && a.kind !== "dropin" && a.unitFile) {
      unitOfFile.set(scoped(a.user?.login ?? null, a.unitFile), a.unit);
    }
  }
  const resolveIn = (login: string | null) => (name: string): string | undefined => {
    const qualified = scoped(login, name);
    return unitOfFile.get(qualified) ?? (byUnit.has(qualified) ? qualified : undefined);
  };
  const managerOf = new Map<string, string | null>();

  const infos: UnitInfo[] = [];
  const activates = new Map<string, string[]>();
  const before = new Map<string, string[]>();
  for (const [unit, files] of byUnit) {
    const base = files.find((a) => a.kind !== "dropin");
    if (!base || base.kind === "dropin" || base.kind === "config") continue;
    const kind = base.kind;
    const login = base.user?.login ?? null;
    managerOf.set(unit, login);
    const resolve = resolveIn(login);
    const dropins = files.filter((a) => a.kind === "dropin").sort((a, b) =>
      compare(a.destination, b.destination)
    );
    const ordered = [base, ...dropins];
    const parsed = ordered.map((a) => parseUnitFile(new TextDecoder().decode(a.content)));
    const refs = isQuadletKind(kind)
      ? quadletReferences(parsed, QUADLET_SECTION[kind])
      : { units: [], paths: [] };
    for (const key of ORDERING_KEYS) {
      for (const value of values(parsed, "Unit", key)) refs.units.push(...splitList(value));
    }
    for (const value of values(parsed, "Unit", "Before")) {
      for (const name of splitList(value)) {
        (before.get(unit) ?? before.set(unit, []).get(unit)!).push(name);
      }
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
      // A bind of the whole root (node-exporter's `Volume=/:/host:ro`) observes the host, it
      // does not configure the container: it must not restart on every config change.
      configPaths: unique(
        [...refs.paths, ...serviceEnv].filter((p) => p.startsWith("/") && !/^\/+$/.test(p)),
      ),
      hasInstall: parsed.some((f) => f.sections.includes("Install")),
      triggeredBy: null,
      // A template file (`cache@.volume`) is a template whatever its unit is called: Podman 5.4
      // names that one `cache@-volume.service`, which systemd reads as an instance of
      // `cache@.service` and would happily start — and fail on the volume name "cache@".
      template: isTemplateUnit(unit) || isTemplateUnit(base.unitFile ?? unit),
      oneshot: kind === "service" &&
        lastValue(parsed, "Service", "Type") === "oneshot" &&
        !isYes(lastValue(parsed, "Service", "RemainAfterExit")),
      startsOnDemand: kind === "container" &&
        lastValue(parsed, "Container", "Pod") !== undefined &&
        isNo(lastValue(parsed, "Container", "StartWithPod")),
    });
    activates.set(
      unit,
      triggers(unitScope(unit).unit, kind, parsed).map((t) => resolve(t) ?? scoped(login, t)),
    );
  }

  const infoByUnit = new Map(infos.map((i) => [i.unit, i]));
  // `a` with `Before=b` orders `b` after `a`.
  for (const [unit, names] of before) {
    for (const name of names) {
      const other = infoByUnit.get(resolveIn(managerOf.get(unit) ?? null)(name) ?? "");
      if (other && other.unit !== unit && !other.dependsOn.includes(unit)) {
        other.dependsOn.push(unit);
      }
    }
  }
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
  // An automount always triggers the mount unit of its own name (systemd.automount(5)).
  if (kind === "automount") return [`${unit.slice(0, unit.lastIndexOf("."))}.mount`];
  if (kind !== "socket" && kind !== "timer" && kind !== "path") return [];
  const section = kind === "socket" ? "Socket" : kind === "timer" ? "Timer" : "Path";
  const explicit = values(parsed, section, kind === "socket" ? "Service" : "Unit");
  if (explicit.length > 0) return explicit;
  const stem = unit.slice(0, unit.lastIndexOf("."));
  if (kind === "socket") {
    const accept = values(parsed, "Socket", "Accept").at(-1);
    if (isYes(accept)) return [`${stem}@.service`];
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
    else if (ref.includes(".") && isQuadletKind(ref.slice(ref.lastIndexOf(".") + 1))) {
      units.push(ref);
    }
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

/** systemd's boolean true (`yes`, `true`, `on`, `1`). */
function isYes(value: string | undefined): boolean {
  return value !== undefined && /^(yes|true|on|1)$/i.test(value);
}

/** systemd's boolean false (`no`, `false`, `off`, `0`). */
function isNo(value: string | undefined): boolean {
  return value !== undefined && /^(no|false|off|0)$/i.test(value);
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

/**
 * Bring-up order (SPEC §2): a topological order over the units' real
 * dependencies, where among the units that are ready the lower kind tier
 * (image/build → volume/network → pod → container/kube → native) goes first,
 * then artifact order. A dependency cycle is refused (65, naming the units and
 * their files).
 */
export function bringUpOrder(units: readonly UnitInfo[]): UnitInfo[] {
  const position = new Map(units.map((u, i) => [u.unit, i]));
  const byUnit = new Map(units.map((u) => [u.unit, u]));
  const deps = new Map(units.map((u) => [u.unit, u.dependsOn.filter((d) => byUnit.has(d))]));
  const waiting = new Map(units.map((u) => [u.unit, new Set(deps.get(u.unit))]));
  const dependents = new Map<string, string[]>();
  for (const [unit, ds] of deps) {
    for (const d of ds) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(unit);
  }
  // A unit something of an earlier tier needs is pulled up to that tier, so
  // the tiers hold wherever the dependencies let them.
  const tier = new Map(units.map((u) => [u.unit, BRING_UP_TIER[u.kind]]));
  for (let changed = true; changed;) {
    changed = false;
    for (const [unit, ds] of deps) {
      for (const d of ds) {
        if (tier.get(d)! > tier.get(unit)!) {
          tier.set(d, tier.get(unit)!);
          changed = true;
        }
      }
    }
  }
  const before = (a: UnitInfo, b: UnitInfo) =>
    tier.get(a.unit)! - tier.get(b.unit)! ||
    BRING_UP_TIER[a.kind] - BRING_UP_TIER[b.kind] ||
    position.get(a.unit)! - position.get(b.unit)!;
  // The ready list stays sorted from `head` on: a unit that becomes ready is
  // inserted in place (binary search) rather than re-sorting the whole list
  // per step, which was quadratic for thousands of units (bench/, issue 11).
  const ready = units.filter((u) => waiting.get(u.unit)!.size === 0).sort(before);
  let head = 0;
  const sorted: UnitInfo[] = [];
  while (head < ready.length) {
    const next = ready[head++];
    sorted.push(next);
    for (const dependent of dependents.get(next.unit) ?? []) {
      const w = waiting.get(dependent)!;
      w.delete(next.unit);
      if (w.size > 0) continue;
      const unit = byUnit.get(dependent)!;
      let lo = head;
      let hi = ready.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (before(ready[mid], unit) < 0) lo = mid + 1;
        else hi = mid;
      }
      ready.splice(lo, 0, unit);
    }
  }
  if (sorted.length < units.length) {
    const stuck = units.filter((u) => waiting.get(u.unit)!.size > 0);
    throw new CoreOpsError(Exit.dataErr, "validation", [cycleDiagnostic(stuck, deps, byUnit)]);
  }
  return sorted;
}

/** Tear-down order: the reverse of {@link bringUpOrder}. */
export function tearDownOrder(units: readonly UnitInfo[]): UnitInfo[] {
  return bringUpOrder(units).reverse();
}

/** Names one dependency cycle among `stuck` (units left waiting on each other). */
function cycleDiagnostic(
  stuck: readonly UnitInfo[],
  deps: ReadonlyMap<string, string[]>,
  byUnit: ReadonlyMap<string, UnitInfo>,
): Diagnostic {
  const inStuck = new Set(stuck.map((u) => u.unit));
  // Walk dependencies inside the stuck set until a unit repeats: that stretch is a cycle.
  const path: string[] = [];
  let current = stuck[0].unit;
  while (!path.includes(current)) {
    path.push(current);
    current = deps.get(current)!.find((d) => inStuck.has(d))!;
  }
  const cycle = [...path.slice(path.indexOf(current)), current];
  const files = cycle.slice(0, -1).map((u) => byUnit.get(u)!.artifacts[0].source);
  return {
    message: `dependency cycle: ${cycle.join(" → ")} (each needs the next started first)`,
    location: { file: files[0] },
    hint: `break the cycle in one of: ${files.join(", ")} (Requires=/After=/Before=, ` +
      "Volume=, Network=, Pod=, Image=)",
  };
}
