/**
 * The data model shared by the loader, the planner and the renderers.
 *
 * An {@link Artifact} is one file core-ops deploys: where it comes from in the
 * source repository, where it goes on the host, the systemd unit it belongs
 * to, and its content.
 *
 * @module
 */

/** Quadlet file kinds, deployed to the quadlet dir and turned into units by Podman's generator. */
export const QUADLET_KINDS = [
  "container",
  "volume",
  "network",
  "pod",
  "kube",
  "image",
  "build",
] as const;
/** A quadlet file kind. */
export type QuadletKind = (typeof QUADLET_KINDS)[number];

const QUADLET_FILE = new RegExp(`\\.(${QUADLET_KINDS.join("|")})$`);
const QUADLET_DROPIN = new RegExp(`\\.(${QUADLET_KINDS.join("|")})\\.d/[^/]+\\.conf$`);

/** Whether a path names a quadlet file (`x.container`) or a quadlet drop-in (`x.container.d/a.conf`). */
export function isQuadletFileName(path: string): boolean {
  return QUADLET_FILE.test(path) || QUADLET_DROPIN.test(path);
}

/** Native systemd unit kinds, deployed to the systemd unit dir as they are. */
export const NATIVE_KINDS = [
  "socket",
  "service",
  "timer",
  "target",
  "mount",
  "automount",
  "path",
] as const;
/** A native systemd unit kind. */
export type NativeKind = (typeof NATIVE_KINDS)[number];

/** A unit file kind: quadlet or native. */
export type UnitKind = QuadletKind | NativeKind;

/** Every artifact kind of `plan --json` (SPEC §3). */
export type ArtifactKind = UnitKind | "dropin" | "config";

/** Whether `kind` is a quadlet kind. */
export function isQuadletKind(kind: string): kind is QuadletKind {
  return (QUADLET_KINDS as readonly string[]).includes(kind);
}

/** Whether `kind` is a native systemd unit kind. */
export function isNativeKind(kind: string): kind is NativeKind {
  return (NATIVE_KINDS as readonly string[]).includes(kind);
}

/** Identifiers: service, host, unit stem (SPEC §1). */
export const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9@._-]*$/;

/**
 * Bring-up tier of each unit kind (SPEC §2): image/build → volume/network →
 * pod → container/kube → native units. Tear-down walks the tiers in reverse.
 */
export const BRING_UP_TIER: Readonly<Record<UnitKind, number>> = {
  image: 0,
  build: 0,
  volume: 1,
  network: 1,
  pod: 2,
  container: 3,
  kube: 3,
  socket: 4,
  service: 4,
  timer: 4,
  target: 4,
  mount: 4,
  automount: 4,
  path: 4,
};

/** The section of a quadlet file that holds its kind's keys, e.g. `[Container]`. */
export const QUADLET_SECTION: Readonly<Record<QuadletKind, string>> = {
  container: "Container",
  volume: "Volume",
  network: "Network",
  pod: "Pod",
  kube: "Kube",
  image: "Image",
  build: "Build",
};

/**
 * How Podman names the unit of a template volume, network, pod, image or
 * build quadlet (`foo@.volume`). Podman before 5.7 appends the kind suffix to
 * the stem, `@` included (`foo@-volume.service`); 5.7 and later keep the unit a
 * template (`foo-volume@.service`) — containers/podman commit 83e65f91a4
 * ("Quadlet - Support template dependency"), first released in v5.7.0.
 */
export type TemplateNaming = "podman<5.7" | "podman>=5.7";

/** The naming of the newest Podman: the default off-host (SPEC §2). */
export const NEWEST_NAMING: TemplateNaming = "podman>=5.7";

/**
 * The template naming of a Podman version (`5.4.2`, `5.7`, `v4.9.3`), or
 * `null` when `version` is not a version number.
 */
export function namingForPodmanVersion(version: string): TemplateNaming | null {
  const match = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+~][0-9A-Za-z.~+-]*)?$/.exec(version.trim());
  if (!match) return null;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 5 || (major === 5 && minor >= 7) ? "podman>=5.7" : "podman<5.7";
}

/**
 * The systemd unit Podman's generator makes from a quadlet file, following its
 * naming: `x.container`→`x.service`, `x.volume`→`x-volume.service`, … A
 * `ServiceName=` in the quadlet (or its drop-ins) replaces the whole stem. A
 * template (`x@.volume`) is named per `naming`; containers and kubes are
 * `x@.service` either way.
 */
export function quadletUnitName(
  stem: string,
  kind: QuadletKind,
  serviceName?: string,
  naming: TemplateNaming = NEWEST_NAMING,
): string {
  if (serviceName) return `${serviceName}.service`;
  switch (kind) {
    case "container":
    case "kube":
      return `${stem}.service`;
    default:
      if (naming === "podman>=5.7" && stem.endsWith("@")) {
        return `${stem.slice(0, -1)}-${kind}@.service`;
      }
      return `${stem}-${kind}.service`;
  }
}

/** Whether `unit` is a template (`echo@.service`): only its instances run and have a state. */
export function isTemplateUnit(unit: string): boolean {
  return /@\.[a-z]+$/.test(unit);
}

/** Where an artifact's source lies: the shared service tree or a host overlay. */
export type Origin = "service" | "host";

