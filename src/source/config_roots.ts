/**
 * Which directories under the config dir (`/etc`) a repository may write:
 * the `config-root` a service chooses in its service.yaml, and the host's
 * policy over it (agent.toml `config-roots`, SPEC §1). A config root is a
 * whole directory of `/etc`, so choosing one is choosing what a repository
 * writer controls on the host.
 *
 * @module
 */
import * as z from "../zod.ts";
import { IDENTIFIER } from "../model.ts";
import { showPath } from "./names.ts";
import type { Problems } from "./problems.ts";

/**
 * Config roots a repository may not write to unless the host allows them
 * explicitly (agent.toml `config-roots`): each would hand a repo writer
 * control over logins, privileges, boot, name resolution, the container
 * runtime or core-ops itself — e.g. a service named `ssh` would own `/etc/ssh`.
 */
export const DEFAULT_DENIED_CONFIG_ROOTS: readonly string[] = [
  "ssh",
  "sudoers",
  "sudoers.d",
  "pam.d",
  "security",
  "systemd",
  "containers",
  "core-ops",
  "passwd",
  "passwd-",
  "shadow",
  "shadow-",
  "group",
  "group-",
  "gshadow",
  "gshadow-",
  "subuid",
  "subgid",
  "login.defs",
  "crontab",
  "cron.d",
  "cron.daily",
  "cron.hourly",
  "cron.weekly",
  "cron.monthly",
  "cron.allow",
  "cron.deny",
  "anacrontab",
  "at.allow",
  "at.deny",
  "profile",
  "profile.d",
  "bashrc",
  "bash.bashrc",
  "environment",
  "environment.d",
  "default",
  "ld.so.conf",
  "ld.so.conf.d",
  "ld.so.preload",
  "ld.so.cache",
  "modprobe.d",
  "modules-load.d",
  "sysctl.conf",
  "sysctl.d",
  "udev",
  "polkit-1",
  "selinux",
  "apparmor",
  "apparmor.d",
  "audit",
  "fstab",
  "crypttab",
  "hosts",
  "hostname",
  "resolv.conf",
  "nsswitch.conf",
  "NetworkManager",
  "sysconfig",
  "dracut.conf.d",
  "kernel",
  "tmpfiles.d",
  "sysusers.d",
  "ignition",
  "ostree",
  "rpm-ostreed.conf",
  "zincati",
  "yum.repos.d",
  "pki",
  "ssl",
  "ca-certificates",
  "krb5.conf",
  "krb5.conf.d",
  "sssd",
  "shells",
  "securetty",
  "dbus-1",
  "machine-id",
  "os-release",
  "nftables",
  "firewalld",
  "sudo.conf",
  "doas.conf",
];

/** Which config roots this host lets a repository write (agent.toml `config-roots`). */
export interface ConfigRootPolicy {
  /** Only these roots; `null`: every root except {@link DEFAULT_DENIED_CONFIG_ROOTS}. */
  allow: readonly string[] | null;
}

/** The root the agent's own configuration lives in (`/etc/core-ops`). */
const AGENT_ROOT = "core-ops";

/**
 * The `config-root` value of a service.yaml. It is one directory name, so a
 * service cannot reach across `/etc` with `a/b` or `..`. The refusal quotes
 * the value (escaped: it comes from the repository) so the operator sees what
 * was read; the YAML reader puts the key before it: `"config-root": "a/b" is …`.
 */
export const configRootSchema = z.string().check(
  z.regex(IDENTIFIER, {
    error: (issue) =>
      `"${
        showPath(String(issue.input))
      }" is not a single identifier (one directory name: no '/', no '..')`,
  }),
  z.refine((root) => root !== AGENT_ROOT, {
    // /etc/core-ops holds the agent's own config: a repo must not rewrite where it pulls from,
    // whatever config-roots allows.
    message: `${AGENT_ROOT} is reserved for the agent's own configuration`,
  }),
);

/** Where a service's config files go, and where that was decided, for the messages. */
export interface ConfigRootChoice {
  /** The service id. */
  id: string;
  /** The directory under the config dir: the `config-root` value, or the service id. */
  configRoot: string;
  /** Where the config root was chosen: the `config-root` value, or the service dir for the default. */
  configRootAt: { file: string; line?: number; column?: number };
  /** The service's config files; a service with none (and no secrets) asks for no root. */
  config: ReadonlyMap<string, unknown>;
  /** The service's secrets, deployed under the same root. */
  secrets?: ReadonlyMap<string, unknown>;
}

/** Refuses a config root the host does not allow (agent.toml `config-roots`). */
export function checkConfigRoot(
  problems: Problems,
  service: ConfigRootChoice,
  policy: ConfigRootPolicy | undefined,
): void {
  // A service without config files asks for no root: `ssh` may still run a container.
  if (service.config.size === 0 && (service.secrets?.size ?? 0) === 0) return;
  const root = service.configRoot;
  const allow = policy?.allow ?? null;
  const { file, line, column } = service.configRootAt;
  const chosen = file.endsWith("/") ? `(the service id, the default)` : `(set in ${file})`;
  if (allow === null && DEFAULT_DENIED_CONFIG_ROOTS.includes(root)) {
    problems.error(
      file,
      `config root "${root}" ${chosen} is a system root denied by default (setting config-roots)`,
      `choose another config-root in services/${service.id}/service.yaml, or allow "${root}" explicitly in agent.toml config-roots`,
      line,
      column,
    );
  } else if (allow !== null && !allow.includes(root)) {
    problems.error(
      file,
      `config root "${root}" ${chosen} is not allowed on this host (setting config-roots: ${
        allow.length ? allow.join(", ") : "none"
      })`,
      `add "${root}" to config-roots in agent.toml, or choose an allowed config-root`,
      line,
      column,
    );
  }
}
