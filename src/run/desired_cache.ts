/**
 * Reuse of the loaded desired state. Loading is a pure function of the tree
 * at a commit, the host id, the target dirs, the config-root policy and the
 * loader's code; an agent tick at the commit it last loaded would otherwise
 * read the whole tree out of the mirror (`git ls-tree`, `git cat-file`) and
 * parse and validate every file again, every few minutes, for the same
 * answer (bench/, issue 11).
 *
 * Only a successful load is kept (a refused layout is always re-judged), in
 * `<state-dir>/desired-cache.json`, written only when it changes. A cache
 * file that cannot be parsed or checked is ignored and replaced
 * (state/cache_file.ts): it only ever saves a load. The cached state is
 * checked against the sha256 it was written with (every artifact's bytes
 * under it; each artifact's sha256 was taken from those bytes by the load),
 * so a damaged cache can never deploy other bytes than the commit holds. One
 * digest of the whole state, by WebCrypto in one native call: 500 artifacts
 * hashed one by one in pure JS (files.ts) cost a no-change tick ~7-12 ms
 * (bench/).
 *
 * @module
 */
import { join } from "../paths.ts";
import * as z from "../zod.ts";
import type { Files } from "../host/files.ts";
import { ARTIFACT_FIELDS, type Same } from "../state/artifact_fields.ts";
import {
  type DesiredCacheKey,
  desiredKeyText,
  jsonDigest,
  readCacheFile,
  writeCacheFile,
} from "../state/cache_file.ts";
import type { Artifact, DesiredState } from "../model.ts";

export type { DesiredCacheKey };

/** The cache file's name inside the state dir. */
export const DESIRED_CACHE_FILE = "desired-cache.json";

const artifact = z.strictObject({
  ...ARTIFACT_FIELDS,
  /** The bytes, base64. */
  content: z.string(),
  /** A secret as loaded: its content is still the age file (the plaintext is never cached). */
  secret: z.optional(z.strictObject({ decrypted: z.literal(false) })),
});

// The schema must follow Artifact: a field added there and not here fails `deno check`.
const _sameShape: Same<
  z.infer<typeof artifact>,
  Omit<Artifact, "content" | "secret"> & { content: string; secret?: { decrypted: false } }
> = true;

const cacheSchema = z.strictObject({
  key: z.string(),
  /** sha256 of `desired` as JSON, as written. */
  digest: z.string(),
  desired: z.strictObject({
    host: z.nullable(z.string()),
    services: z.array(z.string()),
    artifacts: z.array(artifact),
    warnings: z.array(z.strictObject({ message: z.string(), file: z.optional(z.string()) })),
  }),
});

/** `load` with its last result remembered in `stateDir` under `key`. */
export function cachedLoad(
  load: () => Promise<DesiredState>,
  key: DesiredCacheKey,
  stateDir: string,
  files: Files,
): () => Promise<DesiredState> {
  const path = join(stateDir, DESIRED_CACHE_FILE);
  const keyText = desiredKeyText(key);
  return async () => {
    const cached = await readCache(files, path, keyText);
    if (cached !== null) return cached;
    const desired = await load();
    const kept = {
      ...desired,
      artifacts: desired.artifacts.map((a) => ({ ...a, content: a.content.toBase64() })),
    };
    const digest = await jsonDigest(kept);
    await writeCacheFile(files, path, { key: keyText, digest, desired: kept });
    return desired;
  };
}

/** The cached state when the file holds one for `key` whose every artifact checks out. */
async function readCache(files: Files, path: string, key: string): Promise<DesiredState | null> {
  const raw = await readCacheFile(files, path);
  // The key first: a stale cache (any earlier commit) is not worth validating.
  if (typeof raw !== "object" || raw === null || (raw as { key?: unknown }).key !== key) {
    return null;
  }
  const parsed = cacheSchema.safeParse(raw);
  if (!parsed.success) return null;
  // The digest of the JSON as read: zod's output lists the fields in the schema's order.
  if (await jsonDigest((raw as { desired: unknown }).desired) !== parsed.data.digest) return null;
  const artifacts = [];
  for (const a of parsed.data.desired.artifacts) {
    let content: Uint8Array;
    try {
      content = Uint8Array.fromBase64(a.content);
    } catch (error) {
      if (error instanceof SyntaxError) return null;
      throw error;
    }
    artifacts.push({ ...a, content });
  }
  return { ...parsed.data.desired, artifacts };
}
