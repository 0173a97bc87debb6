/**
 * The guest root filesystem: a Debian suite (trixie by default, see
 * suites.ts) with systemd, Podman and its quadlet generator, journald and git,
 * bootstrapped once and cached two ways: a zstd tarball (portable, e.g. for a
 * CI cache) and an unpacked pristine tree that every guest mounts read-only as
 * the lower layer of its own overlay.
 *
 * The cache is keyed by the suite and a hash of everything that shapes the
 * tree (package list included): `rootfs-<suite>-<key>.*`. Runs with another
 * suite or package set use other files and never rebuild or delete these.
 * Each key has a lock file: exclusive while its tree is built or unpacked,
 * shared for as long as a run boots guests from it, so neither a rebuild
 * (`CORE_OPS_E2E_REBUILD=1`) nor the clean-up of unused keys can pull a tree
 * from under a concurrent run.
 *
 * @module
 */
import type { E2eConfig } from "./config.ts";
import { leftovers } from "./guest.ts";
import { mustPipe, mustRun, run } from "./proc.ts";
import { type HostPackages, hostPackages, type SuiteSpec } from "./suites.ts";
import type { Timings } from "./timings.ts";

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

/**
 * The test image's file system as a tarball inside the guest (world-readable,
 * about 2 MiB). Root's storage has {@link TEST_IMAGE} imported from it at
 * build time; a login's rootless storage (in its home) starts empty and
 * imports it from here (`ScenarioContext.importTestImage`).
 */
export const TEST_IMAGE_TAR = "/usr/local/share/core-ops-e2e/busybox.tar";

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

/**
 * Rootless networking (pasta) opens /dev/net/tun as the login. nspawn creates
 * that node 0600 and there is no udev in the guest to make it 0666 as it is on
 * a real host; systemd-tmpfiles does it at boot instead.
 */
const TUN_TMPFILES = "z /dev/net/tun 0666 - - -\n";

/**
 * A rootless quadlet's podman-user-wait-network-online.service polls the
 * system's network-online.target for up to 90 s. On a real host something
 * (NetworkManager, networkd) pulls that target in at boot; in the guest
 * nothing does, so it would stay inactive until a root quadlet happens to
 * start it. Pulled in by multi-user.target it is reached at once: no
 * wait-online service is enabled, and the guest's only link is loopback.
 */
const NETWORK_ONLINE_WANTS = "/etc/systemd/system/multi-user.target.wants/network-online.target";

/** Where a cached rootfs lives, and what it is. */
export interface RootfsPaths {
  tarball: string;
  pristine: string;
  /** The suite and the systemd and Podman versions installed in it. */
  host: HostPackages;
}

/** Unused rootfs caches of other keys are deleted after this long (each is about 1 GiB). */
const STALE_AFTER_MS = 7 * 24 * 3600_000;

/**
 * The key of a suite's rootfs. For trixie it is the key this cache had
 * before suites existed (same material, same order), so existing caches stay valid.
 */
