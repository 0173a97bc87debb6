/**
 * `deno task compile`: one `deno compile`d executable per release
 * architecture (tools/targets.ts) with the production permission flags of
 * tools/permissions.ts baked in, built from a stamped copy of the program
 * (tools/package.ts, `stageApp`), so `--version` names its commit.
 *
 * Environment:
 * - `DENORT_BIN_X86_64`, `DENORT_BIN_AARCH64`: the Deno standalone runtime
 *   (`denort`) to build the x86_64 or aarch64 binary on. `deno compile` does
 *   not embed the program into the `deno` CLI but into `denort`, which it
 *   downloads from Deno's release server (and caches in DENO_DIR) for the
 *   running Deno version and the target. Where that server cannot be reached,
 *   set the target's variable to a denort of exactly the version in
 *   package.json (the release asset `denort-<target>.zip`, unzipped: target
 *   `x86_64-unknown-linux-gnu` or `aarch64-unknown-linux-gnu`). The `deno` CLI
 *   binary is not a denort: a binary built on it ignores the embedded program,
 *   and this tool rejects it. `DENORT_BIN` (Deno's own variable) is taken as
 *   the x86_64 one when `DENORT_BIN_X86_64` is unset, and never reaches
 *   another target's build.
 *
 * Without the variable and without the release server this fails with a
 * message saying so; it never leaves a binary that does not work. Every build
 * is an ELF for its machine and is checked by running `<binary> --version`
 * with an empty environment — under qemu-user for a foreign architecture
 * (tools/targets.ts, `runnerFor`); where it cannot be run, it is not shipped.
 *
 * Usage: `deno task compile [--arch x86_64|aarch64] [--out FILE]` (default:
 * this machine's architecture, `dist/core-ops-bin`)
 *
 * @module
 */
import { PRODUCTION, toFlags } from "./permissions.ts";
import { checkLockSubset, outArgument, PackageError, stageApp } from "./package.ts";
import { formatVersion } from "../src/version.ts";
import {
  type Arch,
  checkElf,
  hostArch,
  parseArch,
  runnerFor,
  type Target,
  TARGETS,
} from "./targets.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Thrown when no working binary can be produced. */
export class CompileError extends Error {
  override name = "CompileError";
}

/** The denort the build for `target` uses, from the environment (undefined: deno downloads it). */
export function denortFor(target: Target): string | undefined {
  const own = Deno.env.get(target.denortVariable);
  if (own) return own;
  return target.arch === "x86_64" ? Deno.env.get("DENORT_BIN") || undefined : undefined;
}

/**
 * Compiles main.ts for `arch` (default: this machine's) into `out` and checks
 * the result; returns the printed version line.
 */
export async function compile(
  out = `${REPO}/dist/core-ops-bin`,
  arch: Arch = hostArch() ?? "x86_64",
): Promise<string> {
  const target = TARGETS[arch];
  const denort = denortFor(target);
  if (denort) {
    const info = await Deno.stat(denort).catch(() => undefined);
    if (!info?.isFile) throw new CompileError(`${variableOf(target)}=${denort} is not a file`);
  }
  // Checked before building: a binary nobody can run here is never written.
  const runner = await runnerFor(target);
  if (runner === undefined) {
    throw new CompileError(
      `cannot check an ${arch} binary on this ${hostArch() ?? Deno.build.arch} machine: ` +
        `install qemu-user (${target.qemu}) and ${arch}'s libc in ${target.crossRoot} ` +
        `(Debian: qemu-user-static libc6-${arch === "aarch64" ? "arm64" : "amd64"}-cross), ` +
        `or build on ${arch}. No binary was written.`,
    );
  }
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || "/", { recursive: true });
  const partial = `${out}.partial`;
  const work = await Deno.makeTempDir({ prefix: "core-ops-compile-" });
  try {
    const app = `${work}/app`;
    const expected = formatVersion(await stageApp(REPO, app));
    // Deno's own variable is set only to this target's denort, or not at all.
    const env = Deno.env.toObject();
    delete env.DENORT_BIN;
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--quiet",
        `--target=${target.denoTarget}`,
        // Same lock treatment as the package: package.json only pins the dev
        // runtime, and deno must not record anything into the checkout's lock.
        `--config=${app}/deno.json`,
        `--lock=${app}/deno.lock`,
        ...toFlags(PRODUCTION),
        `--output=${partial}`,
        `${app}/main.ts`,
      ],
      clearEnv: true,
      env: {
        ...env,
        ...(denort ? { DENORT_BIN: denort } : {}),
        DENO_NO_PACKAGE_JSON: "1",
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      },
      cwd: app,
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    if (!result.success) {
      await Deno.remove(partial).catch(() => {});
      throw new CompileError(explain(stderr, target, denort));
    }
    await checkLockSubset(`${REPO}/deno.lock`, `${app}/deno.lock`);
    await verify(partial, target, runner, denort, expected);
    await Deno.rename(partial, out);
    return expected;
  } finally {
    await Deno.remove(partial).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
}

