/**
 * Turns the deployed services into {@link Artifact}s: one per unit file,
 * drop-in and config file, each with its destination under the target dirs,
 * its unit name and its content hash. Quadlets are named here from their
 * `ServiceName=` the way Podman names them, so two sources of one unit can be
 * told apart before anything is written.
 *
 * @module
 */
import { sha256 } from "../digest.ts";
import {
  type Artifact,
  IDENTIFIER,
  isQuadletKind,
  QUADLET_SECTION,
  quadletUnitName,
  type TargetDirs,
  userQuadletDir,
  type UserScope,
  userUnit,
} from "../model.ts";
import { checkDropinOrder } from "./host.ts";
import type { Problems } from "./problems.ts";
import type { ServiceSource, UnitSource } from "./service.ts";
import { compare, type FileEntry } from "../tree.ts";
import { lastValue, parseUnitFile } from "./unitfile.ts";

/**
 * The artifacts of `services`, in a stable order: per service its units by
 * source path (each followed by its drop-ins), then its config files by path,
 * then its secrets by path.
 */
export function buildArtifacts(
  problems: Problems,
  services: readonly ServiceSource[],
  dirs: TargetDirs,
): Artifact[] {
  const artifacts: Artifact[] = [];
  for (const service of services) {
    const start = artifacts.length;
    for (
      const unit of [...service.units.values()].sort((a, b) => compare(a.entry.path, b.entry.path))
    ) {
      artifacts.push(...unitArtifacts(problems, service, unit, dirs));
    }
    for (const rel of [...service.config.keys()].sort(compare)) {
      const { entry, origin } = service.config.get(rel)!;
      artifacts.push(artifact(entry, {
        service: service.id,
        kind: "config",
        destination: `${dirs.configDir}/${service.configRoot}/${rel}`,
        unit: null,
        // A config file others may not read (a secret) stays unreadable to them on the host.
        mode: entry.worldReadable ? 0o644 : 0o600,
        origin,
      }));
    }
    for (const rel of [...service.secrets.keys()].sort(compare)) {
      const { entry, origin } = service.secrets.get(rel)!;
      artifacts.push(artifact(entry, {
        service: service.id,
        kind: "config",
        destination: `${dirs.configDir}/${service.configRoot}/${rel}`,
        unit: null,
        // 0600 from the moment it is created: the temp file is opened with this mode.
        mode: 0o600,
        origin,
        // Until the host decrypts it, the artifact carries the age file (SPEC §6).
        secret: { decrypted: false },
      }));
    }
    if (service.user !== null) {
      const user: UserScope = { login: service.user, uid: null, gid: null };
      for (let i = start; i < artifacts.length; i++) artifacts[i] = { ...artifacts[i], user };
    }
  }
  return artifacts;
}

/** The artifacts of one unit file: the unit, then its base drop-ins, then the host's. */
function unitArtifacts(
  problems: Problems,
  service: ServiceSource,
  unit: UnitSource,
  dirs: TargetDirs,
): Artifact[] {
  const dir = unit.payload !== "quadlet"
    ? dirs.systemdUnitDir
    : service.user === null
    ? dirs.quadletDir
    // The login stands in for its uid until the run looks it up (src/run/users.ts).
    : userQuadletDir(dirs.quadletDir, { login: service.user, uid: null, gid: null });
  const byName = (a: { name: string }, b: { name: string }) => compare(a.name, b.name);
  // Artifacts list base drop-ins, then the host's (SPEC §1) ...
  const base = unit.dropins.filter((d) => d.origin === "service").sort(byName);
  const host = unit.dropins.filter((d) => d.origin === "host").sort(byName);
  const dropins = [...base, ...host];
  checkDropinOrder(problems, base, host);
  let unitName = unit.file;
  if (isQuadletKind(unit.kind)) {
    // ... while the generator applies them all in file-name order.
    const merged = [unit.entry, ...[...unit.dropins].sort(byName).map((d) => d.entry)];
    const serviceName = lastValue(
      merged.map((e) => parseUnitFile(text(e))),
      QUADLET_SECTION[unit.kind],
      "ServiceName",
    );
    if (serviceName !== undefined && !IDENTIFIER.test(serviceName)) {
      problems.error(unit.entry.path, `invalid ServiceName="${serviceName}"`);
    }
    unitName = quadletUnitName(unit.stem, unit.kind, serviceName);
  }
  if (service.user !== null) unitName = userUnit(service.user, unitName);
  const common = { service: service.id, unit: unitName, mode: 0o644, unitFile: unit.file };
  return [
    artifact(unit.entry, {
      ...common,
      kind: unit.kind,
      destination: `${dir}/${unit.file}`,
      origin: "service",
    }),
    ...dropins.map((d) =>
      artifact(d.entry, {
        ...common,
        kind: "dropin",
        destination: `${dir}/${unit.file}.d/${d.name}`,
        origin: d.origin,
      })
    ),
  ];
}

/** The content of a unit file for reading `ServiceName=`; its UTF-8 was judged when it was read. */
function text(entry: FileEntry): string {
  return new TextDecoder().decode(entry.content ?? new Uint8Array());
}

/** One artifact of `entry`, with the content and its hash the planner compares with the host. */
function artifact(
  entry: FileEntry,
  fields: Omit<Artifact, "source" | "sha256" | "content">,
): Artifact {
  const content = entry.content ?? new Uint8Array();
  return {
    ...fields,
    source: entry.path,
    sha256: sha256(content),
    content,
  };
}