async function cacheKey(suite: SuiteSpec): Promise<string> {
  const material = JSON.stringify({
    SUITE: suite.name,
    GUEST_PACKAGES: suite.packages,
    IMAGE_APPLETS,
    TEST_IMAGE,
    TEST_IMAGE_TAR,
    GUEST_HOSTNAME,
    CONTAINERS_CONF,
    TUN_TMPFILES,
    NETWORK_ONLINE_WANTS,
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
 * Makes sure an unpacked pristine rootfs of the run's suite exists and
 * returns its paths: bootstraps it (cold, one to two minutes), or unpacks the
 * cached tarball, or reuses the pristine tree as is (warm). This run holds
 * the key's lock shared until it exits, which keeps the tree from being
 * rebuilt or deleted by another run while guests boot from it; building or
 * unpacking takes it exclusively, so runs that find the same key cold wait
 * for one build.
 */
export async function ensureRootfs(cfg: E2eConfig, timings: Timings): Promise<RootfsPaths> {
  await Deno.mkdir(cfg.cacheDir, { recursive: true });
  await Deno.mkdir(cfg.logDir, { recursive: true });
  const suite = cfg.suite;
  const key = await cacheKey(suite);
  const base = `${cfg.cacheDir}/rootfs-${suite.name}-${key}`;
  const paths = { tarball: `${base}.tar.zst`, pristine: `${base}.pristine` };
  // The marker sits beside the tree, not in it, so that guests never see it.
  const complete = `${paths.pristine}.complete`;
  const lock = await Deno.open(`${base}.lock`, { create: true, write: true });
  try {
    // Shared first: a warm cache is used as is, beside other runs that use it.
    await lock.lock(false);
    // The lock file's mtime is when the key was last used: the clean-up of other runs reads it.
    const now = new Date();
    await lock.utime(now, now);
    if (cfg.rebuild || !await exists(paths.tarball) || !await exists(complete)) {
      // Exclusive to build or unpack: waits until no other run boots guests from this key.
      await lock.unlock();
      await lock.lock(true);
      if (cfg.rebuild || !await exists(paths.tarball)) {
        await Deno.remove(complete).catch(() => {});
        await build(cfg, base, paths, timings);
        await Deno.writeTextFile(complete, `${key}\n`);
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
      // Back to shared (another run may build in between: it only ever finishes the tree).
      await lock.unlock();
      await lock.lock(false);
    }
    // Deliberately never closed: the shared lock goes when this process does.
  } catch (error) {
    lock.close();
    throw error;
  }
  await removeStale(cfg.cacheDir, base);
  return { ...paths, host: await hostPackages(suite.name, paths.pristine) };
}

async function build(
  cfg: E2eConfig,
  base: string,
  paths: { tarball: string; pristine: string },
  timings: Timings,
): Promise<void> {
  const suite = cfg.suite;
  const tree = `${base}.build`;
  await removeTree(tree);
  // One .deb cache per suite (the same file name may differ in content across suites), used by
  // one debootstrap at a time: two package sets of one suite may build at once.
  const debs = `${cfg.cacheDir}/debs-${suite.name}`;
  await Deno.mkdir(debs, { recursive: true });
  const log = `${cfg.logDir}/debootstrap-${base.slice(base.lastIndexOf("/") + 1)}.log`;

  await timings.measure("debootstrap", async () => {
    const debsLock = await Deno.open(`${debs}.lock`, { create: true, write: true });
    let result;
    try {
      await debsLock.lock(true);
      result = await run("debootstrap", [
        "--variant=minbase",
        `--include=${suite.packages.join(",")}`,
        `--cache-dir=${debs}`,
        suite.name,
        tree,
        cfg.mirror,
      ]);
    } finally {
      debsLock.close();
    }
    await Deno.writeTextFile(log, result.stdout + result.stderr);
    if (result.code !== 0) {
      const tail = (result.stdout + result.stderr).trimEnd().split("\n").slice(-20).join("\n");
      throw new Error(
        `debootstrap ${suite.name} from ${cfg.mirror} failed (exit ${result.code}); ` +
          `full log: ${log}\n${tail}`,
      );
    }
  });

  await timings.measure("customize", () => customize(base, tree));

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

function parentDir(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

async function customize(base: string, tree: string): Promise<void> {
  await Deno.writeTextFile(`${tree}/etc/hostname`, `${GUEST_HOSTNAME}\n`);
  // Empty machine-id: every boot gets a transient one, so guests never share an identity.
  await Deno.writeTextFile(`${tree}/etc/machine-id`, "");
  await Deno.mkdir(`${tree}/etc/containers/containers.conf.d`, { recursive: true });
  await Deno.writeTextFile(
    `${tree}/etc/containers/containers.conf.d/50-core-ops-e2e.conf`,
    CONTAINERS_CONF,
  );
  await Deno.mkdir(`${tree}/etc/tmpfiles.d`, { recursive: true });
  await Deno.writeTextFile(`${tree}/etc/tmpfiles.d/50-core-ops-e2e-tun.conf`, TUN_TMPFILES);
  await Deno.mkdir(parentDir(`${tree}${NETWORK_ONLINE_WANTS}`), { recursive: true });
  await Deno.symlink(
    "/usr/lib/systemd/system/network-online.target",
    `${tree}${NETWORK_ONLINE_WANTS}`,
  );

  // The test image is built from nothing but busybox-static: no registry is reachable.
  const image = `${base}.image`;
  await Deno.remove(image, { recursive: true }).catch(() => {});
  for (const dir of ["bin", "tmp", "data"]) {
    await Deno.mkdir(`${image}/${dir}`, { recursive: true });
  }
  await Deno.copyFile("/bin/busybox", `${image}/bin/busybox`);
  await Deno.chmod(`${image}/bin/busybox`, 0o755);
  for (const applet of IMAGE_APPLETS) await Deno.symlink("busybox", `${image}/bin/${applet}`);
  await Deno.mkdir(parentDir(`${tree}${TEST_IMAGE_TAR}`), { recursive: true });
  await mustRun("tar", ["--numeric-owner", "-C", image, "-cf", `${tree}${TEST_IMAGE_TAR}`, "."]);
  await Deno.chmod(`${tree}${TEST_IMAGE_TAR}`, 0o644);
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
    TEST_IMAGE_TAR,
    TEST_IMAGE,
  ]);
}

/**
 * Drops the rootfs caches of other keys (another suite, an older package
 * list) that no run has used for {@link STALE_AFTER_MS}: each is about 1 GiB.
 * A key whose lock another run holds (building it, or booting guests from
 * it) is never touched, however old.
 */
async function removeStale(cacheDir: string, keep: string): Promise<void> {
  const bases = new Map<string, string[]>();
  for await (const entry of Deno.readDir(cacheDir)) {
    const match = /^(rootfs-[a-z0-9]+-[0-9a-f]{12})\./.exec(entry.name);
    if (!match || `${cacheDir}/${match[1]}` === keep) continue;
    bases.set(match[1], [...bases.get(match[1]) ?? [], entry.name]);
  }
  for (const [base, names] of bases) {
    const lockPath = `${cacheDir}/${base}.lock`;
    // Caches from before lock files existed have none: their newest file says when they were made.
    let lastUsed = 0;
    for (const name of names) {
      const stat = await Deno.lstat(`${cacheDir}/${name}`).catch(() => undefined);
      lastUsed = Math.max(lastUsed, stat?.mtime?.getTime() ?? 0);
    }
    if (Date.now() - lastUsed < STALE_AFTER_MS) continue;
    const lock = await Deno.open(lockPath, { create: true, write: true });
    try {
      if (!await lock.tryLock(true)) continue; // in use by a concurrent run
      for (const name of names) {
        if (`${cacheDir}/${name}` !== lockPath) await removeTree(`${cacheDir}/${name}`);
      }
      // Gone last, while held: a run that opens it afterwards finds no tarball and builds afresh.
      await Deno.remove(lockPath).catch(() => {});
    } finally {
      lock.close();
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
