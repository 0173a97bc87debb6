/**
 * The real-host parts of the bench (2: no-change run, 3: first apply, 4b:
 * start-up), on ONE throwaway test host per Debian suite (trixie, sid: see
 * tests/e2e/lib/suites.ts) booted with the e2e harness, exactly as
 * tests/e2e/demo.ts boots one. Every row says which host it comes from. Every command runs inside the guest under GNU
 * time (copied in from this machine) for its peak RSS; wall time is taken
 * here around the guest exec, minus the median cost of entering the guest
 * (`nsenter` + `env` + GNU time running `true`), measured in the same session.
 *
 * @module
 */
import { pullDowntime } from "./pull.ts";
import { loadConfig } from "../../tests/e2e/lib/config.ts";
import type { HostPackages } from "../../tests/e2e/lib/suites.ts";
import { Guest, installInterruptTeardown } from "../../tests/e2e/lib/guest.ts";
import { ensureHostPackages } from "../../tests/e2e/lib/hostdeps.ts";
import { ensureRootfs, TEST_IMAGE } from "../../tests/e2e/lib/rootfs.ts";
import type { Result } from "../../tests/e2e/lib/proc.ts";
import { Timings } from "../../tests/e2e/lib/timings.ts";
import { PACKAGE_ENV, packagedDenoArgv } from "../../tests/e2e/lib/packaged.ts";
import { PRODUCTION } from "../../tools/permissions.ts";
import { buildPackage } from "../../tools/package.ts";
import { GNU_TIME, parseRss, type Sample } from "./measure.ts";
import { BENCH_GIT_IDENTITY, type RepoFiles, writeFiles } from "./repo.ts";
import { type Row, sampleRow, summarize, verdict } from "./stats.ts";
import { phaseTable } from "./trace.ts";
import { RACY_MS } from "../../src/run/converged.ts";

/** Where the bench keeps its repos inside the guest. */
const REMOTE = "/srv/bench-remote.git";
const CHECKOUT = "/srv/bench-repo";
const FLOOR_MIRROR = "/var/lib/bench-floor/mirror.git";
const APPLY_REPO = "/srv/bench-apply";
const APPLY_FLAT = "/srv/bench-apply-flat";
const AGENT_TOML = "/etc/core-ops/bench-agent.toml";
const QUADLET_DIR = "/etc/containers/systemd";
const GUEST_TIME = "/usr/local/bin/bench-gnu-time";
/** On the overlay (not a tmpfs), so this side can read it through the guest's root. */
const RSS_FILE = "/var/tmp/bench-rss";

/**
 * THE no-change run under test: the agent, on a host converged to the remote's
 * head (AGENT_TOML names the local remote and ref; the agent fetches into its
 * mirror in the state dir). A second `apply --source-repo` of the checkout can
 * stand in for it: `["core-ops", "apply", "--source-repo", CHECKOUT, "--json"]`.
 */
const NO_CHANGE_RUN: readonly string[] = ["core-ops", "agent", "--config", AGENT_TOML];
/** How the table labels {@link NO_CHANGE_RUN}. */
const NO_CHANGE_LABEL = NO_CHANGE_RUN[1] === "agent"
  ? "no-change `core-ops agent`"
  : "no-change `core-ops apply --source-repo` (STAND-IN for agent)";

/** How many times each real-host measurement runs (after one warm-up); 0 skips it. */
export interface HostRuns {
  noChange: number;
  apply: number;
  applyDefaultSettle: number;
  startup: number;
  /** Rounds of part 5 (downtime of an image change), 0 to skip. */
  pull: number;
}

/** A test host with the helpers the measurements need. */
class BenchHost {
  overhead = 0;
  constructor(readonly guest: Guest) {}

  async ok(args: readonly string[], timeoutMs = 300_000): Promise<Result> {
    const r = await this.guest.exec(args, { timeoutMs });
    if (r.code !== 0) {
      throw new Error(
        `\`${args.join(" ")}\` exited ${r.code}\n${r.stdout.slice(-2000)}\n${
          r.stderr.slice(-4000)
        }`,
      );
    }
    return r;
  }

