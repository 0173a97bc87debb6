/**
 * `deno task package`: builds `dist/core-ops/`, an offline install tree for a
 * host with no Node, no Deno and no network:
 *
 * ```
 * dist/core-ops/
 *   bin/core-ops   launcher (POSIX sh): production permission flags, --cached-only
 *   bin/deno       the Deno runtime this checkout pins in package.json
 *   app/           main.ts, src/, deno.json, deno.lock
 *   deno-dir/npm/  every npm dependency, at the versions and hashes deno.lock pins
 * ```
 *
 * The launcher finds the tree through its own resolved path, so it works from
 * any cwd, through a symlink (e.g. /usr/local/bin/core-ops), with an empty
 * environment and from a read-only mount.
 *
 * package.json stays behind: it only pins the Deno runtime for development,
 * and the packaged program must never pick up one from a parent directory.
 * The package runs with DENO_NO_PACKAGE_JSON=1 and carries its own deno.lock,
 * derived from the checkout's: the same npm entries without the package.json
 * section, checked to pin nothing the checkout's lock does not.
 *
 * Usage: `deno task package [--out DIR]`
 *
 * @module
 */
import { PRODUCTION, toFlags } from "./permissions.ts";
import { VERSION } from "../src/version.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Files and dirs of the checkout that make up the program. */
const APP_ENTRIES = ["main.ts", "src", "deno.json", "deno.lock"] as const;

/** The result of {@link buildPackage}. */
export interface PackageInfo {
  /** Absolute path of the package tree. */
  dir: string;
  /** What `bin/core-ops --version` printed in the offline check. */
  version: string;
}

/** Thrown when the package cannot be built or does not work once built. */
export class PackageError extends Error {
  override name = "PackageError";
}

/**
 * Builds the package into `outDir` (replacing it only once the new tree is
 * complete and verified), and returns where it is.
 */
