/**
 * The guest root filesystem: Debian trixie (systemd 257, Podman 5.4 with its
 * quadlet generator, journald, git) bootstrapped once and cached two ways: a
 * zstd tarball (portable, e.g. for a CI cache) and an unpacked pristine tree
 * that every guest mounts read-only as the lower layer of its own overlay.
 *
 * The cache is keyed by a hash of everything that shapes the tree, so changing
 * the package list or the customisation below rebuilds it instead of silently
 * reusing a stale one.
 *
 * @module
 */
import type { E2eConfig } from "./config.ts";
import { leftovers } from "./guest.ts";
import { mustPipe, mustRun, run } from "./proc.ts";
import type { Timings } from "./timings.ts";

/** Debian release of the guest: the first with systemd ≥ 257 and Podman 5.4. */
export const SUITE = "trixie";

/**
 * Guest packages on top of debootstrap's minbase: systemd as PID 1 with
 * journald, Podman with the OCI runtime and network stack it needs to run a
 * quadlet, git for source repositories, and openssh-client: Fedora CoreOS
 * ships it, and git needs its ssh-keygen to verify signed commits
 * (`require-signed`) and its ssh for ssh remotes.
 */
export const GUEST_PACKAGES = [
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
] as const;

/** Busybox applets linked in the test image; enough for long-running test containers. */
const IMAGE_APPLETS = [
  "sh",
  "sleep",
  "echo",
  "cat",
  "ls",
  "env",
  "printf",
  "test",
  "true",
  "false",
  "date",
  "id",
  "mkdir",
  "touch",
  "rm",
  "httpd",
  "wget",
  "nc",
];

/** The only container image in the guest, imported from the host's busybox-static. */
export const TEST_IMAGE = "localhost/busybox:latest";

/** Hostname baked into the guest; scenarios that rely on host selection by hostname use it. */
export const GUEST_HOSTNAME = "e2e-host";

// Bump when the customisation in `customize` changes in a way the hash cannot see.
const RECIPE_REVISION = 1;

/**
 * This host's cgroup v2 hierarchy has no pids/memory/cpu controllers (they
 * are bound to v1 hierarchies), and Podman's default pids limit makes crun
 * fail with "controller `pids` is not available": no limit, no controller.
 */
const CONTAINERS_CONF = "[containers]\npids_limit = 0\n";

/** Where a cached rootfs lives. */
export interface RootfsPaths {
  tarball: string;
  pristine: string;
}

