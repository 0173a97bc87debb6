/**
 * The Debian suites the e2e harness boots as test hosts, and how a run picks
 * one. Every scenario runs against whichever suite was picked; none assumes a
 * systemd or Podman version (they ask the guest, see `ScenarioContext.versions`).
 *
 * - `trixie`: Debian 13, systemd 257 and Podman 5.4 — the default, the full suite.
 * - `sid`: Debian unstable, the systemd and Podman closest to what Fedora
 *   CoreOS runs now (262 and 5.8 when this was written; sid moves, so the
 *   versions are read from the rootfs, never written down here).
 *
 * @module
 */

/**
 * Guest packages on top of debootstrap's minbase, in every suite: systemd as
 * PID 1 with journald, Podman with the OCI runtime and network stack it needs
 * to run a quadlet, git for source repositories, and openssh-client: Fedora
 * CoreOS ships it, and git needs its ssh-keygen to verify signed commits
 * (`require-signed`) and its ssh for ssh remotes.
 *
 * Rootless (user) quadlets under a login's own systemd need three more, all
 * of them Podman's Recommends, which debootstrap leaves out:
 * - `uidmap`: newuidmap/newgidmap, which map the login's subuid/subgid ranges
 *   into the container's user namespace (without them only one uid maps);
 * - `dbus-user-session`: the login's D-Bus socket `/run/user/<uid>/bus`.
 *   `systemctl --user -M <login>@` reaches the user manager through it (a
 *   transient `systemd-stdio-bridge` on that socket), and rootless Podman
 *   asks the user manager over it for its cgroups. It pulls in
 *   libpam-systemd, which registers the login's sessions with logind.
 * - `passt`: pasta, rootless Podman's default network (and port forwarding).
 *
 * `systemd-container` (machined, machinectl) is NOT needed: `-M <login>@`
 * goes through the system manager (a transient unit with PAM), not machined.
 * With it every guest booted about 0.8 s slower (trixie, median 1.61 s against
 * 0.74 s), so it stays out.
 */
const COMMON_PACKAGES = [
  "systemd",
  "systemd-sysv",
  "systemd-resolved",
  "dbus",
  "git",
  "openssh-client",
  "podman",
  "crun",
  "conmon",
  "netavark",
  "aardvark-dns",
  "catatonit",
  "iproute2",
  "nftables",
  "iptables",
  "ca-certificates",
  "uidmap",
  "dbus-user-session",
  "passt",
] as const;

/** What the harness needs to know about one suite. */
export interface SuiteSpec {
  /** Debian suite (codename) handed to debootstrap. */
  name: string;
  /** Packages on top of debootstrap's minbase. Part of the rootfs cache key. */
  packages: readonly string[];
  /** One line for `--help` and the README. */
  about: string;
}

/** Every suite the harness knows, the default first. */
export const SUITES: readonly SuiteSpec[] = [
  {
    name: "trixie",
    packages: COMMON_PACKAGES,
    about: "Debian 13: systemd 257, Podman 5.4 (default; the full suite)",
  },
  {
    name: "sid",
    packages: COMMON_PACKAGES,
    about: "Debian unstable: the newest systemd and Podman (262 and 5.8 in December 2026)",
  },
];

/** The suite a run uses when neither `--suite` nor `CORE_OPS_E2E_SUITE` names one. */
export const DEFAULT_SUITE = SUITES[0].name;

/** The spec of suite `name`; throws naming the known ones for anything else. */
export function suiteSpec(name: string): SuiteSpec {
  const spec = SUITES.find((s) => s.name === name);
  if (!spec) {
    throw new Error(
      `unknown e2e suite ${JSON.stringify(name)}; known: ${SUITES.map((s) => s.name).join(", ")}`,
    );
  }
  return spec;
}

/**
 * The suite of this run: `flag` (`--suite`), else `CORE_OPS_E2E_SUITE`, else
 * {@link DEFAULT_SUITE}.
 */
export function pickSuite(flag: string | undefined): SuiteSpec {
  return suiteSpec(flag ?? (Deno.env.get("CORE_OPS_E2E_SUITE") || DEFAULT_SUITE));
}

/** Versions of the packages that make a test host what it is, read from a rootfs's dpkg status. */
export interface HostPackages {
  suite: string;
  systemd: string;
  podman: string;
}

/**
 * Reads the installed versions of systemd and Podman from `root`'s dpkg
 * database (no boot needed), e.g. for the run's header and the bench's table.
 */
export async function hostPackages(suite: string, root: string): Promise<HostPackages> {
  const status = await Deno.readTextFile(`${root}/var/lib/dpkg/status`);
  const version = (pkg: string): string => {
    for (const stanza of status.split(/\n\n+/)) {
      if (!new RegExp(`^Package: ${pkg}$`, "m").test(stanza)) continue;
      if (!/^Status: install ok installed$/m.test(stanza)) continue;
      const match = /^Version: (\S+)$/m.exec(stanza);
      if (match) return match[1];
    }
    throw new Error(`package ${pkg} is not installed in ${root}`);
  };
  return { suite, systemd: version("systemd"), podman: version("podman") };
}

/** `Debian sid (systemd 262.1-1, podman 5.8.6+ds1-1)`. */
export function describeHost(host: HostPackages): string {
  return `Debian ${host.suite} (systemd ${host.systemd}, podman ${host.podman})`;
}
