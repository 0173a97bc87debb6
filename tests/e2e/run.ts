/**
 * `deno task e2e`: the end-to-end suite on a real systemd + Podman host.
 * Installs the host packages it needs, builds the offline package,
 * bootstraps (or reuses) the cached rootfs of the chosen Debian suite
 * (`--suite`, default trixie; see lib/suites.ts), then runs every selected
 * scenario in a freshly booted guest of its own, one after another.
 *
 * Prints the host's systemd and Podman versions, one PASS/FAIL line per
 * scenario with its time, the phase timings, and last a line
 * `e2e: N passed, M failed`; exits 1 if any failed. With `E2E_SUMMARY=<file>`
 * the counts (and the suite) are also written there as JSON.
 *
 * Usage: `deno task e2e [--suite NAME] [--tag TAG] [--filter TEXT] [--list]`
 * (`--tag host`: only the scenarios whose outcome depends on the host's
 * systemd or Podman, which `.ci/run` also runs on sid).
 *
 * Must run as root (overlay mounts, systemd-nspawn); anything else fails.
 * Runs with --allow-all: it drives mount, nsenter and nspawn as root anyway,
 * and Deno grants reads of /proc (guest leader, leftover checks) only so.
 *
 * @module
 */
import { type E2eConfig, loadConfig } from "./lib/config.ts";
import { Guest, installInterruptTeardown, interrupted, reapStale } from "./lib/guest.ts";
import { ensureHostPackages } from "./lib/hostdeps.ts";
import { since } from "./lib/proc.ts";
import { ensureRootfs } from "./lib/rootfs.ts";
import { type HarnessEnv, type Scenario, ScenarioContext, type Tag, TAGS } from "./lib/scenario.ts";
import { describeHost, SUITES } from "./lib/suites.ts";
import { Timings } from "./lib/timings.ts";
import { SCENARIOS } from "./scenarios/mod.ts";
import { buildPackage } from "../../tools/package.ts";

interface Counts {
  passed: number;
  failed: number;
}

interface Args {
  filter: string | undefined;
  list: boolean;
  suite: string | undefined;
  tag: Tag | undefined;
}

const USAGE = "usage: deno task e2e [--suite NAME] [--tag TAG] [--filter TEXT] [--list]\n" +
  SUITES.map((s) => `  --suite ${s.name}: ${s.about}`).join("\n") + "\n" +
  TAGS.map(([t, about]) => `  --tag ${t}: ${about}`).join("\n");

function parseArgs(args: string[]): Args {
  const parsed: Args = { filter: undefined, list: false, suite: undefined, tag: undefined };
  const fail = (why: string): never => {
    console.error(`e2e: ${why}\n${USAGE}`);
    Deno.exit(64);
  };
  for (let i = 0; i < args.length; i++) {
    const value = () => args[++i] ?? fail(`${args[i - 1]} needs a value`);
    if (args[i] === "--filter") parsed.filter = value();
    else if (args[i] === "--list") parsed.list = true;
    else if (args[i] === "--suite") {
      parsed.suite = value();
      if (!SUITES.some((s) => s.name === parsed.suite)) fail(`unknown suite ${parsed.suite}`);
    } else if (args[i] === "--tag") {
      const tag = value();
      const known = TAGS.find(([t]) => t === tag);
      parsed.tag = known ? known[0] : fail(`unknown tag ${tag}`);
    } else fail(`unknown argument ${args[i]}`);
  }
  return parsed;
}

/** Guest names: short, unique per run, and valid machine names. */
function guestName(index: number, scenario: Scenario): string {
  const slug = scenario.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `e2e-${index + 1}-${slug}`.slice(0, 60).replace(/-$/, "");
}

async function writeSummary(cfg: E2eConfig | undefined, counts: Counts): Promise<void> {
  const file = cfg?.summaryFile ?? (Deno.env.get("E2E_SUMMARY") || undefined);
  const suite = cfg?.suite.name ?? null;
  if (file) await Deno.writeTextFile(file, JSON.stringify({ ...counts, suite }) + "\n");
}

async function finish(cfg: E2eConfig | undefined, counts: Counts): Promise<never> {
  console.log(`e2e: ${counts.passed} passed, ${counts.failed} failed`);
  await writeSummary(cfg, counts);
  Deno.exit(counts.failed > 0 ? 1 : 0);
}