  /** Runs `argv` in the guest under GNU time. */
  async measure(argv: readonly string[], env?: Record<string, string>): Promise<Sample> {
    const started = performance.now();
    const r = await this.guest.exec([GUEST_TIME, "-f", "%M", "-o", RSS_FILE, "--", ...argv], {
      timeoutMs: 600_000,
      env,
    });
    const ms = performance.now() - started - this.overhead;
    const rss = parseRss(await Deno.readTextFile(`${this.guest.root}${RSS_FILE}`));
    return { ms, rssMiB: rss, code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  /** Writes files straight into the guest's root (its overlay's merged dir). */
  async write(dir: string, files: RepoFiles): Promise<void> {
    await writeFiles(`${this.guest.root}${dir}`, files);
  }

  /** Commits everything in `dir` (a git work tree in the guest). */
  async commit(dir: string, message: string): Promise<void> {
    await this.ok(["git", "-C", dir, "add", "-A"]);
    await this.ok([
      "git",
      ...BENCH_GIT_IDENTITY,
      "-C",
      dir,
      "commit",
      "-q",
      "--allow-empty",
      "-m",
      message,
    ]);
  }

  async script(path: string, body: string): Promise<void> {
    await Deno.writeTextFile(`${this.guest.root}${path}`, body, { mode: 0o755 });
    await Deno.chmod(`${this.guest.root}${path}`, 0o755);
  }
}

function check(label: string, s: Sample): Sample {
  if (s.code !== 0) {
    throw new Error(
      `${label}: exited ${s.code}\n--- stdout\n${s.stdout.slice(-2000)}\n--- stderr\n${
        s.stderr.slice(-4000)
      }`,
    );
  }
  return s;
}

/** `a` and `b` alternately, `runs` times each after one warm-up of each; returns both sample lists. */
async function pairs(
  runs: number,
  a: () => Promise<Sample>,
  b: () => Promise<Sample>,
  before: () => Promise<void> = () => Promise.resolve(),
): Promise<[Sample[], Sample[]]> {
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let i = 0; i <= runs; i++) {
    await before();
    const sa = await a();
    await before();
    const sb = await b();
    if (i > 0) {
      as.push(sa);
      bs.push(sb);
    }
  }
  return [as, bs];
}

/** Part 2's repo: `services` services of 10 artifacts each (container, volume, 2 drop-ins, 6 config files). */
export function noChangeRepo(services: number): RepoFiles {
  const files: RepoFiles = {};
  for (let i = 0; i < services; i++) {
    const s = `n${String(i).padStart(3, "0")}`;
    const q = `services/${s}/quadlet`;
    files[`${q}/${s}.container`] = `[Container]
Image=${TEST_IMAGE}
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'
Volume=${s}.volume:/data
Volume=/etc/${s}/app.conf:/etc/app.conf:ro

[Install]
WantedBy=multi-user.target
`;
    files[`${q}/${s}.volume`] = `[Volume]\nLabel=app=${s}\n`;
    files[`${q}/${s}.container.d/10-env.conf`] = `[Container]\nEnvironment=APP=${s}\n`;
    files[`${q}/${s}.container.d/20-labels.conf`] = `[Container]\nLabel=bench=1\n`;
    for (let c = 0; c < 6; c++) {
      files[`services/${s}/config/${c === 0 ? "app.conf" : `conf.d/${c}.conf`}`] = `value = ${c}\n`;
    }
  }
  return files;
}

/** Part 3's repo: `count` busybox containers, each with its own volume (one service each). */
function applyRepo(count: number): { files: RepoFiles; flat: RepoFiles; units: string[] } {
  const files: RepoFiles = {};
  const flat: RepoFiles = {};
  const units: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = `b${String(i).padStart(3, "0")}`;
    const container = `[Container]
Image=${TEST_IMAGE}
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'
Volume=${s}.volume:/data

[Install]
WantedBy=multi-user.target
`;
    const volume = `[Volume]\nLabel=app=${s}\n`;
    files[`services/${s}/quadlet/${s}.container`] = container;
    files[`services/${s}/quadlet/${s}.volume`] = volume;
    flat[`${s}.container`] = container;
    flat[`${s}.volume`] = volume;
    units.push(`${s}-volume.service`, `${s}.service`);
  }
  return { files, flat, units };
}

let teardownInstalled = false;

/** What one test host measured, and what it is. */
export interface HostResult {
  rows: Row[];
  host: HostPackages;
  /** Lines printed after the table: part 2's phase marks. */
  notes: string[];
}

/**
 * Boots the test host of Debian `suite`, runs parts 2, 3 and 4b there, and
 * tears it down on every way out. Each row's `host` is the suite.
 */