/** One file core-ops deploys. */
export interface Artifact {
  /** The service it belongs to. */
  service: string;
  kind: ArtifactKind;
  /** Repo-relative source path (POSIX separators). */
  source: string;
  /** Absolute destination path on the host. */
  destination: string;
  /** The systemd unit this artifact belongs to; `null` for config files. */
  unit: string | null;
  /** Hex sha256 of {@link content}. */
  sha256: string;
  /** File mode to write: 0o644, or 0o600 for config files that are not world-readable in the repo. */
  mode: number;
  origin: Origin;
  /** For unit files and drop-ins: the unit file name (`web.container`) the artifact defines or extends. */
  unitFile?: string;
  /** The exact bytes to deploy. */
  content: Uint8Array;
  /**
   * Set for a secret (`secrets/<rel>.age`, SPEC §6; kind `config`, mode
   * 0600). Until the host decrypts it, `content` is the age file and `sha256`
   * the age file's sha256; once decrypted (src/run/decrypt.ts), `content` is
   * the plaintext and `sha256` its keyed digest — never a plain hash of it.
   */
  secret?: SecretState;
  /**
   * Set for every artifact of a user service (`user:` in service.yaml, SPEC
   * §7): its quadlets run under that login's own systemd manager. The uid and
   * gid come from the host's user database once the run looked the login up
   * (src/run/users.ts); `null` until then, or off-host for an unknown login.
   */
  user?: UserScope;
}

/** The login whose systemd manager runs a user service's units. */
export interface UserScope {
  login: string;
  uid: number | null;
  gid: number | null;
}

/**
 * Who owns an artifact's file on the host, when not root: a user service's
 * private files (secrets and config that is not world-readable, mode 0600)
 * belong to its login, so its rootless containers can read them (SPEC §7).
 * Everything else stays root's: readable by the user, never changeable.
 */
export function artifactOwner(a: Artifact): { uid: number; gid: number } | undefined {
  if (a.kind !== "config" || a.mode !== 0o600) return undefined;
  if (a.user?.uid == null || a.user.gid == null) return undefined;
  return { uid: a.user.uid, gid: a.user.gid };
}

/**
 * Where a login's quadlets go: `<quadlet-dir>/users/<uid>/`, read by Podman's
 * user generator and root-owned, so the user cannot change what Git says.
 * Until the uid is known (loaded, not yet looked up) the login stands in.
 */
export function userQuadletDir(quadletDir: string, user: UserScope): string {
  return `${quadletDir}/users/${user.uid ?? user.login}`;
}

/**
 * A user unit is named `<login>:<unit>` everywhere (plan, state, output): the
 * colon never occurs in a systemd unit name, so one string says both which
 * manager and which unit.
 */
export function userUnit(login: string, unit: string): string {
  return `${login}:${unit}`;
}

/** The manager a (possibly `<login>:`-qualified) unit name belongs to, and the bare unit. */
export function unitScope(unit: string): { login: string | null; unit: string } {
  const colon = unit.indexOf(":");
  return colon < 0
    ? { login: null, unit }
    : { login: unit.slice(0, colon), unit: unit.slice(colon + 1) };
}

/** The target of a plan's `reload`: `daemon-reload` of PID 1, `<login>:daemon-reload` of a user's. */
export function reloadTarget(login: string | null): string {
  return login === null ? DAEMON_RELOAD : userUnit(login, DAEMON_RELOAD);
}

/** The reload target of the system manager. */
export const DAEMON_RELOAD = "daemon-reload";

/** The `scope` of a unit in `--json` (SPEC §7): `"system"`, or the login and its uid. */
export type JsonScope = "system" | { user: string; uid: number | null };

/** The JSON scope of `unit`, with the uid of its login from `uidOf` when known. */
export function jsonScope(
  unit: string | null,
  uidOf: (login: string) => number | null,
): JsonScope {
  const { login } = unitScope(unit ?? "");
  return login === null ? "system" : { user: login, uid: uidOf(login) };
}

/** A secret artifact's age file, before and after the host decrypted it. */
export type SecretState =
  | { decrypted: false }
  | {
    decrypted: true;
    /** The age file, as in the repository: what the objects store keeps. */
    ciphertext: Uint8Array;
    /** sha256 of {@link ciphertext}. */
    ciphertextSha256: string;
  };

/** Where core-ops deploys to (SPEC §1 destinations). */
export interface TargetDirs {
  quadletDir: string;
  systemdUnitDir: string;
  configDir: string;
}

/** A warning for the operator; never fails a run. */
export interface Warning {
  message: string;
  /** Repo-relative file the warning is about, when there is one. */
  file?: string;
}

/** The desired state for one host, as loaded from the source repository. */
export interface DesiredState {
  /** The host id the state was selected for, or `null` for a repo without `hosts/`. */
  host: string | null;
  /** Deployed services, in deployment order. */
  services: string[];
  /** Every artifact, in deterministic order. */
  artifacts: Artifact[];
  warnings: Warning[];
}

/** One unit Podman's generator produced, paired with the quadlet file it came from. */
export interface GeneratedUnit {
  /** The generated unit's name, e.g. `web.service`. */
  unit: string;
  /** The quadlet's path on the host (its `SourcePath=`), or `null` when the generator named none. */
  source: string | null;
}

/** The operations a plan may contain. */
export type Op =
  | "pull"
  | "write"
  | "remove"
  | "reload"
  | "start"
  | "restart"
  | "stop"
  | "reset-failed";

/** One step of a plan: `target` is a path for write/remove, an image for pull, a unit otherwise. */
export interface Action {
  op: Op;
  target: string;
  reason: string;
  /** For `pull`: Podman's pull policy, the container's `Pull=` (default missing). */
  policy?: PullPolicy;
  /** For `pull` of a user service's image: the login whose image store it goes to. */
  user?: string;
}

/** The `Pull=` policies that pull at all (`never` does not). */
export type PullPolicy = "always" | "missing" | "newer";

/** A unit's state as systemd reports it. */
export interface UnitState {
  /** `LoadState`: loaded, not-found, bad-setting, error, masked. */
  load: string;
  /** `ActiveState`: active, inactive, failed, activating, deactivating, reloading. */
  active: string;
}
