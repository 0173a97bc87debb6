/**
 * User services on this host (SPEC §7), in two steps of a run. After read:
 * each login's uid from the host's user database, and its quadlets moved to
 * `<quadlet-dir>/users/<uid>/`, where Podman's user generator reads them.
 * Before the first write (apply, agent): every login exists, lingers, and its
 * manager `user@<uid>.service` runs — else the run fails, naming the login and
 * the fix, and nothing was changed.
 *
 * @module
 */
import { CoreOpsError, type Diagnostic, Exit } from "../errors.ts";
import { overriding, type Systemd } from "../host/systemd.ts";
import { LINGER_DIR, type UserEntry, type Users } from "../host/users.ts";
import {
  type Artifact,
  type DesiredState,
  type JsonScope,
  jsonScope,
  unitScope,
  userQuadletDir,
  type UserScope,
} from "../model.ts";
import { compare } from "../tree.ts";

/**
 * `users` asked once per login for the whole run: placement and the
 * preconditions want the same entries, and each lookup is a process.
 */
export function usersOnce(users: Users): Users {
  const known = new Map<string, UserEntry | null>();
  return {
    async lookup(logins) {
      const missing = logins.filter((l) => !known.has(l));
      if (missing.length > 0) {
        const found = await users.lookup(missing);
        for (const login of missing) known.set(login, found.get(login) ?? null);
      }
      const out = new Map<string, UserEntry>();
      for (const login of logins) {
        const entry = known.get(login);
        if (entry) out.set(login, entry);
      }
      return out;
    },
    lingers: (login) => users.lingers(login),
  };
}

/**
 * The `--json` scope of each of `units` (SPEC §7): `"system"`, or its login
 * with the uid the user database gives it now; one lookup for all of them.
 */
export async function unitScopes(
  units: Iterable<string>,
  users: Users,
): Promise<Map<string, JsonScope>> {
  const all = [...units];
  const logins = [...new Set(all.flatMap((u) => unitScope(u).login ?? []))];
  const found = await users.lookup(logins);
  return new Map(all.map((u) => [u, jsonScope(u, (login) => found.get(login)?.uid ?? null)]));
}

/** The logins of the user services of `desired`, sorted. */
export function loginsOf(desired: DesiredState): string[] {
  const logins = new Set<string>();
  for (const a of desired.artifacts) if (a.user) logins.add(a.user.login);
  return [...logins].sort(compare);
}

/**
 * `desired` with each user service's uid and gid filled in and its quadlets
 * under `users/<uid>/`. A login this host does not know keeps its name in the
 * path and gets a warning: `plan` still shows the rest; apply refuses it
 * ({@link requireUserManagers}).
 */
export async function placeUsers(
  desired: DesiredState,
  quadletDir: string,
  users: Users,
): Promise<DesiredState> {
  const logins = loginsOf(desired);
  if (logins.length === 0) return desired;
  const known = await users.lookup(logins);
  const warnings = [...desired.warnings];
  for (const login of logins) {
    if (known.has(login)) continue;
    warnings.push({
      message: `login ${login} does not exist on this host: its user services' quadlets are ` +
        `shown under ${quadletDir}/users/${login}/ instead of users/<uid>/`,
    });
  }
  const artifacts = desired.artifacts.map((a): Artifact => {
    if (!a.user) return a;
    const entry = known.get(a.user.login);
    const user: UserScope = {
      login: a.user.login,
      uid: entry?.uid ?? null,
      gid: entry?.gid ?? null,
    };
    const from = userQuadletDir(quadletDir, a.user) + "/";
    const destination = a.destination.startsWith(from)
      ? `${userQuadletDir(quadletDir, user)}/${a.destination.slice(from.length)}`
      : a.destination;
    return { ...a, user, destination };
  });
  return { ...desired, artifacts, warnings };
}

/**
 * Refuses the run before any write unless every login of `desired` exists,
 * lingers and has its manager running; one diagnostic per problem found.
 */
