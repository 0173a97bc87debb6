/**
 * `deno task bench`: what core-ops costs against floors measured in the same
 * session on the same machine (issue 11). Prints one table:
 *
 * 1. `plan --json` (no host: temp target dirs, the packaged launcher with the
 *    production permission flags) on generated repos of 500, 2,000 and
 *    10,000 files — wall time, peak RSS, growth 500 → 10,000.
 * 2. (root) the no-change run on a converged test host at 50 and 500
 *    artifacts against the no-change floor.
 * 3. (root) a first apply of 50 containers + 50 volumes against the apply floor.
 * 4. start-up of the shipped launcher (`core-ops --version`) against a bare
 *    `deno run` of an empty script — here (4a) and, as root, inside the test
 *    host from its read-only package mount (4b).
 * 5. (root) downtime of an image change seen from outside: with pre-pull,
 *    as before it, and a plain restart as the floor (lib/pull.ts).
 *
 * Usage: `deno task bench [--runs N] [--only plan,startup,nochange,apply,pull]
 * [--suites trixie,sid] [--out FILE]` (`--out` also writes the table as
 * markdown to FILE; `--only host` means `startup,nochange,apply,pull`). Parts 2, 3,
 * 4b and 5 boot ONE test host per Debian suite of `--suites` (default: every
 * suite the e2e harness knows, trixie and sid) one after the other, with the
 * e2e harness, and need root; without root they are reported as skipped. The
 * table's host column says where each figure comes from. Performance is judged
 * here, never in the test suite.
 *
 * @module
 */
import { buildPackage } from "../tools/package.ts";
import { hostBench } from "./lib/host.ts";
import { describeHost, SUITES } from "../tests/e2e/lib/suites.ts";
import { ensureGnuTime, measure, repeat } from "./lib/measure.ts";
import { BENCH_GIT_IDENTITY, BENCH_HOST, generateRepo, writeFiles } from "./lib/repo.ts";
import { renderTable, type Row, sampleRow, summarize, verdict } from "./lib/stats.ts";

const PARTS = ["plan", "startup", "nochange", "apply", "pull"] as const;
type Part = typeof PARTS[number];

interface Args {
  runs: number;
  only: Set<Part>;
  suites: string[];
  out: string | undefined;
}

function parseArgs(args: string[]): Args {
  let runs = 5;
  let only = new Set<Part>(PARTS);
  let suites = SUITES.map((s) => s.name);
  let out: string | undefined;
  const fail = (why: string): never => {
    console.error(
      `bench: ${why}\nusage: deno task bench [--runs N] [--only ${PARTS.join(",")}] ` +
        `[--suites ${suites.join(",")}] [--out FILE]`,
    );
    Deno.exit(64);
  };
  for (let i = 0; i < args.length; i++) {
    const value = () => args[++i] ?? fail(`${args[i - 1]} needs a value`);
    if (args[i] === "--runs") {
      runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1) fail("--runs must be a positive integer");
    } else if (args[i] === "--only") {
      // `host` is every part that boots the test host.
      const names = value().split(",").flatMap((n) =>
        n === "host" ? ["startup", "nochange", "apply", "pull"] : [n]
      );
      for (const n of names) if (!PARTS.includes(n as Part)) fail(`unknown part ${n}`);
      only = new Set(names as Part[]);
    } else if (args[i] === "--suites") {
      suites = value().split(",");
      for (const n of suites) if (!SUITES.some((s) => s.name === n)) fail(`unknown suite ${n}`);
    } else if (args[i] === "--out") out = value();
    else fail(`unknown argument ${args[i]}`);
  }
  return { runs, only, suites, out };
}

function say(line: string): void {
  console.error(line);
}