async function cacheKey(): Promise<string> {
  const material = JSON.stringify({
    SUITE,
    GUEST_PACKAGES,
    IMAGE_APPLETS,
    TEST_IMAGE,
    GUEST_HOSTNAME,
    CONTAINERS_CONF,
    RECIPE_REVISION,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(material));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")
    .slice(0, 12);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Makes sure an unpacked pristine rootfs exists and returns its paths:
 * bootstraps it (cold, about a minute), or unpacks the cached tarball, or
 * reuses the pristine tree as is (warm). Concurrent harness runs serialise on
 * a lock file so that they never build the same tree twice at once.
 */
export async function ensureRootfs(cfg: E2eConfig, timings: Timings): Promise<RootfsPaths> {
  await Deno.mkdir(cfg.cacheDir, { recursive: true });
  await Deno.mkdir(cfg.logDir, { recursive: true });
  const lock = await Deno.open(`${cfg.cacheDir}/.lock`, { create: true, write: true });
  try {
    await lock.lock(true);
    const key = await cacheKey();
    const base = `${cfg.cacheDir}/rootfs-${SUITE}-${key}`;
    const paths = { tarball: `${base}.tar.zst`, pristine: `${base}.pristine` };
    // The marker sits beside the tree, not in it, so that guests never see it.
    const complete = `${paths.pristine}.complete`;

    if (cfg.rebuild || !await exists(paths.tarball)) {
      await Deno.remove(complete).catch(() => {});
      await build(cfg, base, paths, timings);
      await Deno.writeTextFile(complete, `${key}\n`);
      await removeStale(cfg.cacheDir, key);
    } else if (!await exists(complete)) {
      await timings.measure("unpack", async () => {
        await removeTree(paths.pristine);
        await Deno.mkdir(paths.pristine, { recursive: true });
        await mustPipe(
          ["zstd", "-q", "-d", "-c", paths.tarball],
          [
            "tar",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "-C",
            paths.pristine,
            "-xf",
            "-",
          ],
        );
        await Deno.writeTextFile(complete, `${key}\n`);
      });
    }
    return paths;
  } finally {
    lock.close();
  }
}

async function build(
  cfg: E2eConfig,
  base: string,
  paths: RootfsPaths,
  timings: Timings,
): Promise<void> {
  const tree = `${base}.build`;
  await removeTree(tree);
  const debs = `${cfg.cacheDir}/debs`;
  await Deno.mkdir(debs, { recursive: true });

  await timings.measure("debootstrap", async () => {
    const result = await run("debootstrap", [
      "--variant=minbase",
      `--include=${GUEST_PACKAGES.join(",")}`,
      `--cache-dir=${debs}`,
      SUITE,
      tree,
      cfg.mirror,
    ]);
    await Deno.writeTextFile(`${cfg.logDir}/debootstrap.log`, result.stdout + result.stderr);
    if (result.code !== 0) {
      const tail = (result.stdout + result.stderr).trimEnd().split("\n").slice(-20).join("\n");
      throw new Error(
        `debootstrap ${SUITE} from ${cfg.mirror} failed (exit ${result.code}); ` +
          `full log: ${cfg.logDir}/debootstrap.log\n${tail}`,
      );
    }
  });

  await timings.measure("customize", () => customize(cfg, tree));

  await timings.measure("pack", async () => {
    const partial = `${paths.tarball}.partial`;
    await mustPipe(
      ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", tree, "-cf", "-", "."],
      ["zstd", "-q", "-T0", "-3", "-f", "-o", partial],
    );
    await Deno.rename(partial, paths.tarball);
    await removeTree(paths.pristine);
    await Deno.rename(tree, paths.pristine);
  });
}

async function customize(cfg: E2eConfig, tree: string): Promise<void> {
  await Deno.writeTextFile(`${tree}/etc/hostname`, `${GUEST_HOSTNAME}\n`);
  // Empty machine-id: every boot gets a transient one, so guests never share an identity.
  await Deno.writeTextFile(`${tree}/etc/machine-id`, "");
  await Deno.mkdir(`${tree}/etc/containers/containers.conf.d`, { recursive: true });
  await Deno.writeTextFile(
    `${tree}/etc/containers/containers.conf.d/50-core-ops-e2e.conf`,
    CONTAINERS_CONF,
  );

  // The test image is built from nothing but busybox-static: no registry is reachable.
  const image = `${cfg.cacheDir}/image.build`;
  await Deno.remove(image, { recursive: true }).catch(() => {});
  for (const dir of ["bin", "tmp", "data"]) {
    await Deno.mkdir(`${image}/${dir}`, { recursive: true });
  }
  await Deno.copyFile("/bin/busybox", `${image}/bin/busybox`);
  await Deno.chmod(`${image}/bin/busybox`, 0o755);
  for (const applet of IMAGE_APPLETS) await Deno.symlink("busybox", `${image}/bin/${applet}`);
  await mustRun("tar", ["--numeric-owner", "-C", image, "-cf", `${tree}/root/busybox.tar`, "."]);
  await Deno.remove(image, { recursive: true });
  await mustRun("systemd-nspawn", [
    "-q",
    "-D",
    tree,
    "--register=no",
    "--keep-unit",
    "--as-pid2",
    "podman",
    "image",
    "import",
    "-q",
    "/root/busybox.tar",
    TEST_IMAGE,
  ]);
  await Deno.remove(`${tree}/root/busybox.tar`);
}

/** Drops rootfs caches of other keys: each is about 1 GiB and will never be used again. */
async function removeStale(cacheDir: string, key: string): Promise<void> {
  for await (const entry of Deno.readDir(cacheDir)) {
    if (entry.name.startsWith("rootfs-") && !entry.name.includes(`-${key}.`)) {
      await removeTree(`${cacheDir}/${entry.name}`);
    }
  }
}

/**
 * Deletes a rootfs tree that an interrupted debootstrap may have left with
 * /proc or /sys mounted inside: those are unmounted first (deepest first),
 * and if any mount stays, nothing is deleted — a recursive delete must never
 * walk into the host's /sys.
 */
async function removeTree(dir: string): Promise<void> {
  const mounts = (await leftovers(dir))
    .filter((l) => l.startsWith("mount "))
    .map((l) => l.slice("mount ".length))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) {
    if ((await run("umount", [point])).code !== 0) await run("umount", ["-l", point]);
  }
  const left = (await leftovers(dir)).filter((l) => l.startsWith("mount "));
  if (left.length > 0) {
    throw new Error(`refusing to delete ${dir}: still mounted:\n${left.join("\n")}`);
  }
  await Deno.remove(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
