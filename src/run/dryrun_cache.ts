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
import { z } from "zod";
import { type Files, sha256 } from "../host/files.ts";
import type { DryRunResult, QuadletGenerator } from "../plan/dryrun.ts";
import { readCacheFile, writeCacheFile } from "../state/cache_file.ts";

/** The cache file's name inside the state dir. */
export const DRY_RUN_CACHE_FILE = "generator-cache.json";

const cacheSchema = z.strictObject({
  key: z.string(),
  generator: z.string(),
  units: z.array(z.string()),
  generated: z.array(z.strictObject({ unit: z.string(), source: z.string().nullable() })),
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
    async dryRun(quadlets, quadletDir, extra = []) {
      const identity = await inner.identity?.();
      if (!identity) return await inner.dryRun(quadlets, quadletDir, extra);
      const key = sha256(new TextEncoder().encode(JSON.stringify([
        identity,
        quadletDir,
        quadlets.map((a) => [a.destination, a.sha256]).sort(),
        extra.map((e) => [e.path, sha256(e.content)]).sort(),
      ])));
      const cached = await readCache(files, path);
      if (cached?.key === key) {
        return {
          status: "ok",
          generator: cached.generator,
          units: cached.units,
          generated: cached.generated,
        };
      }
      const result: DryRunResult = await inner.dryRun(quadlets, quadletDir, extra);
      if (result.status === "ok") {
        const entry = {
          key,
          generator: result.generator,
          units: result.units,
          generated: result.generated ?? [],
        };
        await writeCacheFile(files, path, entry);
      }
      return result;
    },
  };
}

async function readCache(files: Files, path: string) {
  const parsed = cacheSchema.safeParse(await readCacheFile(files, path));
  return parsed.success ? parsed.data : null;
}
