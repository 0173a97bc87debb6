/**
 * The demo's real-host part (`deno task demo` as root on Linux): boots one
 * throwaway test host with the e2e harness, applies examples/homelab there as
 * an operator would, shows `status` and the running containers, then changes
 * one config file and shows the one restart it causes. The guest is torn down
 * on every way out, Ctrl-C included.
 *
 * @module
 */
import { loadConfig } from "./lib/config.ts";
import { Guest, installInterruptTeardown } from "./lib/guest.ts";
import { ensureHostPackages } from "./lib/hostdeps.ts";
import { ensureRootfs } from "./lib/rootfs.ts";
import { ScenarioContext } from "./lib/scenario.ts";
import { describeHost } from "./lib/suites.ts";
import { Timings } from "./lib/timings.ts";
import { exampleOnTestHost, REPO } from "./scenarios/fixtures.ts";
import { buildPackage } from "../../tools/package.ts";

const encoder = new TextEncoder();

function say(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text));
}

/** Runs the demo on a test host; resolves to the exit code of the first failing step, or 0. */
export async function demoOnTestHost(host: string): Promise<number> {
  const cfg = await loadConfig();
  const timings = new Timings();
  installInterruptTeardown(() => say("\ndemo: interrupted, tearing the test host down\n"));
  say(
    `\n== booting a throwaway test host (Debian ${cfg.suite.name}; CORE_OPS_E2E_SUITE picks another) with systemd-nspawn
   the first run installs systemd-container/debootstrap and builds the guest rootfs:
   about 2 minutes and ~100 MB of Debian packages; later runs boot in about a second\n`,
  );
  await ensureHostPackages();
  const pkg = await buildPackage(cfg.packageDir);
  const { pristine, host: packages } = await ensureRootfs(cfg, timings);
  say(`   test host: ${describeHost(packages)}\n`);
  const guest = await Guest.boot({
    name: `demo-${Deno.pid}`,
    pristine,
    runRoot: cfg.runRoot,
    logDir: cfg.logDir,
    packageDir: pkg.dir,
    timings,
  });
  const t = new ScenarioContext({ cfg, pristine, packageDir: pkg.dir, timings }, guest);
  try {
    const files = await exampleOnTestHost();
    await t.writeRepo(REPO, files);
    say(
      `\n== the example is committed at ${REPO} in the test host, with drop-ins that swap\n` +
        `   registry images for its local busybox image (no registry is reachable here)\n`,
    );
    const show = async (title: string, args: string[]) => {
      say(`\n== ${title}\n$ ${args.join(" ")}\n`);
      const result = await t.exec(args, { timeoutMs: 300_000 });
      say(result.stdout + result.stderr);
      return result.code;
    };
    const apply = ["core-ops", "apply", "--source-repo", REPO, "--host", host];
    let code = await show("apply: write, one daemon-reload, start, verify", apply);
    if (code !== 0) return code;
    await show("status", ["core-ops", "status"]);
    await show("the containers systemd runs", [
      "podman",
      "ps",
      "--format",
      "{{.Names}}\t{{.Status}}",
    ]);
    code = await show("apply again: nothing to do", apply);
    if (code !== 0) return code;

    const conf = `hosts/${host}/web/config/nginx.conf`;
    const changed = files[conf] === undefined ? "services/web/config/nginx.conf" : conf;
    // One setting edited, the rest of the file as it was: the diff shows just that line.
    const spec = files[changed];
    const before = typeof spec === "string" ? spec : spec.content;
    const after = before.replace(
      /^worker_processes (\d+);/m,
      (_, n) => `worker_processes ${+n * 2};`,
    );
    await t.writeRepo(REPO, {
      [changed]: after === before ? `${before}# changed by the demo\n` : after,
    });
    say(`\n== ${changed} changed and committed: only the container that mounts it restarts\n`);
    return await show("apply --diff", [...apply, "--diff"]);
  } finally {
    await guest.shutdown();
    await Deno.remove(cfg.runRoot, { recursive: true }).catch(() => {});
  }
}