/** The variable a denort came from, for messages. */
function variableOf(target: Target): string {
  return Deno.env.get(target.denortVariable) ? target.denortVariable : "DENORT_BIN";
}

function explain(stderr: string, target: Target, denort: string | undefined): string {
  // Deno appends an empty "Stack backtrace" to errors; it only hides the cause.
  const cut = stderr.indexOf("Stack backtrace:");
  const text = (cut >= 0 ? stderr.slice(0, cut) : stderr).trimEnd();
  const tail = text.split("\n").slice(-8).map((l) => `  | ${l}`).join("\n");
  const download = /denort|dl\.deno|error sending request|dns error/i.test(stderr);
  if (!denort && download) {
    return `deno compile needs the denort runtime for Deno ${Deno.version.deno} and ` +
      `${target.denoTarget}, which it downloads from Deno's release server, and that download ` +
      `failed (no route to it from this machine). No binary was written. Set ` +
      `${target.denortVariable}=/path/to/denort (the same version, unzipped from the release ` +
      `asset denort-${target.denoTarget}.zip), or run where the release server is reachable. ` +
      `deno said:\n${tail}`;
  }
  return `deno compile failed${
    denort ? ` (${variableOf(target)}=${denort})` : ""
  }; no binary was written:\n${tail}`;
}

/** Runs the new binary the way a host would; a binary that does not answer is not shipped. */
async function verify(
  binary: string,
  target: Target,
  runner: string[],
  denort: string | undefined,
  expected: string,
): Promise<void> {
  try {
    await checkElf(binary, target);
  } catch (error) {
    throw new CompileError(
      `${error instanceof Error ? error.message : String(error)}${
        denort ? ` (${variableOf(target)}=${denort} is no ${target.arch} denort)` : ""
      }. No binary was written.`,
    );
  }
  const argv = [...runner, binary, "--version"];
  const result = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
    cwd: "/",
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(result.stdout).trim();
  if (result.success && stdout === expected) return;
  const hint = denort
    ? ` ${variableOf(target)}=${denort} does not look like a denort of Deno ${Deno.version.deno} ` +
      `(the deno CLI is not one: it ignores the embedded program).`
    : "";
  throw new CompileError(
    `the compiled binary does not work: \`${argv.join(" ")}\` exited ${result.code} ` +
      `printing ${JSON.stringify(stdout.slice(0, 200))}, expected ${expected}.${hint} ` +
      `No binary was written.`,
  );
}

if (import.meta.main) {
  const usage = "usage: deno task compile [--arch x86_64|aarch64] [--out FILE]";
  const target = outArgument(usage);
  const archIndex = Deno.args.indexOf("--arch");
  const arch = archIndex < 0 ? undefined : parseArch(Deno.args[archIndex + 1] ?? "");
  if (archIndex >= 0 && arch === undefined) {
    console.error(usage);
    Deno.exit(64);
  }
  try {
    const version = await compile(target, arch);
    console.log(`compile: ${target ?? `${REPO}/dist/core-ops-bin`} (core-ops ${version})`);
  } catch (error) {
    if (!(error instanceof CompileError || error instanceof PackageError)) throw error;
    console.error(`compile: ${error.message}`);
    Deno.exit(1);
  }
}
