/**
 * Destination claims (SPEC §1): every destination path and every systemd
 * unit has exactly one source. Two sources for one of them, a path that one
 * source deploys as a file and another as a directory, or a config file that
 * lands in a unit directory are refused, naming every source involved, before
 * anything is written.
 *
 * @module
 */
import type { Artifact, TargetDirs } from "../model.ts";
import type { Problems } from "./problems.ts";

/** Records an error for every destination or unit `artifacts` claim twice or in conflict. */
export function checkClaims(
  problems: Problems,
  artifacts: readonly Artifact[],
  dirs: TargetDirs,
): void {
  // A config root over a unit dir would deploy units the layout never judged.
  for (const a of artifacts) {
    if (a.kind !== "config") continue;
    for (const dir of [dirs.quadletDir, dirs.systemdUnitDir]) {
      if (a.destination.startsWith(dir + "/")) {
        problems.error(
          a.source,
          `config file would be deployed into ${dir}, a unit directory`,
          "choose a config-root in service.yaml that does not overlap the unit directories",
        );
      }
    }
  }

  const byDestination = new Map<string, Artifact>();
  const byUnit = new Map<string, Artifact>();
  for (const a of artifacts) {
    claim(problems, byDestination, a.destination, a, "destination", "rename one of them");
    // Drop-ins and config files extend or serve a unit; only unit files claim one.
    if (a.kind === "dropin" || a.kind === "config" || a.unit === null) continue;
    claim(problems, byUnit, a.unit, a, "unit", "rename one of them or change its ServiceName=");
  }
  // A path one source deploys as a file and another needs as a directory.
  for (const a of artifacts) {
    let slash = a.destination.lastIndexOf("/");
    while (slash > 0) {
      const above = byDestination.get(a.destination.slice(0, slash));
      if (above) {
        problems.error(
          a.source,
          `${above.destination} is a file from ${above.source} and a directory for ${a.source}`,
          "rename one of them",
        );
        break;
      }
      slash = a.destination.lastIndexOf("/", slash - 1);
    }
  }
}

/** Records `a` as the one source of `key`, or an error naming both sources. */
function claim(
  problems: Problems,
  owners: Map<string, Artifact>,
  key: string,
  a: Artifact,
  what: string,
  hint: string,
): void {
  const other = owners.get(key);
  if (other) {
    problems.error(
      a.source,
      `two sources for one ${what} ${key}: ${other.source} and ${a.source}`,
      hint,
    );
  } else {
    owners.set(key, a);
  }
}