export async function hostBench(
  suite: string,
  runs: HostRuns,
  say: (line: string) => void,
): Promise<HostResult> {
  const cfg = await loadConfig(suite);
  // Not under the e2e runs dir: a concurrent `deno task e2e` reaps every run
  // there whose process is not an e2e harness (tests/e2e/lib/guest.ts reapStale).
  const runRoot = `${cfg.cacheDir}/bench/${Deno.pid}`;
  const timings = new Timings();
  if (!teardownInstalled) {
    // Once per process: every suite's host lives under the same run root.
    teardownInstalled = true;
    installInterruptTeardown(
      () => say("\nbench: interrupted, tearing the test host down"),
      () => Deno.remove(runRoot, { recursive: true }).catch(() => {}),
    );
  }
  await ensureHostPackages();
  const pkg = await buildPackage(`${runRoot}/package`);
  const { pristine, host: packages } = await ensureRootfs(cfg, timings);
  say(`bench: test host ${suite}: systemd ${packages.systemd}, podman ${packages.podman}`);
  const guest = await Guest.boot({
    name: `bench-${suite}-${Deno.pid}`,
    pristine,
    runRoot,
    logDir: cfg.logDir,
    packageDir: pkg.dir,
    timings,
  });
  try {
    const host = new BenchHost(guest);
    await Deno.copyFile(GNU_TIME, `${guest.root}${GUEST_TIME}`);
    await Deno.chmod(`${guest.root}${GUEST_TIME}`, 0o755);
    const entry: Sample[] = [];
    for (let i = 0; i < 11; i++) entry.push(check("true", await host.measure(["true"])));
    host.overhead = summarize(entry.slice(1).map((s) => s.ms)).median;
    say(
      `bench: entering the guest costs ${
        host.overhead.toFixed(1)
      } ms (subtracted from every guest row)`,
    );
    const rows: Row[] = [];
    const notes: string[] = [];
    if (runs.startup > 0) rows.push(...await startupInGuest(host, runs.startup, say));
    if (runs.apply > 0) rows.push(...await firstApply(host, runs, say));
    if (runs.noChange > 0) rows.push(...await noChange(host, runs.noChange, say, notes, suite));
    if (runs.pull > 0) rows.push(...await pullDowntime(guest, runs.pull, say));
    return { rows: rows.map((r) => ({ ...r, host: suite })), host: packages, notes };
  } finally {
    // A failing teardown must not hide why the bench stopped.
    await guest.shutdown().catch((error) => say(`bench: test host teardown failed: ${error}`));
    await Deno.remove(runRoot, { recursive: true }).catch(() => {});
  }
}

/** Part 4b: start-up as installed on a host, from the read-only package mount. */
async function startupInGuest(
  host: BenchHost,
  runs: number,
  say: (l: string) => void,
): Promise<Row[]> {
  say("bench: 4b start-up in the test host (package mounted read-only, as installed)");
  await Deno.writeTextFile(`${host.guest.root}/var/tmp/empty.js`, "");
  const deno = "/usr/local/lib/core-ops/bin/deno";
  const [floor, subject] = await pairs(
    runs,
    async () =>
      check(
        "deno run empty",
        await host.measure(
          [deno, "run", "--quiet", "--no-config", "/var/tmp/empty.js"],
          { DENO_DIR: "/var/tmp/bench-deno-dir" },
        ),
      ),
    async () => check("core-ops --version", await host.measure(["core-ops", "--version"])),
  );
  // What any Deno program on this stack pays before doing anything: evaluating the npm
  // packages every core-ops command imports (the schema library and the TOML parser; the
  // command line needs no package since issue 15), from the package's own cache, warm, as
  // modules — the launcher runs them bundled, with the program (tools/package.ts).
  await Deno.writeTextFile(
    `${host.guest.root}/var/tmp/stack.ts`,
    'import "zod/mini";\nimport "smol-toml";\n',
  );
  // The release flags, the package's config, lock and npm packages, and a writable cache of
  // its own (the launcher's runs a bundle and has no npm/), warm after the first run.
  const stackDir = "/var/tmp/bench-stack-deno-dir";
  await host.ok(["mkdir", "-p", stackDir]);
  await host.ok(["ln", "-sfn", `${PACKAGE_ENV.DENO_DIR}/npm`, `${stackDir}/npm`]);
  const stack: Sample[] = [];
  for (let i = 0; i <= runs; i++) {
    const s = check(
      "deno run of the stack's imports",
      await host.measure(packagedDenoArgv(PRODUCTION, "/var/tmp/stack.ts"), {
        ...PACKAGE_ENV,
        DENO_DIR: stackDir,
      }),
    );
    if (i > 0) stack.push(s);
  }
  // The first run after install or a cache wipe: Deno parses and transpiles everything.
  const cold: Sample[] = [];
  for (let i = 0; i <= Math.min(runs, 5); i++) {
    await host.ok(["rm", "-rf", "/var/cache/core-ops"]);
    const s = check("core-ops --version (cold)", await host.measure(["core-ops", "--version"]));
    if (i > 0) cold.push(s);
  }
  const f = summarize(floor.map((s) => s.ms)).median;
  const m = summarize(subject.map((s) => s.ms)).median;
  const c = summarize(cold.map((s) => s.ms)).median;
  const st = summarize(stack.map((s) => s.ms)).median;
  return [
    sampleRow("4b", "floor: bare `deno run` of an empty script (in the test host)", floor),
    sampleRow(
      "4b",
      "the stack's floor: `deno run` of a script importing only zod/mini, smol-toml (as modules)",
      stack,
      { ratio: `${(st / f).toFixed(1)}× floor, +${(st - f).toFixed(0)} ms` },
    ),
    sampleRow(
      "4b",
      "`core-ops --version`, read-only package mount, warm /var/cache/core-ops",
      subject,
      {
        ratio: `${(m / f).toFixed(1)}× floor, +${(m - f).toFixed(0)} ms`,
      },
    ),
    sampleRow("4b", "`core-ops --version`, same, cold (cache removed before each run)", cold, {
      ratio: `${(c / f).toFixed(1)}× floor, +${(c - f).toFixed(0)} ms`,
    }),
  ];
}

