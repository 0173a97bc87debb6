/**
 * Host packages the harness needs. CI runs on a fresh Debian machine where
 * none of them is installed, and nothing but the project's own files may
 * install them, so the harness does it itself before anything else.
 *
 * @module
 */
import { mustRun, run } from "./proc.ts";

/**
 * Debian packages providing systemd-nspawn, debootstrap, the test image's
 * busybox and zstd; Ignition (its binary and ignition-validate) for the
 * first-boot scenarios, with git and ssh-keygen for their repo and keys;
 * promtool (prometheus) to check the metrics textfile.
 */
export const HOST_PACKAGES = [
  "systemd-container",
  "debootstrap",
  "busybox-static",
  "zstd",
  "ignition",
  "git",
  "openssh-client",
  "prometheus",
] as const;

/**
 * Serialises harness runs on this machine while they check and install: two
 * runs started at once (`.ci/run` runs both suites side by side) would
 * otherwise race for apt's and dpkg's locks, which make apt-get fail at once.
 */
const INSTALL_LOCK = "/run/lock/core-ops-e2e-host-packages.lock";

/** Installs whichever of {@link HOST_PACKAGES} is missing; returns what was installed. */
export async function ensureHostPackages(): Promise<string[]> {
  await Deno.mkdir("/run/lock", { recursive: true });
  const lock = await Deno.open(INSTALL_LOCK, { create: true, write: true });
  try {
    await lock.lock(true);
    return await installMissing();
  } finally {
    lock.close();
  }
}

async function installMissing(): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of HOST_PACKAGES) {
    const status = await run("dpkg-query", ["-W", "-f=${Status}", pkg]).catch(() => undefined);
    if (status === undefined) {
      throw new Error("dpkg-query not found: the e2e harness needs a Debian host (apt/dpkg)");
    }
    if (!status.stdout.includes("install ok installed")) missing.push(pkg);
  }
  if (missing.length === 0) return [];
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  // A fresh machine's package lists are empty or stale: install would not find the packages.
  await mustRun("apt-get", ["update", "-qq"], { env });
  await mustRun(
    "apt-get",
    ["install", "-y", "-qq", "--no-install-recommends", ...missing],
    { env },
  );
  return missing;
}