async function git(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("git", {
    args: [...BENCH_GIT_IDENTITY, "-C", dir, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** The launcher's cache dir for Deno (tools/package.ts) inside the bench's temp dir, not this machine's. */
function cacheEnv(tmp: string): Record<string, string> {
  return { CORE_OPS_CACHE_DIR: `${tmp}/cache` };
}

/** The growth curve of part 1: time and RSS per size, and the step between sizes. */
function growthLines(rows: readonly Row[]): string[] {
  const plan = rows.filter((r) => r.part === "1");
  if (plan.length === 0) return [];
  const sizes = [500, 2_000, 10_000];
  const lines = ["growth of `plan --json` with repo size (medians):", ""];
  lines.push("| files | wall | ms per 1,000 files | × 500-file time | peak RSS MiB |");
  lines.push("|---|---|---|---|---|");
  plan.forEach((r, i) => {
    const perK = r.ms.median / (sizes[i] / 1000);
    lines.push(
      `| ${sizes[i].toLocaleString("en")} | ${r.ms.median.toFixed(0)} ms | ${perK.toFixed(0)} | ${
        (r.ms.median / plan[0].ms.median).toFixed(1)
      } | ${r.rssMiB?.median.toFixed(0)} |`,
    );
  });
  return lines;
}

/** Part 1: plan --json on generated repos; returns one row per size. */
async function planBench(launcher: string, tmp: string, runs: number): Promise<Row[]> {
  const rows: Row[] = [];
  const medians = new Map<number, number>();
  let peak = 0;
  for (const size of [500, 2_000, 10_000]) {
    const repo = `${tmp}/repo-${size}`;
    await writeFiles(repo, generateRepo(size));
    await git(repo, ["init", "-q", "-b", "main"]);
    await git(repo, ["add", "-A"]);
    await git(repo, ["commit", "-q", "-m", `${size} files`]);
    const target = `${tmp}/target-${size}`;
    for (const d of ["quadlet", "systemd", "etc", "state"]) {
      await Deno.mkdir(`${target}/${d}`, { recursive: true });
    }
    const argv = [
      launcher,
      "plan",
      "--json",
      "--source-repo",
      repo,
      "--host",
      BENCH_HOST,
      "--quadlet-dir",
      `${target}/quadlet`,
      "--systemd-unit-dir",
      `${target}/systemd`,
      "--config-dir",
      `${target}/etc`,
      "--state-dir",
      `${target}/state`,
    ];
    say(`bench: 1 plan --json on ${size} files`);
    const samples = await repeat(`plan ${size}`, runs, () => measure(argv, { env: cacheEnv(tmp) }));
    const doc = JSON.parse(samples[0].stdout) as { artifacts: unknown[]; actions: unknown[] };
    const row = sampleRow(
      "1",
      `\`plan --json\`, ${
        size.toLocaleString("en")
      } files (${doc.artifacts.length} artifacts, ${doc.actions.length} actions)`,
      samples,
    );
    medians.set(size, row.ms.median);
    peak = Math.max(peak, row.rssMiB!.max);
    if (size === 10_000) {
      const growth = row.ms.median / medians.get(500)!;
      row.ratio = `${growth.toFixed(1)}× the 500-file time`;
      row.target = `≤ 2 s: ${verdict(row.ms.median <= 2000)}; ≤ 25×: ${
        verdict(growth <= 25)
      }; RSS ≤ 150 MB: ${verdict(row.rssMiB!.max * 1.048576 <= 150)}`;
    } else if (size === 2_000) {
      row.ratio = `${(row.ms.median / medians.get(500)!).toFixed(1)}× the 500-file time`;
    }
    rows.push(row);
  }
  return rows;
}

/** Part 4a: start-up of the launcher on this machine against a bare deno run. */
async function startupBench(pkg: string, tmp: string, runs: number): Promise<Row[]> {
  say("bench: 4a start-up of the packaged launcher (this machine, writable package)");
  const empty = `${tmp}/empty.js`;
  await Deno.writeTextFile(empty, "");
  const runs10 = Math.max(runs, 10);
  const floor = await repeat(
    "deno run empty",
    runs10,
    () =>
      measure([`${pkg}/bin/deno`, "run", "--quiet", "--no-config", empty], {
        env: { DENO_DIR: `${tmp}/deno-dir`, DENO_NO_UPDATE_CHECK: "1" },
      }),
  );
  const subject = await repeat(
    "core-ops --version",
    runs10,
    () => measure([`${pkg}/bin/core-ops`, "--version"], { env: cacheEnv(tmp) }),
  );
  const f = summarize(floor.map((s) => s.ms)).median;
  const m = summarize(subject.map((s) => s.ms)).median;
  return [
    sampleRow("4a", "floor: bare `deno run` of an empty script", floor),
    sampleRow("4a", "`bin/core-ops --version` of the offline package (warm cache)", subject, {
      ratio: `${(m / f).toFixed(1)}× floor, +${(m - f).toFixed(0)} ms`,
    }),
  ];
}

async function machine(): Promise<string> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown";
  const mem = Number(
    (await Deno.readTextFile("/proc/meminfo")).match(/^MemTotal:\s*(\d+)/m)?.[1] ?? 0,
  );
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  return `${navigator.hardwareConcurrency} CPUs (nproc), ${model}, ${
    (mem / 1024 / 1024).toFixed(1)
  } GiB RAM, ` +
    `kernel ${Deno.osRelease()}, load average at start ${load}`;
}

async function main(): Promise<void> {
  const { runs, only, suites, out } = parseArgs(Deno.args);
  await ensureGnuTime();
  const started = new Date();
  const machineLine = await machine();
  const tmp = await Deno.makeTempDir({ prefix: "core-ops-bench-" });
  const rows: Row[] = [];
  const notes: string[] = [];
  const hosts: string[] = [];
  try {
    if (only.has("plan") || only.has("startup")) {
      say("bench: building the offline package (tools/package.ts)");
      const pkg = await buildPackage(`${tmp}/package`);
      if (only.has("plan")) rows.push(...await planBench(`${pkg.dir}/bin/core-ops`, tmp, runs));
      if (only.has("startup")) rows.push(...await startupBench(pkg.dir, tmp, runs));
    }
    if (only.has("startup") || only.has("nochange") || only.has("apply") || only.has("pull")) {
      if (Deno.uid() !== 0) {
        notes.push("parts 2, 3, 4b and 5 skipped: they boot a test host and need root");
      } else {
        for (const suite of suites) {
          const result = await hostBench(suite, {
            noChange: only.has("nochange") ? runs : 0,
            apply: only.has("apply") ? Math.max(2, Math.ceil(runs / 2)) : 0,
            applyDefaultSettle: only.has("apply") ? 2 : 0,
            startup: only.has("startup") ? Math.max(runs, 10) : 0,
            pull: only.has("pull") ? Math.max(2, Math.ceil(runs / 2)) : 0,
          }, say);
          rows.push(...result.rows);
          notes.push(...result.notes);
          hosts.push(`- ${suite}: ${describeHost(result.host)}, booted with systemd-nspawn`);
        }
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  const peak = Math.max(...rows.flatMap((r) => r.rssMiB ? [r.rssMiB.max * 1.048576] : [0]));
  const lines = [
    `core-ops bench, ${started.toISOString()}, ${runs} runs per measurement after one warm-up (part 3: fewer, see "n")`,
    `machine: ${machineLine}`,
    ...(hosts.length > 0 ? ["test hosts (the host column):", ...hosts] : []),
    "",
    renderTable(rows),
    "",
    ...growthLines(rows),
    "",
    `peak RSS of any run: ${peak.toFixed(0)} MB (target ≤ 150 MB: ${verdict(peak <= 150)})`,
    ...(notes.length > 0 ? ["", ...notes] : []),
  ];
  console.log(lines.join("\n"));
  if (out) await Deno.writeTextFile(out, lines.join("\n") + "\n");
}

if (import.meta.main) await main();
