/**
 * Source repositories the scenarios share, in the layout of SPEC §1.
 *
 * @module
 */
import { join, relative } from "node:path";
import { TEST_IMAGE } from "../lib/rootfs.ts";
import type { Files, ScenarioContext } from "../lib/scenario.ts";

/** Where scenarios put their source repository inside the guest. */
export const REPO = "/srv/core-ops-repo";

/**
 * `core-ops apply --source-repo REPO --json` with `args` (settle window 1 s
 * unless `settle` says otherwise); checks its exit code, returns the document.
 */
export async function applyRepo(
  t: ScenarioContext,
  args: string[] = [],
  code = 0,
  settle = "1",
): Promise<Record<string, unknown>> {
  return await t.coreOpsJson(
    ["apply", "--source-repo", REPO, "--json", "--verify-settle", settle, ...args],
    code,
  );
}

/** A long-running container that exits cleanly on SIGTERM. */
export function container(extra = ""): string {
  return `[Unit]
Description=e2e web container

[Container]
Image=${TEST_IMAGE}
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'
${extra}
[Install]
WantedBy=multi-user.target
`;
}

/** Service `web`: a container using a volume and a network of the same service. */
export function webService(containerExtra = ""): Files {
  return {
    "services/web/quadlet/web.container": container(
      `Volume=data.volume:/data\nNetwork=app.network\n${containerExtra}`,
    ),
    "services/web/quadlet/data.volume": "[Volume]\nLabel=app=e2e\n",
    "services/web/quadlet/app.network": "[Network]\nSubnet=10.89.7.0/24\n",
  };
}

/** A multi-host repository: `web` on host `h1`. */
export function withHost(files: Files, host = "h1", services = ["web"]): Files {
  return {
    ...files,
    [`hosts/${host}/host.yaml`]: `host: ${host}\nservices:\n${
      services.map((s) => `  - ${s}\n`).join("")
    }`,
  };
}

const LOOP = `/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'`;

/**
 * examples/homelab as the test host can run it: hosts `nas` and `edge` get drop-ins that
 * swap each container's registry image for the local busybox image (no
 * registry is reachable here) and reset `PodmanArgs=--memory=…` (the test
 * host has no memory cgroup controller). Everything else is the example as
 * shipped.
 */
export async function exampleOnTestHost(): Promise<Files> {
  const swap = (extra = "") =>
    `# e2e: no registry here; run the local busybox image instead\n[Container]\nImage=${TEST_IMAGE}\nExec=${LOOP}\n${extra}`;
  return {
    ...(await exampleFiles()),
    "hosts/nas/web/quadlet/web.container.d/99-e2e.conf": swap("PodmanArgs=\n"),
    "hosts/nas/monitoring/quadlet/prometheus.container.d/99-e2e.conf": swap(),
    "hosts/nas/monitoring/quadlet/node-exporter.container.d/99-e2e.conf": swap(),
    "hosts/edge/web/quadlet/web.container.d/99-e2e.conf": swap("PodmanArgs=\n"),
  };
}

/** The units of examples/homelab for host nas that are active once it converged. */
export const EXAMPLE_NAS_UNITS = [
  "web.service",
  "web-data-volume.service",
  "frontend-network.service",
  "prometheus.service",
  "node-exporter.service",
  "monitoring-pod.service",
  "echo.socket",
  "backup.timer",
] as const;

const EXAMPLE = new URL("../../../examples/homelab", import.meta.url).pathname;

/** Every file of examples/homelab, as the scenario helpers write them (modes kept). */
export async function exampleFiles(): Promise<Files> {
  const files: Files = {};
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else {
        const mode = (await Deno.stat(path)).mode ?? 0o644;
        files[relative(EXAMPLE, path)] = {
          content: await Deno.readTextFile(path),
          mode: mode & 0o777,
        };
      }
    }
  };
  await walk(EXAMPLE);
  return files;
}
