/**
 * `deno task demo`: plans the bundled example repository for host `nas` into
 * fresh temp target dirs, with the same production permission flags as
 * `deno task core-ops`, and prints the human plan.
 *
 * @module
 */
import { runCoreOps } from "./launch.ts";

const root = new URL("..", import.meta.url).pathname;
const targets = await Deno.makeTempDir({ prefix: "core-ops-demo-" });
const host = Deno.args[0] ?? "nas";
try {
  const code = await runCoreOps([
    "plan",
    "--source-repo",
    `${root}examples/homelab`,
    "--host",
    host,
    "--quadlet-dir",
    `${targets}/etc/containers/systemd`,
    "--systemd-unit-dir",
    `${targets}/etc/systemd/system`,
    "--config-dir",
    `${targets}/etc`,
    "--state-dir",
    `${targets}/var/lib/core-ops`,
  ], { CORE_OPS_CONFIG: "/dev/null" });
  if (code !== 0) Deno.exitCode = code;
} finally {
  await Deno.remove(targets, { recursive: true });
}
