/**
 * `deno task compile`: the release artifact, one `deno compile`d executable
 * (`dist/core-ops-bin`) with the production permission flags of
 * tools/permissions.ts baked in.
 *
 * Environment:
 * - `DENORT_BIN=/path/to/denort`: the Deno standalone runtime to build on.
 *   `deno compile` does not embed the program into the `deno` CLI but into
 *   `denort`, which it downloads from Deno's release server (and caches in
 *   DENO_DIR) for the running Deno version. Where that server cannot be
 *   reached, set DENORT_BIN to a denort of exactly the version in
 *   package.json (the `denort-x86_64-unknown-linux-gnu.zip` release asset,
 *   unzipped). The `deno` CLI binary itself is not a denort: a binary built on
 *   it ignores the embedded program, and this tool rejects it.
 *
 * Without DENORT_BIN and without network access to the release server this
 * fails with a message saying so; it never leaves a binary that does not work.
 * Every build is checked by running `<binary> --version` with an empty
 * environment.
 *
 * Usage: `deno task compile [--out FILE]`
 *
 * @module
 */
import { PRODUCTION, toFlags } from "./permissions.ts";
import { checkLockSubset, outArgument, PackageError } from "./package.ts";
import { VERSION } from "../src/version.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Thrown when no working binary can be produced. */
export class CompileError extends Error {
  override name = "CompileError";
}

/** Compiles main.ts into `out` and checks the result; returns the printed version. */
export async function compile(out = `${REPO}/dist/core-ops-bin`): Promise<string> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    const info = await Deno.stat(denort).catch(() => undefined);
    if (!info?.isFile) throw new CompileError(`DENORT_BIN=${denort} is not a file`);
  }
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || "/", { recursive: true });
  const partial = `${out}.partial`;
  const work = await Deno.makeTempDir({ prefix: "core-ops-compile-" });
  try {
    // Same lock treatment as the package: package.json only pins the dev
    // runtime, and deno must not record anything into the checkout's lock.
    const lock = `${work}/deno.lock`;
    await Deno.copyFile(`${REPO}/deno.lock`, lock);
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--quiet",
        `--config=${REPO}/deno.json`,
        `--lock=${lock}`,
        ...toFlags(PRODUCTION),
        `--output=${partial}`,
        `${REPO}/main.ts`,
      ],
      env: { DENO_NO_PACKAGE_JSON: "1", DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      cwd: REPO,
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    if (!result.success) {
      await Deno.remove(partial).catch(() => {});
      throw new CompileError(explain(stderr, denort));
    }
    await checkLockSubset(`${REPO}/deno.lock`, lock);
    const version = await verify(partial, denort);
    await Deno.rename(partial, out);
    return version;
  } finally {
    await Deno.remove(partial).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
}

function explain(stderr: string, denort: string | undefined): string {
  // Deno appends an empty "Stack backtrace" to errors; it only hides the cause.
  const cut = stderr.indexOf("Stack backtrace:");
  const text = (cut >= 0 ? stderr.slice(0, cut) : stderr).trimEnd();
  const tail = text.split("\n").slice(-8).map((l) => `  | ${l}`).join("\n");
  const download = /denort|dl\.deno|error sending request|dns error/i.test(stderr);
  if (!denort && download) {
    return `deno compile needs the denort runtime for Deno ${Deno.version.deno}, which it ` +
      `downloads from Deno's release server, and that download failed (no route to it from ` +
      `this machine). No binary was written. Set DENORT_BIN=/path/to/denort (the same ` +
      `version, unzipped from the release asset denort-x86_64-unknown-linux-gnu.zip), or run ` +
      `where the release server is reachable. deno said:\n${tail}`;
  }
  return `deno compile failed${
    denort ? ` (DENORT_BIN=${denort})` : ""
  }; no binary was written:\n${tail}`;
}

/** Runs the new binary the way a host would; a binary that does not answer is not shipped. */
async function verify(binary: string, denort: string | undefined): Promise<string> {
  const result = await new Deno.Command(binary, {
    args: ["--version"],
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
    cwd: "/",
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(result.stdout).trim();
  if (result.success && stdout === VERSION) return stdout;
  const hint = denort
    ? ` DENORT_BIN=${denort} does not look like a denort of Deno ${Deno.version.deno} ` +
      `(the deno CLI is not one: it ignores the embedded program).`
    : "";
  throw new CompileError(
    `the compiled binary does not work: \`${binary} --version\` exited ${result.code} ` +
      `printing ${JSON.stringify(stdout.slice(0, 200))}, expected ${VERSION}.${hint} ` +
      `No binary was written.`,
  );
}

if (import.meta.main) {
  const target = outArgument("usage: deno task compile [--out FILE]");
  try {
    const version = await compile(target);
    console.log(`compile: ${target ?? `${REPO}/dist/core-ops-bin`} (core-ops ${version})`);
  } catch (error) {
    if (!(error instanceof CompileError || error instanceof PackageError)) throw error;
    console.error(`compile: ${error.message}`);
    Deno.exit(1);
  }
}
