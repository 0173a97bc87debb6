/**
 * The real Ignition (Debian package `ignition`, 2.14) applied to a root
 * directory the way an FCOS initramfs applies it to /sysroot: the `file`
 * platform reads the config from IGNITION_CONFIG_FILE, `fetch-offline`
 * caches it, the `files` stage writes files, directories and units and turns
 * `enabled: true` into a systemd preset. Plus `ignition-validate`, and a
 * loopback http server for `contents.source` URLs.
 *
 * Outside an initramfs Ignition needs two things a real FCOS has: an SELinux
 * config in the root (it reads the policy type to relabel what it wrote) and
 * `setfiles` on PATH (the relabel itself). There is no SELinux here, so the
 * relabel is a no-op script; every other step is Ignition's own.
 *
 * @module
 */
import type { IgnitionConfig } from "./butane.ts";
import { mustRun, type Result, run } from "./proc.ts";

/** Debian's Ignition binary: the one dracut puts into the initramfs. */
export const IGNITION = "/usr/lib/dracut/modules.d/30ignition/ignition";

/** `ignition-validate` on `config`; never throws for a rejection (callers assert). */
export async function ignitionValidate(config: IgnitionConfig): Promise<Result> {
  const dir = await Deno.makeTempDir({ prefix: "core-ops-ign-validate-" });
  try {
    await Deno.writeTextFile(`${dir}/config.ign`, JSON.stringify(config, null, 2));
    return await run("ignition-validate", [`${dir}/config.ign`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs Ignition's `fetch-offline` and `files` stages for `config` against
 * `root`. Throws with Ignition's log if either stage fails. Returns the
 * `files` stage's log.
 */
export async function applyIgnition(root: string, config: IgnitionConfig): Promise<string> {
  const work = await Deno.makeTempDir({ prefix: "core-ops-ignition-" });
  const selinux = `${root}/etc/selinux/config`;
  const hadSelinux = await Deno.lstat(selinux).then(() => true, () => false);
  try {
    await Deno.writeTextFile(`${work}/config.ign`, JSON.stringify(config));
    await Deno.mkdir(`${work}/bin`);
    // No SELinux on this host: relabelling what Ignition wrote is a no-op.
    await Deno.writeTextFile(`${work}/bin/setfiles`, "#!/bin/sh\nexit 0\n");
    await Deno.chmod(`${work}/bin/setfiles`, 0o755);
    if (!hadSelinux) {
      await Deno.mkdir(`${root}/etc/selinux`, { recursive: true });
      await Deno.writeTextFile(selinux, "SELINUX=disabled\nSELINUXTYPE=targeted\n");
    }
    const env = {
      IGNITION_CONFIG_FILE: `${work}/config.ign`,
      PATH: `${work}/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    };
    const common = [
      "-platform",
      "file",
      "-root",
      root,
      "-log-to-stdout",
      // Ignition's own bookkeeping stays in the temp dir, not in the host's /run.
      "-config-cache",
      `${work}/ignition.json`,
      "-neednet",
      `${work}/neednet`,
      "-state-file",
      `${work}/state`,
    ];
    await mustRun(IGNITION, [...common, "-stage", "fetch-offline"], { env });
    const files = await mustRun(IGNITION, [...common, "-stage", "files"], { env });
    return files.stdout + files.stderr;
  } finally {
    if (!hadSelinux) await Deno.remove(selinux).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
}

/** A loopback http server for a fixed set of files. */
export interface FileServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** Paths that were requested, in order (to assert Ignition really fetched). */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `files` (URL path → bytes) on 127.0.0.1 at a free port; 404 for anything else. */
export function serveFiles(files: Record<string, Uint8Array<ArrayBuffer>>): Promise<FileServer> {
  const requests: string[] = [];
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        resolve({
          base: `http://127.0.0.1:${port}`,
          requests,
          close: () => server.shutdown(),
        });
      },
    }, (request) => {
      const path = new URL(request.url).pathname;
      requests.push(path);
      const body = files[path];
      return body ? new Response(body) : new Response("not found\n", { status: 404 });
    });
  });
}

/** `sha512-<hex>` of `bytes`: the form of Ignition's verification.hash. */
export async function sha512(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-512", bytes);
  return `sha512-${
    [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}
