/**
 * `deno task release`: the release artifacts an FCOS host installs through
 * Ignition, one per release architecture (tools/targets.ts), each with its
 * hash for the Butane config's `verification.hash`:
 *
 * ```
 * dist/release/core-ops-<arch>-linux          the `deno compile`d binary (tools/compile.ts)
 * dist/release/core-ops-<arch>-linux.sha512   "<hex>  core-ops-<arch>-linux" (sha512sum -c)
 * ```
 *
 * for arch x86_64 and aarch64, and prints the `hash: sha512-<hex>` line of
 * each for butane/core-ops.bu. Building needs Deno's `denort` for each target
 * (see tools/compile.ts: `DENORT_BIN_X86_64`, `DENORT_BIN_AARCH64`, or a
 * reachable release server) and a way to run the binary here (natively, or
 * qemu-user for the other architecture); without them this fails with
 * compile's explanation and leaves no binary and no hash of that
 * architecture behind — an earlier release's pair is removed first, so what
 * is in dist/release/ always belongs together. There is no fallback: a
 * release is a working, checked binary or nothing. Every architecture is
 * tried; the task fails if any failed.
 *
 * Usage: `deno task release [--arch x86_64|aarch64] [--out DIR]`
 *
 * @module
 */
import { compile, CompileError } from "./compile.ts";
import { outArgument, PackageError } from "./package.ts";
import { type Arch, ARCHES, parseArch, sha512 } from "./targets.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** File name of the release binary for `arch`; the Butane examples' URLs end with it. */
export function artifactName(arch: Arch): string {
  return `core-ops-${arch}-linux`;
}

/** What {@link release} produced. */
export interface Release {
  arch: Arch;
  binary: string;
  /** The sha512 file next to the binary. */
  hashFile: string;
  /** `sha512-<hex>`, as Ignition's verification.hash wants it. */
  hash: string;
  version: string;
}

/** Compiles the binary for `arch` into `dir` and writes its sha512 next to it. */
export async function release(arch: Arch, dir = `${REPO}/dist/release`): Promise<Release> {
  await Deno.mkdir(dir, { recursive: true });
  const name = artifactName(arch);
  const binary = `${dir}/${name}`;
  const hashFile = `${binary}.sha512`;
  for (const stale of [hashFile, binary]) {
    await Deno.remove(stale).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
  const version = await compile(binary, arch);
  const hex = [...await sha512(binary)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const partial = `${hashFile}.partial`;
  await Deno.writeTextFile(partial, `${hex}  ${name}\n`);
  await Deno.rename(partial, hashFile);
  return { arch, binary, hashFile, hash: `sha512-${hex}`, version };
}

if (import.meta.main) {
  const usage = "usage: deno task release [--arch x86_64|aarch64] [--out DIR]";
  const out = outArgument(usage);
  const archIndex = Deno.args.indexOf("--arch");
  const one = archIndex < 0 ? undefined : parseArch(Deno.args[archIndex + 1] ?? "");
  if (archIndex >= 0 && one === undefined) {
    console.error(usage);
    Deno.exit(64);
  }
  let failed = 0;
  for (const arch of one ? [one] : ARCHES) {
    try {
      const r = await release(arch, out);
      console.log(`release: ${r.binary} (core-ops ${r.version})\nrelease: ${r.hashFile}`);
      console.log(
        `\nFor butane/core-ops.bu on ${arch} hosts (serve the binary at its source URL):\n` +
          `        verification:\n          hash: ${r.hash}\n`,
      );
    } catch (error) {
      if (!(error instanceof CompileError || error instanceof PackageError)) throw error;
      console.error(`release: ${arch}: ${error.message}`);
      failed++;
    }
  }
  if (failed > 0) Deno.exit(1);
}
