/**
 * Podman's generator dry-run, judged: what its output says about a candidate
 * quadlet set — the units it made (and from which file), which files it
 * rejected and why, and, when it crashed, which file can be blamed. Pure;
 * running the generator is the adapter's (src/host/quadlet.ts), putting the
 * two together the run's (src/run/generator.ts).
 *
 * @module
 */
import type { Diagnostic } from "../errors.ts";
import { type Artifact, type GeneratedUnit, isQuadletKind, type QuadletKind } from "../model.ts";
import { compare } from "../tree.ts";

/** The outcome of a dry-run. */
export type DryRunResult =
  | { status: "skipped"; reason: string }
  | {
    status: "ok";
    generator: string;
    /** Every generated unit's name, in the generator's order. */
    units: string[];
    /**
     * Every generated unit with the host path of the quadlet it came from
     * (hand-placed extras included): the authority on unit names on this host.
     * Always set by the real generator; optional so stand-ins may leave it out
     * (then the built-in names stay).
     */
    generated?: GeneratedUnit[];
  }
  | { status: "rejected"; generator: string; diagnostics: Diagnostic[] };

/**
 * A file already in the quadlet dir that core-ops does not deploy (hand-placed,
 * unowned): the generator on the host reads it beside the candidate set, so the
 * dry-run stages it too. `path` is its absolute host path inside the quadlet dir.
 */
export interface ExtraQuadletFile {
  path: string;
  content: Uint8Array;
}

/** How a dry-run reads its set. */
export interface DryRunOptions {
  /**
   * As the user generator (`-user`, SPEC §7): `quadletDir` is then one
   * login's `<quadlet-dir>/users/<uid>`, and the units are user units.
   */
  user?: boolean;
}

/** Runs a generator dry-run over a staged quadlet set; a fake stands in for it in unit tests. */
export interface QuadletGenerator {
  /**
   * Dry-runs `quadlets` (quadlet files and their drop-ins, destinations inside
   * `quadletDir`) staged together with `extra` files.
   */
  dryRun(
    quadlets: readonly Artifact[],
    quadletDir: string,
    extra?: readonly ExtraQuadletFile[],
    options?: DryRunOptions,
  ): Promise<DryRunResult>;
  /**
   * What identifies the installed generator (path, size, mtime), so a dry-run's
   * result may be reused for byte-identical input until Podman changes; `null`
   * when none is installed. Stand-ins without it are never cached.
   */
  identity?(): Promise<string | null>;
}

/** Parses dry-run stdout into generated unit names (`---web.service---` headers). */
export function generatedUnits(stdout: string): string[] {
  return parseDryRun(stdout).map((g) => g.unit);
}

/**
 * Parses dry-run stdout: each `---web.service---` header starts a generated
 * unit, whose `[Unit]` section holds `SourcePath=` (the quadlet file it was
 * made from, as the generator read it). Pure.
 */
export function parseDryRun(stdout: string): GeneratedUnit[] {
  const units: GeneratedUnit[] = [];
  let section = "";
  for (const line of stdout.split("\n")) {
    const header = /^---(.+)---$/.exec(line);
    if (header) {
      units.push({ unit: header[1], source: null });
      section = "";
      continue;
    }
    const current = units.at(-1);
    if (!current) continue;
    const trimmed = line.trim();
    if (/^\[.+\]$/.test(trimmed)) section = trimmed.slice(1, -1);
    else if (section === "Unit" && current.source === null && trimmed.startsWith("SourcePath=")) {
      current.source = trimmed.slice("SourcePath=".length);
    }
  }
  return units;
}

/** How the generator ended when it did not exit by itself with 0 or 1. */
export interface GeneratorCrash {
  /** `exit 2`, `signal SIGKILL`. */
  status: string;
  /** The generator's own words: a Go `panic:`/`fatal error:` line, else its last line. */
  message: string;
  /** The quadlet kind it was converting, from the Go stack (`quadlet.ConvertContainer(`). */
  kind: QuadletKind | null;
}

/**
 * Whether the generator crashed rather than judged: killed by a signal, a Go
 * panic (exit 2) or any exit status besides 0 (ok) and 1 (files rejected). Pure.
 */
