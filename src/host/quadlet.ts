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
 */
export function judgeDryRun(
  quadlets: readonly Artifact[],
  exitCode: number,
  stdout: string,
  stderr: string,
): { units: string[]; diagnostics: Diagnostic[] } {
  const units = generatedUnits(stdout);
  const produced = new Set(units);
  const messages = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const diagnostics: Diagnostic[] = [];
  const bases = quadlets.filter((a) => isQuadletKind(a.kind));
  for (const a of bases) {
    const file = a.unitFile ?? "";
    const about = messages.filter((m) => m.includes(file));
    if (!produced.has(a.unit ?? "") || about.some((m) => /error|unsupported|invalid/i.test(m))) {
      diagnostics.push({
        message: about.length > 0
          ? `rejected by the quadlet generator: ${about.map(stripPrefix).join("; ")}`
          : `the quadlet generator produced no ${a.unit} for it`,
        location: { file: a.source },
        hint: "see podman-systemd.unit(5) for the keys each section accepts",
      });
    }
  }
  if (exitCode !== 0 && diagnostics.length === 0) {
    diagnostics.push({
      message: `the quadlet generator failed (exit ${exitCode}): ${
        messages.map(stripPrefix).join("; ") || "no message"
      }`,
    });
  }
  return { units, diagnostics };
}

function stripPrefix(message: string): string {
  return message.replace(/^quadlet-generator\[\d+\]:\s*/, "");
}

/** The real generator found at one of {@link GENERATOR_PATHS}. */
export const podmanGenerator: QuadletGenerator = {
  async dryRun(quadlets, quadletDir) {
    const generator = await findGenerator();
    if (generator === null) {
      return { status: "skipped", reason: "Podman's quadlet generator is not installed here" };
    }
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
