/**
 * The Linux architectures core-ops is packaged and released for, and what the
 * build tools need to know about each: the npm package carrying its Deno
 * runtime, its `deno compile` target, its ELF machine number, the variable
 * naming a local denort for it, and how to run its binaries on this machine.
 *
 * The runtime of an architecture other than this machine's comes from the
 * npm registry through npm itself (`npm pack`), at exactly the version and
 * integrity package-lock.json pins for it (the `deno` npm package lists
 * every platform's runtime as an optional dependency, so the lock pins them
 * all), and is checked to be an ELF for that machine.
 *
 * @module
 */

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A release architecture (Linux, glibc). */
export type Arch = "x86_64" | "aarch64";

/** Every release architecture, in build order. */
export const ARCHES: readonly Arch[] = ["x86_64", "aarch64"];

/** What the tools know about one architecture. */
export interface Target {
  arch: Arch;
  /** The npm package holding the Deno runtime for it. */
  npmPackage: string;
  /** `deno compile --target`. */
  denoTarget: string;
  /** ELF header e_machine. */
  elfMachine: number;
  /** The environment variable naming a local denort for this target (tools/compile.ts). */
  denortVariable: string;
  /** qemu-user's name for it. */
  qemu: string;
  /** Where Debian's cross libc for it lives (package libc6-<debian>-cross). */
  crossRoot: string;
}

/** The targets, by architecture. */
export const TARGETS: Readonly<Record<Arch, Target>> = {
  x86_64: {
    arch: "x86_64",
    npmPackage: "@deno/linux-x64-glibc",
    denoTarget: "x86_64-unknown-linux-gnu",
    elfMachine: 0x3e,
    denortVariable: "DENORT_BIN_X86_64",
    qemu: "qemu-x86_64",
    crossRoot: "/usr/x86_64-linux-gnu",
  },
  aarch64: {
    arch: "aarch64",
    npmPackage: "@deno/linux-arm64-glibc",
    denoTarget: "aarch64-unknown-linux-gnu",
    elfMachine: 0xb7,
    denortVariable: "DENORT_BIN_AARCH64",
    qemu: "qemu-aarch64",
    crossRoot: "/usr/aarch64-linux-gnu",
  },
};

/** The architecture this machine runs, if it is a release architecture. */
export function hostArch(): Arch | undefined {
  const arch = Deno.build.os === "linux" ? Deno.build.arch : undefined;
  return arch === "x86_64" || arch === "aarch64" ? arch : undefined;
}

/** Parses an `--arch` value. */
export function parseArch(value: string): Arch | undefined {
  return (ARCHES as readonly string[]).includes(value) ? value as Arch : undefined;
}

/** Thrown when a target's runtime cannot be had or is not what it must be. */
export class TargetError extends Error {
  override name = "TargetError";
}

/**
 * The e_machine of the 64-bit little-endian ELF file at `path`, or a
 * description of why it is not one.
 */
export async function elfMachine(path: string): Promise<number | string> {
  const file = await Deno.open(path);
  try {
    const header = new Uint8Array(20);
    let read = 0;
    while (read < header.length) {
      const n = await file.read(header.subarray(read));
      if (n === null) return `${path} is not an ELF file (${read} bytes)`;
      read += n;
    }
    if (header[0] !== 0x7f || header[1] !== 0x45 || header[2] !== 0x4c || header[3] !== 0x46) {
      return `${path} is not an ELF file`;
    }
    if (header[4] !== 2 || header[5] !== 1) return `${path} is not a 64-bit little-endian ELF`;
    return header[18] | (header[19] << 8);
  } finally {
    file.close();
  }
}

/** Throws unless `path` is an ELF executable for `target`. */
export async function checkElf(path: string, target: Target): Promise<void> {
  const machine = await elfMachine(path);
  if (typeof machine === "string") throw new TargetError(machine);
  if (machine !== target.elfMachine) {
    throw new TargetError(
      `${path} is an ELF for machine 0x${machine.toString(16)}, not ${target.arch} ` +
        `(0x${target.elfMachine.toString(16)})`,
    );
  }
}

/**
 * How to run a program built for `target` here: `[]` on its own architecture,
 * `[qemu-<arch>(-static), -L, <cross libc>]` when qemu-user and Debian's cross
 * libc for it are installed (packages qemu-user-static, libc6-<arch>-cross,
 * libgcc-s1-<arch>-cross), else undefined. Nothing is registered with the
 * kernel (binfmt_misc): only the program given to qemu runs emulated.
 */