export async function buildPackage(outDir = `${REPO}/dist/core-ops`): Promise<PackageInfo> {
  const staging = `${outDir}.partial`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${staging}/bin`, { recursive: true });
  await Deno.mkdir(`${staging}/app`, { recursive: true });

  for (const entry of APP_ENTRIES) await copyTree(`${REPO}/${entry}`, `${staging}/app/${entry}`);

  const runtime = await findRuntime();
  await Deno.copyFile(runtime, `${staging}/bin/deno`);
  await Deno.chmod(`${staging}/bin/deno`, 0o755);

  await cacheDependencies(staging);
  await Deno.writeTextFile(`${staging}/bin/core-ops`, launcher());
  await Deno.chmod(`${staging}/bin/core-ops`, 0o755);

  const version = await verify(staging);
  // The check itself ran Deno, which filled caches that only fit this path.
  await pruneDenoDir(staging);
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  await Deno.rename(staging, outDir);
  return { dir: outDir, version };
}

/**
 * The deno binary npm installed for this checkout. The platform package is
 * preferred: `node_modules/deno/deno` is a copy of it made by a postinstall
 * script that `npm ci --ignore-scripts` skips.
 */
async function findRuntime(): Promise<string> {
  const pinned = JSON.parse(await Deno.readTextFile(`${REPO}/package.json`)).devDependencies?.deno;
  const candidates = [
    `${REPO}/node_modules/@deno/linux-x64-glibc/deno`,
    `${REPO}/node_modules/deno/deno`,
  ];
  for (const path of candidates) {
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info?.isFile) continue;
    const out = await new Deno.Command(path, { args: ["--version"], clearEnv: true }).output();
    const first = new TextDecoder().decode(out.stdout).split("\n")[0];
    // A runtime other than the pinned one would ship code tested on a different Deno.
    if (pinned && !first.startsWith(`deno ${pinned} `)) {
      throw new PackageError(`${path} is "${first}", but package.json pins deno ${pinned}`);
    }
    return path;
  }
  throw new PackageError(
    `no Deno runtime in node_modules (looked at ${candidates.join(", ")}); run \`npm ci\` first`,
  );
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
async function cacheDependencies(tree: string): Promise<void> {
  const out = await new Deno.Command(`${tree}/bin/deno`, {
    args: [
      "cache",
      "--quiet",
      `--config=${tree}/app/deno.json`,
      `--lock=${tree}/app/deno.lock`,
      `${tree}/app/main.ts`,
    ],
    env: denoEnv(tree),
    clearEnv: true,
    stdin: "null",
  }).output();
  if (!out.success) {
    throw new PackageError(
      `deno cache failed (exit ${out.code}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  await checkLockSubset(`${REPO}/deno.lock`, `${tree}/app/deno.lock`);
  await pruneDenoDir(tree);
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

/** The launcher script; the permission flags are baked in from tools/permissions.ts. */
function launcher(): string {
  const flags = toFlags(PRODUCTION).map(shQuote).join(" \\\n  ");
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
# Deno keeps its parse, transpile and V8 code caches in DENO_DIR. The tree is
# usually read-only (a package, a read-only mount), and without those caches
# every run re-transpiles the whole program: about 250 ms more per timer tick
# (bench/, issue 11). So they go to a private cache dir when one is writable —
# /var/cache/core-ops for root, else the user's cache, or CORE_OPS_CACHE_DIR —
# with npm/ linked back to this tree, which stays the only source of code.
# A dir that is a symlink or not ours is never used; any failure keeps the tree's.
# (-O is "owned by the effective user": only root passes it on root's dir.)
cache=/var/cache/core-ops/deno-dir
if [ -n "\${CORE_OPS_CACHE_DIR:-}" ]; then
  cache="$CORE_OPS_CACHE_DIR/deno-dir"
elif ! { [ -d "$cache" ] && [ -O "$cache" ]; } && [ "$(id -u)" != 0 ]; then
  cache="\${XDG_CACHE_HOME:-\${HOME:-/nonexistent}/.cache}/core-ops/deno-dir"
fi
if { [ -d "$cache" ] || (umask 077 && mkdir -p -- "$cache") 2>/dev/null; } && [ ! -L "$cache" ] && [ -O "$cache" ] && [ -w "$cache" ]; then
  # -ef: the link resolves to this tree's npm/ (test builtin in dash, bash and busybox sh).
  if ! { [ -L "$cache/npm" ] && [ "$cache/npm" -ef "$root/deno-dir/npm" ]; }; then
    # rename(2) swaps the link atomically: a concurrent run never sees it missing.
    ln -sfn -- "$root/deno-dir/npm" "$cache/npm.$$" 2>/dev/null &&
      mv -fT -- "$cache/npm.$$" "$cache/npm" 2>/dev/null || true
  fi
  if [ -L "$cache/npm" ] && [ "$cache/npm" -ef "$root/deno-dir/npm" ]; then DENO_DIR="$cache"; fi
fi
# The packaged deno.lock has no package.json section: one found in a parent
# dir must not count, or the --frozen lock check fails.
DENO_NO_PACKAGE_JSON=1
DENO_NO_UPDATE_CHECK=1
export DENO_DIR DENO_NO_PACKAGE_JSON DENO_NO_UPDATE_CHECK
exec "$root/bin/deno" run --quiet --cached-only --no-remote \\
  --config="$root/app/deno.json" --lock="$root/app/deno.lock" --frozen \\
  ${flags} \\
  "$root/app/main.ts" "$@"
`;
}

/**
 * Proves the tree works the way a host will use it: empty environment, cwd
 * outside the tree, called through a symlink, and — when we are root and can
 * make one — in a network namespace with no interfaces up.
 */
async function verify(tree: string): Promise<string> {
  const probe = await Deno.makeTempDir({ prefix: "core-ops-package-check-" });
  try {
    const link = `${probe}/core-ops`;
    await Deno.symlink(`${tree}/bin/core-ops`, link);
    const isolate = Deno.uid() === 0 ? ["unshare", "--net", "--"] : [];
    const argv = [
      ...isolate,
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      `CORE_OPS_CACHE_DIR=${probe}/cache`,
      link,
      "--version",
    ];
    const out = await new Deno.Command(argv[0], { args: argv.slice(1), cwd: probe, stdin: "null" })
      .output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || stdout !== VERSION) {
      throw new PackageError(
        `offline check failed: \`${argv.join(" ")}\` exited ${out.code} printing ` +
          `${JSON.stringify(stdout)} (expected ${VERSION})\n${
            new TextDecoder().decode(out.stderr)
          }`,
      );
    }
    return stdout;
  } finally {
    await Deno.remove(probe, { recursive: true });
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
  const out = outArgument("usage: deno task package [--out DIR]");
  try {
    const info = await buildPackage(out);
    console.log(`package: ${info.dir} (core-ops ${info.version}, offline check passed)`);
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