export function generatorCrash(
  exitCode: number,
  signal: string | null,
  stderr: string,
): GeneratorCrash | null {
  const panic = /^(panic: |fatal error: ).*$/m.exec(stderr);
  if (signal === null && panic === null && (exitCode === 0 || exitCode === 1)) return null;
  const lines = stderr.split("\n").map(stripPrefix).filter((l) =>
    l !== "" && !l.startsWith("Loading source ")
  );
  const converting = /quadlet\.Convert([A-Z][a-z]+)\(/.exec(stderr)?.[1]?.toLowerCase();
  return {
    status: signal !== null ? `signal ${signal}` : `exit ${exitCode}`,
    message: panic?.[0] ?? lines.at(-1) ?? "no message",
    kind: converting !== undefined && isQuadletKind(converting) ? converting : null,
  };
}

/** The order in which Podman's generator converts kinds (cmd/quadlet: image first, pods last). */
const CONVERT_ORDER: Readonly<Record<QuadletKind, number>> = {
  image: 1,
  volume: 2,
  network: 2,
  build: 3,
  container: 4,
  kube: 4,
  pod: 5,
};

/**
 * The files that may have crashed the generator: quadlets of the kind it was
 * converting (any kind when the stack does not say) that produced no unit, in
 * the generator's conversion order. Files it converted before crashing are
 * innocent; the generator loads every file before converting any, so its
 * last "Loading source unit file" line does not tell which file crashed it. Pure.
 */
export function crashSuspects(
  files: readonly string[],
  generated: readonly GeneratedUnit[],
  kind: QuadletKind | null,
): string[] {
  const produced = new Set(generated.map((g) => g.source));
  const kindOf = (path: string) => path.slice(path.lastIndexOf(".") + 1);
  return files.filter((path) => {
    const k = kindOf(path);
    return isQuadletKind(k) && (kind === null || k === kind) && !produced.has(path);
  }).sort((a, b) => {
    const [ka, kb] = [kindOf(a), kindOf(b)] as QuadletKind[];
    return CONVERT_ORDER[ka] - CONVERT_ORDER[kb] || compare(basename(a), basename(b));
  });
}

/** What {@link judgeDryRun} needs besides the generator's output. */
export interface JudgeOptions {
  /** The signal that ended the generator, if one did. */
  signal?: string | null;
  /** Host paths of hand-placed files staged beside the candidate set. */
  extra?: readonly string[];
  /**
   * After a crash: the suspects that crashed the generator again when run
   * alone (see {@link crashSuspects}); without it only a lone suspect is blamed.
   */
  crashed?: readonly string[];
}

/**
 * Judges a dry-run: every quadlet must have produced its unit, and a failing
 * exit status is a rejection even when stdout looks complete. `stdout` holds
 * host paths in `SourcePath=`; `stderr` names files relative to the staging
 * dir. Pure.
 *
 * Podman 5.4 reports a bad unit as `converting "web.container": <why>` (also
 * for a bad key in a drop-in, which it names by the base file), a syntax error
 * as `error loading "<dir>/web.container", …`, and keeps printing the units it
 * could convert; it exits 1 when any unit failed, and prints those errors
 * only at its end — so after a crash (a Go panic exits 2) only the crash is
 * known.
 */
export function judgeDryRun(
  quadlets: readonly Artifact[],
  exitCode: number,
  stdout: string,
  stderr: string,
  options: JudgeOptions = {},
): { units: string[]; generated: GeneratedUnit[]; diagnostics: Diagnostic[] } {
  const generated = parseDryRun(stdout);
  const units = generated.map((g) => g.unit);
  const bySource = new Set(generated.map((g) => g.source));
  const byName = new Set(generated.filter((g) => g.source === null).map((g) => g.unit));
  const extra = options.extra ?? [];
  const crash = generatorCrash(exitCode, options.signal ?? null, stderr);
  if (crash !== null) {
    return {
      units,
      generated,
      diagnostics: [crashDiagnostic(crash, quadlets, extra, generated, options.crashed)],
    };
  }
  const messages = stderr.split("\n").map(stripPrefix).filter((line) =>
    line !== "" && !line.startsWith("Loading source ")
  );
  const mentions = (name: string) =>
    messages.filter((m) => m.includes(`"${name}"`) || m.includes(`/${name}"`));
  const diagnostics: Diagnostic[] = [];
  for (const a of quadlets) {
    if (!isQuadletKind(a.kind) || !a.unitFile) continue;
    const name = a.unitFile;
    const about = mentions(name);
    const produced = bySource.has(a.destination) || byName.has(a.unit ?? "");
    if (produced && about.length === 0) continue;
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
  for (const path of extra) {
    const about = mentions(basename(path));
    if (about.length === 0) continue;
    diagnostics.push({
      message: `rejected by the quadlet generator: ${about.join("; ")}`,
      location: { file: path },
      hint:
        "a hand-placed file core-ops does not own; the generator on this host reads it too: fix or remove it",
    });
  }
  if (exitCode !== 0 && diagnostics.length === 0) {
    diagnostics.push({
      message: `the quadlet generator failed (exit ${exitCode}): ${
        messages.join("; ") || "no message"
      }`,
    });
  }
  return { units, generated, diagnostics };
}

/** Blames a crash on the one file it can be tied to, never on files the generator had not reached. */
function crashDiagnostic(
  crash: GeneratorCrash,
  quadlets: readonly Artifact[],
  extra: readonly string[],
  generated: readonly GeneratedUnit[],
  crashed: readonly string[] | undefined,
): Diagnostic {
  const bases = quadlets.filter((a) => isQuadletKind(a.kind));
  const suspects = crashSuspects(
    [...bases.map((a) => a.destination), ...extra],
    generated,
    crash.kind,
  );
  const blamed = crashed !== undefined
    ? suspects.filter((s) => crashed.includes(s))
    : suspects.length === 1
    ? suspects
    : [];
  const repoPath = (path: string) => bases.find((a) => a.destination === path)?.source ?? path;
  const what = `the quadlet generator crashed (${crash.status}): ${crash.message}`;
  if (blamed.length === 1) {
    const base = bases.find((a) => a.destination === blamed[0]);
    const dropins = base
      ? quadlets.filter((d) => d.kind === "dropin" && d.unitFile === base.unitFile)
      : [];
    return {
      message: `${what} (while converting this file)`,
      location: { file: repoPath(blamed[0]) },
      hint: "a Podman bug that this file (or its drop-ins" +
        (dropins.length > 0 ? `: ${dropins.map((d) => d.source).join(", ")}` : "") +
        ") triggers; Podman 5.4 crashes e.g. on Mount= without source=",
    };
  }
  return {
    message: what,
    hint: suspects.length > 0
      ? `it crashed converting one of: ${suspects.map(repoPath).join(", ")}`
      : "a Podman bug; run the generator with -dryrun on the quadlet dir to see where",
  };
}

function stripPrefix(message: string): string {
  return message.trim().replace(/^quadlet-generator\[\d+\]:\s*/, "");
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
