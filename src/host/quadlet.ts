/**
 * Podman's quadlet generator in dry-run mode: the authority on whether a
 * candidate quadlet set is valid (SPEC §2). Nothing on the host changes: the
 * set is staged in a temp dir that the generator reads through
 * `QUADLET_UNIT_DIRS`.
 *
 * @module
 */
import { dirname, join } from "node:path";
import type { Diagnostic } from "../errors.ts";
import { type Artifact, isQuadletKind } from "../model.ts";

/** Where Podman installs the generator: the plain binary first, the systemd generator link second. */
export const GENERATOR_PATHS = [
  "/usr/libexec/podman/quadlet",
  "/usr/lib/systemd/system-generators/podman-system-generator",
] as const;

/** The outcome of a dry-run. */
export type DryRunResult =
  | { status: "skipped"; reason: string }
  | { status: "ok"; generator: string; units: string[] }
  | { status: "rejected"; generator: string; diagnostics: Diagnostic[] };

/** Runs a generator dry-run over a staged quadlet set; a fake stands in for it in unit tests. */
export interface QuadletGenerator {
  dryRun(quadlets: readonly Artifact[], quadletDir: string): Promise<DryRunResult>;
}

/** Parses dry-run stdout into generated unit names (`---web.service---` headers). */
export function generatedUnits(stdout: string): string[] {
  const units: string[] = [];
  for (const match of stdout.matchAll(/^---(.+)---$/gm)) units.push(match[1]);
  return units;
}

/**
 * Judges a dry-run: every quadlet must have produced its unit, and a failing
 * exit status is a rejection even when stdout looks complete. Pure.
 *
 * Podman 5.4 reports a bad unit as `converting "web.container": <why>` (also
 * for a bad key in a drop-in, which it names by the base file), a syntax error
 * as `error loading "<dir>/web.container", …`, and keeps printing the units it
 * could convert; it exits 1 when any unit failed.
 */
export function judgeDryRun(
  quadlets: readonly Artifact[],
  exitCode: number,
  stdout: string,
  stderr: string,
): { units: string[]; diagnostics: Diagnostic[] } {
  const units = generatedUnits(stdout);
  const produced = new Set(units);
  const messages = stderr.split("\n").map(stripPrefix).filter((line) =>
    line !== "" && !line.startsWith("Loading source unit file")
  );
  const diagnostics: Diagnostic[] = [];
  for (const a of quadlets) {
    if (!isQuadletKind(a.kind) || !a.unitFile) continue;
    const name = a.unitFile;
    const about = messages.filter((m) => m.includes(`"${name}"`) || m.includes(`/${name}"`));
    if (produced.has(a.unit ?? "") && about.length === 0) continue;
    const dropins = quadlets.filter((d) => d.kind === "dropin" && d.unitFile === name);
    diagnostics.push({
      message: about.length > 0
        ? `rejected by the quadlet generator: ${about.join("; ")}`
        : `the quadlet generator produced no ${a.unit} for it`,
      location: { file: a.source },
      hint: dropins.length > 0
        ? `the cause may be in a drop-in: ${dropins.map((d) => d.source).join(", ")}`
        : "see podman-systemd.unit(5) for the keys each section accepts",
    });
  }
  if (exitCode !== 0 && diagnostics.length === 0) {
    diagnostics.push({
      message: `the quadlet generator failed (exit ${exitCode}): ${
        messages.join("; ") || "no message"
      }`,
    });
  }
  return { units, diagnostics };
}

function stripPrefix(message: string): string {
  return message.trim().replace(/^quadlet-generator\[\d+\]:\s*/, "");
}

/** The real generator found at one of {@link GENERATOR_PATHS}. */
export const podmanGenerator: QuadletGenerator = {
  async dryRun(quadlets, quadletDir) {
    const generator = await findGenerator();
    if (generator === null) {
      return { status: "skipped", reason: "Podman's quadlet generator is not installed here" };
    }
    // With nothing to read the generator says "No files parsed" and succeeds: nothing to learn.
    if (!quadlets.some((a) => isQuadletKind(a.kind))) return { status: "ok", generator, units: [] };
    const staging = await Deno.makeTempDir({ prefix: "core-ops-quadlet-" });
    try {
      for (const a of quadlets) {
        const path = join(staging, a.destination.slice(quadletDir.length + 1));
        await Deno.mkdir(dirname(path), { recursive: true });
        await Deno.writeFile(path, a.content);
      }
      const output = await new Deno.Command(generator, {
        args: [generator.endsWith("/quadlet") ? "-dryrun" : "--dryrun"],
        env: { QUADLET_UNIT_DIRS: staging },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      const judged = judgeDryRun(
        quadlets,
        output.code,
        decoder.decode(output.stdout),
        decoder.decode(output.stderr).replaceAll(staging + "/", ""),
      );
      return judged.diagnostics.length > 0
        ? { status: "rejected", generator, diagnostics: judged.diagnostics }
        : { status: "ok", generator, units: judged.units };
    } finally {
      await Deno.remove(staging, { recursive: true });
    }
  },
};

async function findGenerator(): Promise<string | null> {
  for (const path of GENERATOR_PATHS) {
    try {
      const info = await Deno.stat(path);
      if (info.isFile) return path;
    } catch {
      // not installed at this path; try the next one
    }
  }
  return null;
}