/** Part 3: first apply of 50 containers + 50 volumes against copy + one reload + one start. */
async function firstApply(
  host: BenchHost,
  runs: HostRuns,
  say: (l: string) => void,
): Promise<Row[]> {
  say("bench: 3 first apply of 50 containers with 50 volumes");
  const { files, flat, units } = applyRepo(50);
  await host.write(APPLY_REPO, files);
  await host.ok(["git", "init", "-q", "-b", "main", APPLY_REPO]);
  await host.commit(APPLY_REPO, "50 containers");
  await host.write(APPLY_FLAT, flat);
  await host.script(
    "/usr/local/bin/bench-floor-apply",
    `#!/bin/sh
# The apply floor: copy the files, ONE daemon-reload, ONE start of every unit.
set -eu
cp ${APPLY_FLAT}/* ${QUADLET_DIR}/
systemctl daemon-reload
systemctl start ${units.join(" ")}
`,
  );
  const reset = async () => {
    // Not yet loaded on the first reset: stop may complain, which is fine.
    await host.guest.exec(["systemctl", "stop", ...units], { timeoutMs: 300_000 });
    await host.guest.exec(["systemctl", "reset-failed"]);
    await host.ok([
      "rm",
      "-rf",
      "/var/lib/core-ops",
      ...Object.keys(flat).map((f) => `${QUADLET_DIR}/${f}`),
    ]);
    await host.ok(["systemctl", "daemon-reload"]);
    await host.ok(["podman", "volume", "prune", "-f"]);
  };
  await host.ok(["mkdir", "-p", QUADLET_DIR]);
  const apply = (settle: string | null) => async () => {
    const args = ["core-ops", "apply", "--source-repo", APPLY_REPO, "--json"];
    if (settle !== null) args.push("--verify-settle", settle);
    const s = check(`apply (settle ${settle ?? "default"})`, await host.measure(args));
    const doc = JSON.parse(s.stdout) as { outcome: string };
    if (doc.outcome !== "success") throw new Error(`first apply: outcome ${doc.outcome}`);
    return s;
  };
  const floorRun = async () =>
    check("apply floor", await host.measure(["/usr/local/bin/bench-floor-apply"]));
  await reset();
  const [floor, settle0] = await pairs(runs.apply, floorRun, apply("0"), reset);
  const settle3: Sample[] = [];
  for (let i = 0; i < runs.applyDefaultSettle; i++) {
    await reset();
    settle3.push(await apply(null)());
  }
  await reset();
  const f = summarize(floor.map((s) => s.ms)).median;
  const m0 = summarize(settle0.map((s) => s.ms)).median;
  const m3 = summarize(settle3.map((s) => s.ms)).median;
  return [
    sampleRow("3", "apply floor: copy 100 files, 1 daemon-reload, 1 start of 100 units", floor),
    sampleRow("3", "first `apply`, 50 containers + 50 volumes, --verify-settle 0", settle0, {
      ratio: `${(m0 / f).toFixed(2)}× floor`,
      target: `≤ 1.3× floor: ${verdict(m0 <= 1.3 * f)}`,
    }),
    sampleRow("3", "first `apply`, same, default --verify-settle (3 s)", settle3, {
      ratio: `${(m3 / f).toFixed(2)}× floor`,
    }),
  ];
}

