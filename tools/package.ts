/**
 * `deno task package`: builds the offline install trees, one per release
 * architecture (tools/targets.ts), for a host with no Node, no Deno and no
 * network:
 *
 * ```
 * dist/core-ops-<arch>-linux/      arch: x86_64, aarch64
 *   bin/core-ops   launcher (POSIX sh): production permission flags, --cached-only
 *   bin/deno       the Deno runtime this checkout pins in package.json, for <arch>
 *   app/           main.ts, src/ (with its build stamp), deno.json, deno.lock
 *   app/bundle/    that program bundled: main.js and its chunks, with source maps
 *   deno-dir/npm/  every npm dependency, at the versions and hashes deno.lock pins
 * ```
 *
 * The launcher runs the bundle. Deno pays for every module it loads
 * (resolution, a code-cache lookup, evaluation): the source is ~160 modules
 * on a no-change agent tick, most of them zod's, while the bundle is a few
 * chunks, split at the program's own dynamic imports so that a tick loads
 * what it runs and no more (bench/, issue 15). It is built from the staged,
 * stamped source against the lock, for a runtime without Node built-ins
 * (`--platform browser`: a package's Node build would pull in Deno's Node
 * layer, ~18 ms more on every start), and its source maps point back into
 * app/src, so a stack trace names the TypeScript. The source and its
 * dependencies stay in the tree: what the bundle was built from, runnable
 * offline with the same runtime.
 *
 * The launcher finds the tree through its own resolved path, so it works from
 * any cwd, through a symlink (e.g. /usr/local/bin/core-ops), with an empty
 * environment and from a read-only mount.
 *
 * `app/src/build_stamp.ts` says which commit the tree was built from and
 * whether its work tree had changes, so `core-ops --version` tells without git.
 *
 * package.json stays behind: it only pins the Deno runtime for development,
 * and the packaged program must never pick up one from a parent directory.
 * The package runs with DENO_NO_PACKAGE_JSON=1 and carries its own deno.lock,
 * derived from the checkout's: the same npm entries without the package.json
 * section, checked to pin nothing the checkout's lock does not. The npm
 * dependencies are plain JavaScript: this machine's Deno fetches them once,
 * for every architecture.
 *
 * Each tree is checked before it replaces the previous one: this machine's
 * architecture by running its launcher (`--version`, empty environment, no
 * network); another architecture by its layout (the runtime is an ELF for
 * that machine; launcher, code and dependencies present) and, where qemu-user
 * and that architecture's libc are installed, by running the packaged runtime
 * on the packaged code under qemu (tools/targets.ts, `runnerFor`).
 *
 * Usage: `deno task package [--arch x86_64|aarch64] [--out DIR]` (default:
 * every architecture, into dist/)
 *
 * @module
 */
import { type PermissionSet, PRODUCTION, toFlags } from "./permissions.ts";
import { builtFrom as gitBuiltFrom } from "../src/host/git.ts";
import { type BuiltFrom, formatVersion } from "../src/version.ts";
import {
  type Arch,
  ARCHES,
  checkElf,
  denoRuntime,
  hostArch,
  parseArch,
  runnerFor,
  type Target,
  TargetError,
  TARGETS,
} from "./targets.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Files and dirs of the checkout that make up the program. */
const APP_ENTRIES = ["main.ts", "src", "deno.json", "deno.lock"] as const;

/** The result of {@link buildPackage}. */
export interface PackageInfo {
  /** Absolute path of the package tree. */
  dir: string;
  arch: Arch;
  /** What the packaged `--version` printed, or will print (a layout-only check). */
  version: string;
  /**
   * How the tree was checked: its launcher run here, its runtime run under
   * qemu-user, or (no way to run it here) its layout only.
   */
  checked: "launcher" | "qemu" | "layout";
}

/** How to build a package. */
export interface PackageOptions {
  /** Default: this machine's architecture. */
  arch?: Arch;
  /** The checkout to package (default: this one); its git state is stamped. */
  source?: string;
}

/** Thrown when the package cannot be built or does not work once built. */
export class PackageError extends Error {
  override name = "PackageError";
}

