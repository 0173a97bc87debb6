/**
 * `deno task demo`: plans the bundled example repository for host `nas` into
 * fresh temp target dirs, through the same launcher and production permission
 * flags as `deno task core-ops`, and prints the human plan.
 *
 * @module
 */
const root = new URL("..", import.meta.url).pathname;
const targets = await Deno.makeTempDir({ prefix: "core-ops-demo-" });
const host = Deno.args[0] ?? "nas";
try {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-run",
      `${root}tools/launch.ts`,
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
    ],
    env: { CORE_OPS_CONFIG: "/dev/null" },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  if (!status.success) Deno.exitCode = status.code || 1;
} finally {
  await Deno.remove(targets, { recursive: true });
}
