/**
 * `deno task release`: the release artifact an FCOS host installs through
 * Ignition, and its hash for the Butane config's `verification.hash`:
 *
 * ```
 * dist/release/core-ops-x86_64-linux          the `deno compile`d binary (tools/compile.ts)
 * dist/release/core-ops-x86_64-linux.sha512   "<hex>  core-ops-x86_64-linux" (sha512sum -c)
 * ```
 *
 * and prints the `hash: sha512-<hex>` line for butane/core-ops.bu. Building
 * needs Deno's `denort` (see tools/compile.ts: `DENORT_BIN`, or a reachable
 * release server); without it this fails with compile's explanation and
 * leaves no binary and no hash behind — an earlier release's pair is removed
 * first, so what is in dist/release/ always belongs together. There is no
 * fallback: a release is a working, checked binary or nothing.
 *
 * Usage: `deno task release [--out DIR]`
 *
 * @module
 */
import { compile, CompileError } from "./compile.ts";
import { outArgument, PackageError } from "./package.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** File name of the release binary; the Butane examples' URLs end with it. */
export const ARTIFACT = "core-ops-x86_64-linux";

/** What {@link release} produced. */
export interface Release {
  binary: string;
  /** The sha512 file next to the binary. */
  hashFile: string;
  /** `sha512-<hex>`, as Ignition's verification.hash wants it. */
  hash: string;
  version: string;
}

/** Compiles the binary into `dir` and writes its sha512 next to it. */
export async function release(dir = `${REPO}/dist/release`): Promise<Release> {
  await Deno.mkdir(dir, { recursive: true });
  const binary = `${dir}/${ARTIFACT}`;
  const hashFile = `${binary}.sha512`;
  for (const stale of [hashFile, binary]) {
    await Deno.remove(stale).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
  const version = await compile(binary);
  const digest = await crypto.subtle.digest("SHA-512", await Deno.readFile(binary));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const partial = `${hashFile}.partial`;
  await Deno.writeTextFile(partial, `${hex}  ${ARTIFACT}\n`);
  await Deno.rename(partial, hashFile);
  return { binary, hashFile, hash: `sha512-${hex}`, version };
}

if (import.meta.main) {
  const out = outArgument("usage: deno task release [--out DIR]");
  try {
    const r = await release(out);
    console.log(`release: ${r.binary} (core-ops ${r.version})\nrelease: ${r.hashFile}`);
    console.log(
      `\nFor butane/core-ops.bu (serve the binary at its source URL):\n` +
        `        verification:\n          hash: ${r.hash}`,
    );
  } catch (error) {
    if (!(error instanceof CompileError || error instanceof PackageError)) throw error;
    console.error(`release: ${error.message}`);
    Deno.exit(1);
  }
}