export async function requireUserManagers(
  desired: DesiredState,
  users: Users,
  systemd: Systemd,
): Promise<void> {
  const problems = await userManagerProblems(desired, users, systemd);
  if (problems.size > 0) {
    throw new CoreOpsError(Exit.failed, "plan", [...problems.values()], { blame: "host" });
  }
}

/**
 * `plan`'s view of the same preconditions: each problem is a warning, and the
 * managers of those logins are never asked — a login without lingering would
 * get a user manager started just for the question (`systemctl --user -M`
 * starts one), and an unknown login has none. Their units' states are unknown.
 * Off-host (no systemd) only an unknown login is known to be a problem.
 */
export async function planUserManagers(
  desired: DesiredState,
  users: Users,
  systemd: Systemd,
): Promise<{ desired: DesiredState; systemd: Systemd }> {
  if (loginsOf(desired).length === 0) return { desired, systemd };
  const problems = await userManagerProblems(desired, users, systemd);
  if (problems.size === 0) return { desired, systemd };
  const warnings = [...desired.warnings];
  for (const [login, d] of problems) {
    // placeUsers already warned about a login this host does not know.
    if (desired.artifacts.some((a) => a.user?.login === login && a.user.uid === null)) continue;
    warnings.push({ message: `${d.message}; its units' states are unknown (hint: ${d.hint})` });
  }
  return { desired: { ...desired, warnings }, systemd: withoutManagers(systemd, problems) };
}

/** `systemd` that never asks the managers of `logins` for their units. */
function withoutManagers(systemd: Systemd, logins: ReadonlyMap<string, unknown>): Systemd {
  const asked = (units: readonly string[]) =>
    units.filter((u) => !logins.has(unitScope(u).login ?? ""));
  return overriding(systemd, {
    states: (units) => systemd.states(asked(units)),
    instances: (templates) => systemd.instances(asked(templates)),
    show: (units, props) => systemd.show(asked(units), props),
  });
}

/**
 * What keeps each login of `desired` from running its units here, by login:
 * not in the user database, not lingering, or its manager not running (only
 * asked where systemd runs).
 */
async function userManagerProblems(
  desired: DesiredState,
  users: Users,
  systemd: Systemd,
): Promise<Map<string, Diagnostic>> {
  const problems = new Map<string, Diagnostic>();
  const logins = loginsOf(desired);
  if (logins.length === 0) return problems;
  const known = await users.lookup(logins);
  const managers = new Map<string, string>();
  for (const login of logins) {
    const entry = known.get(login);
    const where = serviceFileOf(desired, login);
    if (entry === undefined) {
      problems.set(login, {
        message: `login ${login} (user: of ${where}) does not exist on this host`,
        location: { file: where },
        hint: `create it with a subuid/subgid range (useradd ${login}, or passwd.users in ` +
          `the Butane config) and enable lingering for it`,
      });
    } else if (!(await users.lingers(login))) {
      problems.set(login, {
        message: `lingering is not enabled for ${login} (user: of ${where}): ` +
          `its systemd manager does not run without a session`,
        location: { file: where },
        hint: `loginctl enable-linger ${login}, or a Butane storage.files entry at ` +
          `${LINGER_DIR}/${login}`,
      });
    } else {
      managers.set(login, `user@${entry.uid}.service`);
    }
  }
  if (managers.size > 0 && await systemd.available()) {
    const states = await systemd.show([...managers.values()], ["ActiveState"]);
    for (const [login, unit] of managers) {
      const active = states.get(unit)?.ActiveState ?? "unknown";
      if (active === "active") continue;
      problems.set(login, {
        message: `${unit}, the systemd manager of ${login}, is ${active}`,
        hint: `systemctl start ${unit} (lingering starts it at boot); ` +
          `systemctl status ${unit} says why it is not running`,
      });
    }
  }
  return problems;
}

/** The service.yaml that names `login` (the first, for the message). */
function serviceFileOf(desired: DesiredState, login: string): string {
  const service = desired.artifacts.find((a) => a.user?.login === login)?.service;
  return service === undefined ? "a service.yaml" : `services/${service}/service.yaml`;
}
