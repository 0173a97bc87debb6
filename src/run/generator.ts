/**
 * The quadlet generator the run validates with (SPEC §2): the adapter runs
 * Podman's dry-run, the pure verdicts of src/plan/dryrun.ts judge it, and
 * after a crash each suspect is run alone to find the file that crashes it.
 *
 * @module
 */
import {
  type GeneratorOutput,
  type QuadletProcess,
  quadletProcess,
  type StagedFile,
} from "../host/quadlet.ts";
import { isQuadletKind } from "../model.ts";
import {
  crashSuspects,
  type GeneratorCrash,
  generatorCrash,
  judgeDryRun,
  type JudgeOptions,
  parseDryRun,
  type QuadletGenerator,
} from "../plan/dryrun.ts";

/** The real generator: the installed one, run by {@link quadletProcess}, judged here. */
export const podmanGenerator: QuadletGenerator = generatorOf(quadletProcess);

/** A {@link QuadletGenerator} over a generator process. */
export function generatorOf(process: QuadletProcess): QuadletGenerator {
  return {
    identity: () => process.identity(),

    async dryRun(quadlets, quadletDir, extra = [], how = {}) {
      const generator = await process.find();
      if (generator === null) {
        return { status: "skipped", reason: "Podman's quadlet generator is not installed here" };
      }
      // With nothing to read the generator says "No files parsed" and succeeds: nothing to learn.
      if (!quadlets.some((a) => isQuadletKind(a.kind)) && extra.length === 0) {
        return { status: "ok", generator, units: [], generated: [] };
      }
      const files = [
        ...quadlets.map((a) => ({ path: a.destination, content: a.content })),
        ...extra,
      ];
      const user = how.user ?? false;
      const first = await process.run(generator, quadletDir, files, user);
      const options: JudgeOptions = {
        signal: first.signal,
        extra: extra.map((e) => e.path),
      };
      const crash = generatorCrash(first.code, first.signal, first.stderr);
      if (crash !== null) {
        options.crashed = await isolateCrash(
          process,
          generator,
          quadletDir,
          files,
          first,
          crash,
          user,
        );
      }
      const judged = judgeDryRun(quadlets, first.code, first.stdout, first.stderr, options);
      return judged.diagnostics.length > 0
        ? { status: "rejected", generator, diagnostics: judged.diagnostics }
        : { status: "ok", generator, units: judged.units, generated: judged.generated };
    },
  };
}

/** At most this many suspects are re-run alone after a crash. */
const MAX_ISOLATION_RUNS = 20;

/**
 * Re-runs the generator on the files it converted plus one suspect at a time
 * (with its drop-ins): the suspects that crash it again. Only after a crash
 * with more than one suspect, so a normal run costs one process.
 */
async function isolateCrash(
  process: QuadletProcess,
  generator: string,
  quadletDir: string,
  files: readonly StagedFile[],
  first: GeneratorOutput,
  crash: GeneratorCrash,
  user: boolean,
): Promise<string[] | undefined> {
  const generated = parseDryRun(first.stdout);
  const suspects = crashSuspects(files.map((f) => f.path), generated, crash.kind);
  if (suspects.length <= 1 || suspects.length > MAX_ISOLATION_RUNS) return undefined;
  const produced = new Set(generated.map((g) => g.source));
  const with_ = (keep: string) =>
    files.filter((f) =>
      [...produced, keep].some((p) => p !== null && (f.path === p || f.path.startsWith(p + ".d/")))
    );
  const crashed: string[] = [];
  for (const suspect of suspects) {
    const out = await process.run(generator, quadletDir, with_(suspect), user);
    if (generatorCrash(out.code, out.signal, out.stderr) !== null) crashed.push(suspect);
  }
  return crashed;
}