/**
 * Part 2: the no-change run at 50 and 500 artifacts against the no-change floor; then as many
 * ticks again with `CORE_OPS_TRACE=1`, whose phase marks go to `notes` (untimed: the marks'
 * writes are not in the table's figures).
 */
async function noChange(
  host: BenchHost,
  runs: number,
  say: (l: string) => void,
  notes: string[],
  suite: string,
): Promise<Row[]> {
  await host.ok(["git", "init", "-q", "--bare", "-b", "main", REMOTE]);
  await host.ok(["git", "init", "-q", "-b", "main", CHECKOUT]);
  await host.ok(["git", "-C", CHECKOUT, "remote", "add", "origin", REMOTE]);
  await host.ok(["mkdir", "-p", "/etc/core-ops"]);
  await Deno.writeTextFile(
    `${host.guest.root}${AGENT_TOML}`,
    `# The agent's view of the bench remote.\nrepo = "file://${REMOTE}"\nrev = "main"\n`,
  );
  await host.script(
    "/usr/local/bin/bench-floor-nochange",
    `#!/bin/sh
# The no-change floor: what any agent must do when nothing changed.
set -eu
git -C ${FLOOR_MIRROR} fetch --quiet --prune origin
git -C ${FLOOR_MIRROR} rev-parse --verify 'refs/heads/main^{commit}' >/dev/null
systemctl list-units --all --no-pager --no-legend --plain >/dev/null
`,
  );
  const rows: Row[] = [];
  for (const [services, artifacts] of [[5, 50], [50, 500]] as const) {
    say(`bench: 2 no-change run at ${artifacts} artifacts: converging the host first`);
    await host.write(CHECKOUT, noChangeRepo(services));
    await host.commit(CHECKOUT, `${artifacts} artifacts`);
    await host.ok(["git", "-C", CHECKOUT, "push", "-q", "origin", "main"]);
    if (artifacts === 50) await host.ok(["git", "clone", "-q", "--mirror", REMOTE, FLOOR_MIRROR]);
    const first = await host.ok([
      "core-ops",
      "apply",
      "--source-repo",
      CHECKOUT,
      "--json",
      "--verify-settle",
      "0",
    ]);
    const doc = JSON.parse(first.stdout) as { outcome: string; artifacts: unknown[] };
    if (doc.outcome !== "success" || doc.artifacts.length !== artifacts) {
      throw new Error(
        `converging ${artifacts} artifacts: outcome ${doc.outcome}, ${doc.artifacts.length} artifacts`,
      );
    }
    // A host between timer ticks: its files are older than the margin a stamp needs to stand
    // for their content (src/run/converged.ts). Ticks within it hash the files just written.
    await new Promise((r) => setTimeout(r, RACY_MS + 500));
    const [floor, subject] = await pairs(
      runs,
      async () =>
        check("no-change floor", await host.measure(["/usr/local/bin/bench-floor-nochange"])),
      async () => {
        const s = check(NO_CHANGE_LABEL, await host.measure(NO_CHANGE_RUN));
        const noop = NO_CHANGE_RUN[1] === "apply"
          ? (JSON.parse(s.stdout) as { outcome: string }).outcome === "noop"
          : s.stdout.startsWith("nothing to do: ");
        if (!noop) throw new Error(`the no-change run changed something:\n${s.stdout}`);
        return s;
      },
    );
    const traced: string[] = [];
    for (let i = 0; i < runs; i++) {
      const s = await host.measure(NO_CHANGE_RUN, { CORE_OPS_TRACE: "1" });
      traced.push(check(`${NO_CHANGE_LABEL}, traced`, s).stderr);
    }
    notes.push(
      ...phaseTable(`Phase marks of the no-change agent, ${suite}, ${artifacts} artifacts`, traced),
    );
    const f = summarize(floor.map((s) => s.ms)).median;
    const m = summarize(subject.map((s) => s.ms)).median;
    // Issue 11's target, then issue 15's (the same at both sizes).
    const target = (artifacts === 50
      ? `≤ floor + 150 ms: ${verdict(m - f <= 150)}`
      : `≤ 2× floor: ${verdict(m <= 2 * f)}`) + `; ≤ floor + 100 ms: ${verdict(m - f <= 100)}`;
    rows.push(
      sampleRow(
        "2",
        `no-change floor (fetch + rev-parse in a mirror, 1 list-units --all), ${artifacts} artifacts`,
        floor,
      ),
      sampleRow("2", `${NO_CHANGE_LABEL}, ${artifacts} artifacts`, subject, {
        ratio: `${(m / f).toFixed(2)}× floor, +${(m - f).toFixed(0)} ms`,
        target,
      }),
    );
  }
  return rows;
}
