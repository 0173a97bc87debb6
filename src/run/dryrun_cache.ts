/**
 * Reuse of the generator's verdict: Podman's generator is a pure function of
 * the files it reads, so a dry-run of byte-identical input by the same
 * generator binary gives the same answer. A no-change agent tick would
 * otherwise stage every quadlet and run the generator every few minutes for
 * nothing. Only accepted sets are kept (a rejection is always re-judged), in
 * `<state-dir>/generator-cache.json`, written only when it changes.
 *
 * @module
 */
import { join } from "../paths.ts";
import * as z from "../zod.ts";
import type { Files } from "../host/files.ts";
import { sha256 } from "../digest.ts";
import type { DryRunResult, QuadletGenerator } from "../plan/dryrun.ts";
import { readCacheFile, writeCacheFile } from "../state/cache_file.ts";

/** The cache file's name inside the state dir. */
export const DRY_RUN_CACHE_FILE = "generator-cache.json";

const entrySchema = z.strictObject({
  key: z.string(),
  generator: z.string(),
  units: z.array(z.string()),
  generated: z.array(z.strictObject({ unit: z.string(), source: z.nullable(z.string()) })),
});
type Entry = z.infer<typeof entrySchema>;

/**
 * One verdict per set a run dry-runs: the system's, and one per login with
 * user services (SPEC §7). More than this many sets are simply re-run.
 */
const MAX_ENTRIES = 16;

const cacheSchema = z.strictObject({
  entries: z.array(entrySchema).check(z.maxLength(MAX_ENTRIES)),
});

/**
 * `inner` with its accepted verdicts remembered in `stateDir`. A cache file
 * that cannot be read or parsed is ignored and replaced: it only ever saves a
 * generator run, never decides anything on its own.
 */
export function cachedGenerator(
  inner: QuadletGenerator,
  stateDir: string,
  files: Files,
): QuadletGenerator {
  const path = join(stateDir, DRY_RUN_CACHE_FILE);
  return {
    identity: inner.identity?.bind(inner),
    async dryRun(quadlets, quadletDir, extra = [], options = {}) {
      const identity = await inner.identity?.();
      if (!identity) return await inner.dryRun(quadlets, quadletDir, extra, options);
      const key = sha256(new TextEncoder().encode(JSON.stringify([
        identity,
        quadletDir,
        options.user ?? false,
        quadlets.map((a) => [a.destination, a.sha256]).sort(),
        extra.map((e) => [e.path, sha256(e.content)]).sort(),
      ])));
      const entries = await readCache(files, path);
      const cached = entries.find((e) => e.key === key);
      if (cached) {
        return {
          status: "ok",
          generator: cached.generator,
          units: cached.units,
          generated: cached.generated,
        };
      }
      const result: DryRunResult = await inner.dryRun(quadlets, quadletDir, extra, options);
      if (result.status === "ok") {
        const entry: Entry = {
          key,
          generator: result.generator,
          units: result.units,
          generated: result.generated ?? [],
        };
        // The newest first; the sets of other managers stay for their turn.
        const kept = [entry, ...entries.filter((e) => e.key !== key)]
          .slice(0, MAX_ENTRIES);
        await writeCacheFile(files, path, { entries: kept });
      }
      return result;
    },
  };
}

async function readCache(files: Files, path: string): Promise<Entry[]> {
  const parsed = cacheSchema.safeParse(await readCacheFile(files, path));
  return parsed.success ? parsed.data.entries : [];
}
