/**
 * `deno task demo [host]`: the main job on the bundled example.
 *
 * Everywhere: plans `examples/homelab` for host `nas` (or `host`) into fresh
 * temp target dirs, with the production permission flags, and prints the
 * human plan. As root on Linux it goes on to do it for real on a throwaway
 * test host (the e2e harness's Debian guest, trixie unless
 * `CORE_OPS_E2E_SUITE` names another): `apply` the example there, print `status` and the running
 * containers, then change one config file and show the one restart it
 * causes. `--plan-only` stops after the plan.
 *
 * The task runs with --allow-all because booting the test host mounts overlays
 * and drives systemd-nspawn as root; core-ops itself always runs in its own
 * process under the production permission flags.
 *
 * @module
 */
import { runCoreOps } from "./launch.ts";

const root = new URL("..", import.meta.url).pathname;
const args = Deno.args.filter((a) => a !== "--plan-only");
const planOnly = args.length !== Deno.args.length;
const host = args[0] ?? "nas";

async function planOffHost(): Promise<number> {
  const targets = await Deno.makeTempDir({ prefix: "core-ops-demo-" });
  try {
    return await runCoreOps([
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
  } finally {
    await Deno.remove(targets, { recursive: true });
  }
}

console.log(`== core-ops plan examples/homelab --host ${host} (into empty temp dirs)\n`);
const code = await planOffHost();
if (code !== 0) Deno.exit(code);

if (planOnly || Deno.build.os !== "linux" || Deno.uid() !== 0) {
  if (!planOnly) {
    console.log(
      "\n(run as root on Linux to see apply on a throwaway systemd + Podman test host)",
    );
  }
} else {
  const { demoOnTestHost } = await import("../tests/e2e/demo.ts");
  Deno.exit(await demoOnTestHost(host));
}