/** Where `deno task package` puts the tree for `arch` under `dir`. */
export function packageDir(dir: string, arch: Arch): string {
  return `${dir}/core-ops-${arch}-linux`;
}

/**
 * Builds the package into `outDir` (replacing it only once the new tree is
 * complete and checked), and returns where it is.
 */
export async function buildPackage(
  outDir?: string,
  options: PackageOptions = {},
): Promise<PackageInfo> {
  const here = hostArch();
  const arch = options.arch ?? here ?? "x86_64";
  const source = options.source ?? REPO;
  const target = TARGETS[arch];
  const dir = outDir ?? packageDir(`${REPO}/dist`, arch);
  const staging = `${dir}.partial`;
  const work = await Deno.makeTempDir({ prefix: "core-ops-package-" });
  try {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${staging}/bin`, { recursive: true });
    const built = await stageApp(source, `${staging}/app`);

    const runtime = await denoRuntime(target, work);
    await Deno.copyFile(runtime, `${staging}/bin/deno`);
    await Deno.chmod(`${staging}/bin/deno`, 0o755);

    // The dependencies are fetched by a Deno that runs here: the tree's own, or this machine's.
    const fetcher = here === arch || here === undefined
      ? `${staging}/bin/deno`
      : await denoRuntime(TARGETS[here], work);
    await cacheDependencies(staging, fetcher, source);
    await bundleApp(staging, fetcher);
    await Deno.writeTextFile(`${staging}/bin/core-ops`, launcher());
    await Deno.chmod(`${staging}/bin/core-ops`, 0o755);

    const expected = formatVersion(built);
    const checked = await verify(staging, target, expected);
    // The check itself ran Deno, which filled caches that only fit this path.
    await pruneDenoDir(staging);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(staging, dir);
    return { dir, arch, version: expected, checked };
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (error instanceof TargetError) throw new PackageError(error.message);
    throw error;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/**
 * Copies the program (main.ts, src/, deno.json, deno.lock) from the checkout
 * at `source` into `appDir` and stamps it with the checkout's git state;
 * returns that state. The copy is what gets packaged or compiled.
 */
export async function stageApp(source: string, appDir: string): Promise<BuiltFrom> {
  await Deno.mkdir(appDir, { recursive: true });
  for (const entry of APP_ENTRIES) await copyTree(`${source}/${entry}`, `${appDir}/${entry}`);
  const built = await gitBuiltFrom(source);
  const stamp = `${appDir}/${STAMP_FILE}`;
  // Replaces the checkout's "not stamped" module; a renamed one must not go unnoticed.
  if (!(await Deno.stat(stamp).catch(() => undefined))?.isFile) {
    throw new PackageError(`${source}/${STAMP_FILE} is missing: nothing to stamp`);
  }
  await Deno.writeTextFile(stamp, stampModule(built));
  return built;
}

/** The stamp file, relative to the checkout. */
const STAMP_FILE = "src/build_stamp.ts";

/** src/build_stamp.ts as a build writes it. */
export function stampModule(built: BuiltFrom): string {
  return `// Generated by tools/package.ts (stageApp) when this copy was built: do not edit.

/** The tree this copy was built from. */
export const STAMP: { commit: string | null; dirty: boolean } | null = ${JSON.stringify(built)};
`;
}

/** The caller's environment (proxies, registry settings) with the package's Deno settings. */
function denoEnv(tree: string): Record<string, string> {
  return {
    ...Deno.env.toObject(),
    DENO_DIR: `${tree}/deno-dir`,
    DENO_NO_PACKAGE_JSON: "1",
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
  };
}

interface Lockfile {
  specifiers?: Record<string, string>;
  npm?: Record<string, { integrity?: string }>;
}

/**
 * Fills `<tree>/deno-dir` with the npm packages the program imports, and lets
 * Deno fit the packaged lockfile to a tree without package.json. Deno may
 * only drop entries while doing so: a package or integrity that the
 * checkout's deno.lock does not pin means that lock is out of date, and then
 * nothing ships.
 */
async function cacheDependencies(tree: string, deno: string, source: string): Promise<void> {
  await denoIn(tree, deno, "cache", [`${tree}/app/main.ts`]);
  await checkLockSubset(`${source}/deno.lock`, `${tree}/app/deno.lock`);
  await pruneDenoDir(tree);
}

/** Runs `deno <command>` on the tree's program, its config, lock and npm cache. */
async function denoIn(tree: string, deno: string, command: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(deno, {
    args: [
      command,
      "--quiet",
      `--config=${tree}/app/deno.json`,
      `--lock=${tree}/app/deno.lock`,
      ...args,
    ],
    env: denoEnv(tree),
    clearEnv: true,
    stdin: "null",
  }).output();
  if (!out.success) {
    throw new PackageError(
      `deno ${command} failed (exit ${out.code}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** The program the launcher runs, relative to the tree: the bundled main.ts. */
export const BUNDLE_MAIN = "app/bundle/main.js";

/**
 * Bundles `<tree>/app/main.ts` into `<tree>/app/bundle/` with `deno`, from the
 * npm packages {@link cacheDependencies} put in `<tree>/deno-dir` (see the
 * module doc). The bundle must import nothing but its own chunks: an import of
 * `node:`, `npm:` or a URL would load code from outside the tree at run time.
 */
async function bundleApp(tree: string, deno: string): Promise<void> {
  await denoIn(tree, deno, "bundle", [
    "--no-remote",
    "--frozen-lockfile",
    "--platform=browser",
    "--code-splitting",
    "--minify",
    "--keep-names",
    "--sourcemap=linked",
    `--outdir=${tree}/app/bundle`,
    `${tree}/app/main.ts`,
  ]);
  for await (const entry of Deno.readDir(`${tree}/app/bundle`)) {
    if (!entry.name.endsWith(".js")) continue;
    const code = await Deno.readTextFile(`${tree}/app/bundle/${entry.name}`);
    const outside = foreignImport(code);
    if (outside !== null) {
      throw new PackageError(`the bundle imports ${outside} (app/bundle/${entry.name})`);
    }
  }
}

/**
 * The first import of `code` (bundled JavaScript) that names something other
 * than a file beside it — `node:…`, `npm:…`, `jsr:…` or a URL — or `null`. Pure.
 */
export function foreignImport(code: string): string | null {
  const found = /\b(?:from|import)\s*\(?\s*["'`]((?:node|npm|jsr|https?|file|data):[^"'`]*)["'`]/
    .exec(code);
  return found === null ? null : found[1];
}

/**
 * Throws unless every npm package and specifier in the lockfile at `derived`
 * is pinned, with the same integrity, in the lockfile at `pinned`: a build
 * may drop entries from the checkout's lock but never add or change one.
 */
export async function checkLockSubset(pinned: string, derived: string): Promise<void> {
  const want: Lockfile = JSON.parse(await Deno.readTextFile(pinned));
  const got: Lockfile = JSON.parse(await Deno.readTextFile(derived));
  for (const [name, entry] of Object.entries(got.npm ?? {})) {
    if (want.npm?.[name]?.integrity !== entry.integrity) {
      throw new PackageError(
        `npm:${name} is not pinned in deno.lock with this integrity; update the lock ` +
          `(deno install) and commit it first`,
      );
    }
  }
  for (const [specifier, resolved] of Object.entries(got.specifiers ?? {})) {
    if (want.specifiers?.[specifier] !== resolved) {
      throw new PackageError(`${specifier} is not pinned in deno.lock; update and commit the lock`);
    }
  }
}

/**
 * Keeps only the npm cache: Deno's other caches are keyed by absolute paths
 * of this build tree and would never hit where the package is installed.
 */
async function pruneDenoDir(tree: string): Promise<void> {
  for await (const entry of Deno.readDir(`${tree}/deno-dir`)) {
    if (entry.name !== "npm") {
      await Deno.remove(`${tree}/deno-dir/${entry.name}`, { recursive: true });
    }
  }
}

/** Quotes `value` for POSIX sh. */
function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The arguments the launcher gives the packaged runtime before the caller's,
 * for the tree at `root` (the release permissions unless told otherwise: the
 * e2e fault matrix arms its pause points so); the layout check runs a foreign
 * runtime with them.
 */
export function runtimeArgs(root: string, permissions: PermissionSet = PRODUCTION): string[] {
  return [
    "run",
    "--quiet",
    "--cached-only",
    "--no-remote",
    // The bundle imports only its own chunks: no config, import map or lock applies.
    "--no-config",
    "--no-lock",
    ...toFlags(permissions),
    `${root}/${BUNDLE_MAIN}`,
  ];
}

/** The launcher script; the permission flags are baked in from tools/permissions.ts. */
function launcher(): string {
  // The tree's path is only known when the launcher runs: "$root", spliced into the quoting.
  const ROOT = "\u0000root\u0000";
  const args = runtimeArgs(ROOT).map((a) => shQuote(a).replaceAll(ROOT, `'"$root"'`))
    .join(" \\\n  ");
  return `#!/bin/sh
# core-ops launcher, generated by tools/package.ts: do not edit.
# Runs the packaged code with the release permission flags (tools/permissions.ts),
# from this tree only: no network, no files outside it.
set -eu
# Every timer tick runs this: the only process it starts before Deno is
# readlink -f (no dirname, id or a second readlink; bench/, issue 11).
self=$(readlink -f -- "$0")
root=\${self%/*}
root=\${root%/*}
DENO_DIR="$root/deno-dir"
# Deno keeps its V8 code cache in DENO_DIR. The tree is usually read-only (a
# package, a read-only mount), and without that cache every run compiles the
# whole program again: tens of ms more per timer tick (bench/, issue 11). So
# it goes to a private cache dir when one is writable — /var/cache/core-ops for
# root, else the user's cache, or CORE_OPS_CACHE_DIR.
# A dir that is a symlink or not ours is never used; any failure keeps the tree's.
# (-O is "owned by the effective user": only root passes it on root's dir.)
cache=/var/cache/core-ops/deno-dir
if [ -n "\${CORE_OPS_CACHE_DIR:-}" ]; then
  cache="$CORE_OPS_CACHE_DIR/deno-dir"
elif ! { [ -d "$cache" ] && [ -O "$cache" ]; } && [ "$(id -u)" != 0 ]; then
  cache="\${XDG_CACHE_HOME:-\${HOME:-/nonexistent}/.cache}/core-ops/deno-dir"
fi
if { [ -d "$cache" ] || (umask 077 && mkdir -p -- "$cache") 2>/dev/null; } && [ ! -L "$cache" ] && [ -O "$cache" ] && [ -w "$cache" ]; then
  DENO_DIR="$cache"
fi
# A package.json found in a parent dir must not count: nothing here is an npm project.
DENO_NO_PACKAGE_JSON=1
DENO_NO_UPDATE_CHECK=1
export DENO_DIR DENO_NO_PACKAGE_JSON DENO_NO_UPDATE_CHECK
exec "$root/bin/deno" \\
  ${args} \\
  "$@"
`;
}

/**
 * Checks the tree: see the module doc. Returns how. `expected` is the
 * `--version` line its stamp makes.
 */
async function verify(tree: string, target: Target, expected: string) {
  await checkLayout(tree, target);
  const runner = await runnerFor(target);
  if (runner === undefined) return "layout" as const;
  const probe = await Deno.makeTempDir({ prefix: "core-ops-package-check-" });
  try {
    const isolate = Deno.uid() === 0 ? ["unshare", "--net", "--"] : [];
    let argv: string[];
    if (runner.length === 0) {
      // As a host runs it: through a symlink, empty environment, cwd outside the tree.
      const link = `${probe}/core-ops`;
      await Deno.symlink(`${tree}/bin/core-ops`, link);
      argv = ["env", "-i", "PATH=/usr/bin:/bin", `CORE_OPS_CACHE_DIR=${probe}/cache`, link];
    } else {
      // The launcher is sh and would exec the foreign runtime natively: qemu runs the runtime.
      argv = [
        "env",
        "-i",
        "PATH=/usr/bin:/bin",
        `DENO_DIR=${tree}/deno-dir`,
        "DENO_NO_PACKAGE_JSON=1",
        "DENO_NO_UPDATE_CHECK=1",
        ...runner,
        `${tree}/bin/deno`,
        ...runtimeArgs(tree),
      ];
    }
    argv = [...isolate, ...argv, "--version"];
    const out = await new Deno.Command(argv[0], { args: argv.slice(1), cwd: probe, stdin: "null" })
      .output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || stdout !== expected) {
      throw new PackageError(
        `offline check failed: \`${argv.join(" ")}\` exited ${out.code} printing ` +
          `${JSON.stringify(stdout)} (expected ${expected})\n${
            new TextDecoder().decode(out.stderr)
          }`,
      );
    }
    return runner.length === 0 ? "launcher" as const : "qemu" as const;
  } finally {
    await Deno.remove(probe, { recursive: true });
  }
}

/**
 * Throws unless the tree holds what a host needs: a runtime for the target's
 * machine, the launcher, the bundle, and the source with every npm package its
 * lock pins.
 */
export async function checkLayout(tree: string, target: Target): Promise<void> {
  try {
    await checkElf(`${tree}/bin/deno`, target);
  } catch (error) {
    throw new PackageError(error instanceof Error ? error.message : String(error));
  }
  const launcherText = await Deno.readTextFile(`${tree}/bin/core-ops`);
  if (!launcherText.startsWith("#!/bin/sh\n")) {
    throw new PackageError("bin/core-ops is no launcher");
  }
  for (const entry of [...APP_ENTRIES, STAMP_FILE, "src/version.ts"]) {
    if (!(await Deno.stat(`${tree}/app/${entry}`).catch(() => undefined))) {
      throw new PackageError(`app/${entry} is missing`);
    }
  }
  if (!(await Deno.stat(`${tree}/${BUNDLE_MAIN}`).catch(() => undefined))?.isFile) {
    throw new PackageError(`${BUNDLE_MAIN} is missing`);
  }
  const lock: Lockfile = JSON.parse(await Deno.readTextFile(`${tree}/app/deno.lock`));
  for (const name of Object.keys(lock.npm ?? {})) {
    // "[@scope/]pkg@1.2.3[_peer@4.5.6…]"; deno keeps it at registry.npmjs.org/<pkg>/<version>.
    const at = name.indexOf("@", 1);
    const version = name.slice(at + 1).split("_")[0];
    const dir = `${tree}/deno-dir/npm/registry.npmjs.org/${name.slice(0, at)}/${version}`;
    if (!(await Deno.stat(`${dir}/package.json`).catch(() => undefined))?.isFile) {
      throw new PackageError(`npm:${name} is not in deno-dir/npm (${dir})`);
    }
  }
}

/** Copies a file or a directory tree; a symlink is refused rather than followed or copied. */
async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.lstat(from);
  if (info.isSymlink) throw new PackageError(`refusing to package symlink ${from}`);
  if (info.isDirectory) {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
    return;
  }
  await Deno.copyFile(from, to);
  await Deno.chmod(to, 0o644);
}

if (import.meta.main) {
  const usage = "usage: deno task package [--arch x86_64|aarch64] [--out DIR]";
  const out = outArgument(usage) ?? `${REPO}/dist`;
  const archIndex = Deno.args.indexOf("--arch");
  const one = archIndex < 0 ? undefined : parseArch(Deno.args[archIndex + 1] ?? "");
  if (archIndex >= 0 && one === undefined) {
    console.error(usage);
    Deno.exit(64);
  }
  try {
    for (const arch of one ? [one] : ARCHES) {
      const info = await buildPackage(packageDir(out, arch), { arch });
      const how = {
        launcher: "offline check passed",
        qemu: "its runtime ran the packaged code under qemu-user",
        layout: "layout checked; not run: no qemu-user and libc for it here",
      }[info.checked];
      console.log(`package: ${info.dir} (core-ops ${info.version}; ${how})`);
    }
  } catch (error) {
    console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}

/**
 * The absolute path given with `--out` in the task's arguments, if any; a
 * `--out` without a value exits 64 with `usage`.
 */
export function outArgument(usage: string): string | undefined {
  const index = Deno.args.indexOf("--out");
  if (index < 0) return undefined;
  const out = Deno.args[index + 1];
  if (!out) {
    console.error(usage);
    Deno.exit(64);
  }
  return out.startsWith("/") ? out : `${Deno.cwd()}/${out}`;
}
