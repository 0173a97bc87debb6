/**
 * Failures as values: every error core-ops reports carries a failure class and
 * a sysexits exit code, and is rendered once, at the edge (`main.ts`).
 *
 * @module
 */

/** Process exit codes (sysexits.h), SPEC §3. */
export const Exit = {
  ok: 0,
  failed: 1,
  usage: 64,
  dataErr: 65,
  noInput: 66,
  software: 70,
  tempFail: 75,
  noPerm: 77,
} as const;

/** One of the exit codes in {@link Exit}. */
export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** The failure classes of SPEC §4, plus the ones only the CLI edge sees. */
export type FailureClass =
  | "validation"
  | "plan"
  | "apply"
  | "verify"
  | "transient"
  | "usage"
  | "source"
  | "permission"
  | "internal";

/** Where a problem is, as precisely as known. */
export interface Location {
  /** Path as the operator knows it (repo-relative for repo files). */
  file: string;
  line?: number;
  column?: number;
}

/** One problem found, e.g. one layout rule broken by one file. */
export interface Diagnostic {
  message: string;
  location?: Location;
  hint?: string;
}

/**
 * Whose fault a failure is. A revision's fault (its layout, the generator's
 * verdict, a conflict, units that fail) is retried with backoff; this host's
 * (a corrupt state dir, no systemd, an internal error) and a temporary one
 * (lock, network) never count against a revision.
 */
export type Blame = "revision" | "host" | "transient";

/** An error that ends a command: a failure class, an exit code and the diagnostics. */
export class CoreOpsError extends Error {
  readonly exitCode: ExitCode;
  readonly failureClass: FailureClass;
  readonly diagnostics: readonly Diagnostic[];
  readonly blame: Blame;
  /** The revision the failure belongs to, when it was found before the run had one. */
  readonly revision: string | null;

  constructor(
    exitCode: ExitCode,
    failureClass: FailureClass,
    diagnostics: readonly Diagnostic[],
    options: { blame?: Blame; revision?: string } = {},
  ) {
    super(diagnostics.map((d) => d.message).join("; "));
    this.name = "CoreOpsError";
    this.exitCode = exitCode;
    this.failureClass = failureClass;
    this.diagnostics = diagnostics;
    this.blame = options.blame ?? BLAME[failureClass];
    this.revision = options.revision ?? null;
  }

  /** The same failure, said to belong to `revision`. */
  of(revision: string): CoreOpsError {
    return new CoreOpsError(this.exitCode, this.failureClass, this.diagnostics, {
      blame: this.blame,
      revision,
    });
  }
}

/** The default blame of each failure class; a host fault of a revision class says so itself. */
const BLAME: Readonly<Record<FailureClass, Blame>> = {
  validation: "revision",
  plan: "revision",
  apply: "revision",
  verify: "revision",
  transient: "transient",
  usage: "host",
  source: "host",
  permission: "host",
  internal: "host",
};

/**
 * Any thrown value as a {@link CoreOpsError}: what core-ops did not expect is
 * an internal error (exit 70) of this host, never of the revision.
 */
export function asCoreOpsError(error: unknown): CoreOpsError {
  if (error instanceof CoreOpsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // A write or program the permission flags do not grant is the release's limit, not a bug.
  if (error instanceof Deno.errors.NotCapable) {
    return new CoreOpsError(Exit.noPerm, "permission", [{ message }]);
  }
  return new CoreOpsError(Exit.software, "internal", [{
    message: `internal error: ${message}`,
    hint: "this is a bug in core-ops; the run was rolled back and recorded",
  }]);
}

/** Invalid desired state (layout, schema, generator rejection, ownership conflict): exit 65. */
export function invalid(diagnostics: readonly Diagnostic[]): CoreOpsError {
  return new CoreOpsError(Exit.dataErr, "validation", diagnostics);
}

/** A usage error (bad flag, bad setting): exit 64. */
export function usage(message: string, hint?: string): CoreOpsError {
  return new CoreOpsError(Exit.usage, "usage", [{ message, hint }]);
}

/** A source path missing or unreadable: exit 66. */
export function noInput(message: string, file: string, hint?: string): CoreOpsError {
  return new CoreOpsError(Exit.noInput, "source", [{ message, location: { file }, hint }]);
}

/** Formats `file:line:column` for a location. */
export function formatLocation(location: Location): string {
  let text = location.file;
  if (location.line !== undefined) {
    text += `:${location.line}`;
    if (location.column !== undefined) text += `:${location.column}`;
  }
  return text;
}

/** Renders diagnostics the way compilers do: `file:line:col: message`, then an indented hint. */
export function renderDiagnostics(diagnostics: readonly Diagnostic[]): string {
  const lines: string[] = [];
  for (const d of diagnostics) {
    const where = d.location ? `${formatLocation(d.location)}: ` : "";
    lines.push(`core-ops: ${where}${d.message}`);
    if (d.hint) lines.push(`  hint: ${d.hint}`);
  }
  return lines.join("\n");
}

/** A run that failed after it was reported in full (apply, agent): only the exit code is left. */
export class RunFailed extends Error {
  constructor(readonly exitCode: number) {
    super(`run failed (exit ${exitCode})`);
    this.name = "RunFailed";
  }
}
