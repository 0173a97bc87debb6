/**
 * Source repositories the scenarios share, in the layout of SPEC §1.
 *
 * @module
 */
import { TEST_IMAGE } from "../lib/rootfs.ts";
import type { Files } from "../lib/scenario.ts";

/** Where scenarios put their source repository inside the guest. */
export const REPO = "/srv/core-ops-repo";

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