export async function runnerFor(target: Target): Promise<string[] | undefined> {
  if (hostArch() === target.arch) return [];
  const sysroot = await Deno.stat(target.crossRoot).catch(() => undefined);
  if (!sysroot?.isDirectory) return undefined;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    for (const name of [`${target.qemu}-static`, target.qemu]) {
      const info = await Deno.stat(`${dir}/${name}`).catch(() => undefined);
      if (info?.isFile) return [`${dir}/${name}`, "-L", target.crossRoot];
    }
  }
  return undefined;
}

interface LockEntry {
  version?: string;
  integrity?: string;
}

/** The Deno version package.json pins for development and packaging. */
export async function pinnedDeno(): Promise<string> {
  const pkg = JSON.parse(await Deno.readTextFile(`${REPO}/package.json`));
  const pinned = pkg.devDependencies?.deno;
  if (typeof pinned !== "string") throw new TargetError("package.json pins no deno version");
  return pinned;
}

/**
 * The Deno runtime for `target`, as a path to its `deno` binary. This
 * machine's own comes from node_modules (checked by running it); another's is
 * fetched with `npm pack` into `workDir` and checked against the integrity
 * package-lock.json pins for it and its ELF header.
 */
export async function denoRuntime(target: Target, workDir: string): Promise<string> {
  const pinned = await pinnedDeno();
  if (hostArch() === target.arch) return await localRuntime(target, pinned);
  const lock = JSON.parse(await Deno.readTextFile(`${REPO}/package-lock.json`));
  const entry: LockEntry | undefined = lock.packages?.[`node_modules/${target.npmPackage}`];
  if (entry?.version !== pinned || !entry.integrity?.startsWith("sha512-")) {
    throw new TargetError(
      `package-lock.json pins no ${target.npmPackage}@${pinned} with a sha512 integrity ` +
        `(found ${JSON.stringify(entry ?? null)}); run \`npm install\` and commit the lock`,
    );
  }
  const spec = `${target.npmPackage}@${pinned}`;
  // --prefer-offline: npm's cache is enough when it has the tarball; the integrity decides.
  const packed = await new Deno.Command("npm", {
    args: ["pack", spec, "--prefer-offline", "--json", "--pack-destination", workDir],
    stdin: "null",
  }).output();
  if (!packed.success) {
    throw new TargetError(
      `npm pack ${spec} failed (exit ${packed.code}):\n${new TextDecoder().decode(packed.stderr)}`,
    );
  }
  const [info] = JSON.parse(new TextDecoder().decode(packed.stdout));
  const tarball = `${workDir}/${info.filename}`;
  const integrity = `sha512-${await sha512Base64(tarball)}`;
  if (integrity !== entry.integrity) {
    throw new TargetError(
      `${spec} from npm has integrity ${integrity}, package-lock.json pins ${entry.integrity}`,
    );
  }
  const untar = await new Deno.Command("tar", {
    args: ["-xzf", tarball, "-C", workDir, "package/deno"],
    stdin: "null",
  }).output();
  if (!untar.success) {
    throw new TargetError(
      `${tarball} has no package/deno:\n${new TextDecoder().decode(untar.stderr)}`,
    );
  }
  await Deno.remove(tarball);
  const runtime = `${workDir}/package/deno`;
  await checkElf(runtime, target);
  return runtime;
}

/**
 * This machine's runtime from node_modules. The platform package is
 * preferred: `node_modules/deno/deno` is a copy of it made by a postinstall
 * script that `npm ci --ignore-scripts` skips.
 */
async function localRuntime(target: Target, pinned: string): Promise<string> {
  const candidates = [
    `${REPO}/node_modules/${target.npmPackage}/deno`,
    `${REPO}/node_modules/deno/deno`,
  ];
  for (const path of candidates) {
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info?.isFile) continue;
    const out = await new Deno.Command(path, { args: ["--version"], clearEnv: true }).output();
    const first = new TextDecoder().decode(out.stdout).split("\n")[0];
    // A runtime other than the pinned one would ship code tested on a different Deno.
    if (!first.startsWith(`deno ${pinned} `)) {
      throw new TargetError(`${path} is "${first}", but package.json pins deno ${pinned}`);
    }
    return path;
  }
  throw new TargetError(
    `no Deno runtime in node_modules (looked at ${candidates.join(", ")}); run \`npm ci\` first`,
  );
}

/** The sha512 of a file as bytes. */
export async function sha512(path: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-512", await Deno.readFile(path)));
}

async function sha512Base64(path: string): Promise<string> {
  return btoa(String.fromCharCode(...await sha512(path)));
}