function message(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return text.split("\n").map((l) => `    ${l}`).join("\n");
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/** Runs `fn`, failing after `ms`: a hung scenario must not eat CI's whole budget. */
async function withTimeout(ms: number, fn: () => Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario timed out after ${ms / 1000} s`)), ms);
  });
  try {
    await Promise.race([fn(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function runScenario(
  env: HarnessEnv,
  scenario: Scenario,
  index: number,
): Promise<void> {
  const timeout = scenario.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (scenario.guest === false) {
    await withTimeout(timeout, () => scenario.run(new ScenarioContext(env, undefined)));
    return;
  }
  const prepare = scenario.prepareRoot;
  const guest = await Guest.boot({
    name: guestName(index, scenario),
    pristine: env.pristine,
    runRoot: env.cfg.runRoot,
    logDir: env.cfg.logDir,
    packageDir: env.packageDir,
    linkCoreOps: scenario.linkCoreOps,
    prepareRoot: prepare && ((root) => prepare(root, env)),
    timings: env.timings,
  });
  try {
    await env.timings.measure(
      "scenario",
      () => withTimeout(timeout, () => scenario.run(new ScenarioContext(env, guest))),
    );
  } catch (error) {
    // The guest's journal is gone after teardown: keep its tail with the failure.
    const journal = await guest.exec(["journalctl", "--no-pager", "-q", "-n", "40"], {
      timeoutMs: 10_000,
    }).catch(() => undefined);
    const tail = journal?.stdout.trimEnd() ?? "(journal unavailable)";
    const detail = `guest journal (last 40 lines):\n${tail}\nguest console: ${guest.consoleLog}`;
    if (error instanceof Error) {
      // The report prints the stack, which V8 captured with the original message.
      error.message += `\n${detail}`;
      if (error.stack) error.stack += `\n${detail}`;
    }
    throw error;
  } finally {
    await guest.shutdown();
  }
}

async function main(): Promise<void> {
  const { filter, list, suite, tag } = parseArgs(Deno.args);
  const selected = SCENARIOS.filter((s) =>
    (!filter || s.name.includes(filter)) && (!tag || (s.tags ?? []).includes(tag))
  );
  if (list) {
    for (const s of selected) console.log(s.name);
    return;
  }
  if (selected.length === 0) {
    console.error(`e2e: no scenario matches ${JSON.stringify({ filter, tag })}`);
    await finish(undefined, { passed: 0, failed: 1 });
  }
  if (Deno.uid() !== 0) {
    // Skipping would let CI go green without ever booting a host: fail instead.
    console.error(
      "e2e: must run as root (overlay mounts and systemd-nspawn need it); not skipping",
    );
    await finish(undefined, { passed: 0, failed: selected.length });
  }

  const started = performance.now();
  const timings = new Timings();
  const cfg = await loadConfig(suite);
  const removeRunRoot = () => Deno.remove(cfg.runRoot, { recursive: true }).catch(() => {});
  installInterruptTeardown((signal) => {
    console.error(`\ne2e: ${signal}: tearing down running guests`);
  }, removeRunRoot);

  let env: HarnessEnv;
  try {
    const reaped = await reapStale(cfg.runsDir);
    for (const dir of reaped) console.log(`e2e: cleaned up after an earlier killed run: ${dir}`);
    const installed = await timings.measure("host-packages", ensureHostPackages);
    if (installed.length > 0) console.log(`e2e: installed host packages: ${installed.join(" ")}`);
    const pkg = await timings.measure("package", () => buildPackage(cfg.packageDir));
    const { pristine, host } = await ensureRootfs(cfg, timings);
    env = { cfg, pristine, packageDir: pkg.dir, timings };
    console.log(`e2e: test host ${describeHost(host)}`);
  } catch (error) {
    console.error(`e2e: setup failed, no scenario could run:\n${message(error)}`);
    console.log(timings.render());
    await removeRunRoot();
    await finish(cfg, { passed: 0, failed: selected.length });
    return;
  }
  console.log(
    `e2e: setup done in ${since(started).toFixed(1)}s; cache ${cfg.cacheDir}; ` +
      `${selected.length} of ${SCENARIOS.length} scenarios selected`,
  );

  const counts: Counts = { passed: 0, failed: 0 };
  for (const [index, scenario] of selected.entries()) {
    if (interrupted()) break;
    const start = performance.now();
    try {
      await runScenario(env, scenario, index);
      counts.passed++;
      console.log(`PASS ${since(start).toFixed(1).padStart(5)}s  ${scenario.name}`);
    } catch (error) {
      counts.failed++;
      console.log(
        `FAIL ${since(start).toFixed(1).padStart(5)}s  ${scenario.name}\n${message(error)}`,
      );
    }
  }
  if (interrupted()) {
    // The signal handler is tearing down and exits 130; a summary now would pass for a full run.
    await new Promise(() => {});
  }
  // Guests are gone by now; what is left is this run's package build.
  await removeRunRoot();
  console.log(timings.render());
  console.log(`e2e: total ${since(started).toFixed(1)}s on ${cfg.suite.name}`);
  await finish(cfg, counts);
}

if (import.meta.main) await main();
