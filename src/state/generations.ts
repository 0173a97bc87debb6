/**
 * The applied generations the state dir keeps for `core-ops rollback`
 * (SPEC §10): per generation, the desired state it applied — every
 * artifact's metadata and digest, never its content, which stays in
 * `objects/<sha256>` — in `generations/<n>.json`. The last `keep-generations`
 * are kept; object pruning keeps what they need. A rollback re-applies one of
 * them through the same run as any apply, with no network.
 *
 * @module
 */
import { join } from "../paths.ts";
import * as z from "../zod.ts";
import { CoreOpsError, Exit, usage } from "../errors.ts";
import type { Files } from "../host/files.ts";
import { type Artifact, type DesiredState } from "../model.ts";
import { ARTIFACT_FIELDS, type Same } from "./artifact_fields.ts";

/** The generations' dir inside the state dir. */
export const GENERATIONS_DIR = "generations";

const artifact = z.strictObject({
  ...ARTIFACT_FIELDS,
  /**
   * For a secret: the sha256 of its age file, the object a rollback decrypts
   * again (`sha256` is then the keyed digest of the plaintext, as in the manifest).
   */
  secret: z.optional(z.strictObject({ ciphertext: z.string().check(z.regex(/^[0-9a-f]{64}$/)) })),
});

/** A kept artifact: every field of an artifact but its content; a secret by its age file. */
type KeptArtifact = Omit<Artifact, "content" | "secret"> & { secret?: { ciphertext: string } };

// A kept generation holds every field of an artifact but its content: a field added to
// Artifact and not here fails `deno check`, so a rollback never loses it.
const _sameShape: Same<z.infer<typeof artifact>, KeptArtifact> = true;

const recordSchema = z.strictObject({
  schema_version: z.literal(1),
  generation: z.int().check(z.positive()),
  revision: z.string(),
  applied: z.iso.datetime(),
  repository: z.nullable(z.string()),
  ref: z.nullable(z.string()),
  host: z.nullable(z.string()),
  services: z.array(z.string()),
  artifacts: z.array(artifact),
  warnings: z.array(z.strictObject({ message: z.string(), file: z.optional(z.string()) })),
});

/** One kept generation. */
export type GenerationRecord = z.infer<typeof recordSchema>;

/** The record of `desired` applied as `generation`. Pure. */
export function generationRecord(
  desired: DesiredState,
  fields: Pick<GenerationRecord, "generation" | "revision" | "applied" | "repository" | "ref">,
): GenerationRecord {
  return {
    schema_version: 1,
    ...fields,
    host: desired.host,
    services: [...desired.services],
    artifacts: desired.artifacts.map(({ content: _content, secret, ...meta }): KeptArtifact =>
      secret?.decrypted ? { ...meta, secret: { ciphertext: secret.ciphertextSha256 } } : meta
    ),
    warnings: desired.warnings,
  };
}

/** The digests every kept generation needs from the object store. Pure. */
export function neededObjects(records: readonly GenerationRecord[]): Set<string> {
  return new Set(records.flatMap((r) => r.artifacts.map((a) => a.secret?.ciphertext ?? a.sha256)));
}

/** The kept generations, oldest first; a damaged record is an error naming its file. */
export async function readGenerations(stateDir: string, files: Files): Promise<GenerationRecord[]> {
  const dir = join(stateDir, GENERATIONS_DIR);
  const paths = (await files.list(dir)).filter((p) => /\/[0-9]+\.json$/.test(p));
  const records: GenerationRecord[] = [];
  for (const path of paths) {
    const bytes = (await files.read(path))?.content;
    if (bytes === undefined) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      raw = undefined;
    }
    const parsed = recordSchema.safeParse(raw);
    if (!parsed.success) {
      throw new CoreOpsError(Exit.dataErr, "validation", [{
        message: "a kept generation is corrupt",
        location: { file: path },
        hint: "remove it: that generation can no longer be rolled back to",
      }], { blame: "host" });
    }
    records.push(parsed.data);
  }
  return records.sort((a, b) => a.generation - b.generation);
}

/**
 * Keeps `record` and drops the oldest generations beyond `keep`; resolves to
 * the generations kept.
 */
export async function keepGeneration(
  stateDir: string,
  files: Files,
  record: GenerationRecord,
  keep: number,
): Promise<GenerationRecord[]> {
  const dir = join(stateDir, GENERATIONS_DIR);
  const text = JSON.stringify(record, null, 2) + "\n";
  await files.write(join(dir, `${record.generation}.json`), new TextEncoder().encode(text), 0o600);
  const all = await readGenerations(stateDir, files);
  // Numbers above the new one belong to an abandoned history (state.json moved aside).
  const history = all.filter((r) => r.generation <= record.generation);
  const kept = history.slice(-keep);
  const dropped = [
    ...history.slice(0, history.length - kept.length),
    ...all.filter((r) => r.generation > record.generation),
  ];
  for (const old of dropped) await files.remove(join(dir, `${old.generation}.json`));
  return kept;
}

/**
 * The generation `--to` names among `kept` — a generation number, or a full
 * or abbreviated revision (the newest generation of it) — or, without `--to`,
 * the newest one before `current`. Malformed is 64, naming nothing kept is
 * 66; both say what is kept. Pure.
 */
export function pickGeneration(
  kept: readonly GenerationRecord[],
  to: string | null,
  current: number,
): GenerationRecord {
  const listed = kept.length === 0
    ? "no generation is kept in the state dir yet (each successful apply keeps one)"
    : `kept: ${kept.map((r) => `${r.generation} (${r.revision.slice(0, 12)})`).join(", ")}`;
  const earlier = kept.filter((r) => r.generation !== current);
  if (to === null) {
    const previous = earlier.filter((r) => r.generation < current).at(-1);
    if (previous !== undefined) return previous;
    throw new CoreOpsError(Exit.noInput, "source", [{
      message: `nothing to roll back to: no generation before the applied one (${current}) is kept`,
      hint: listed,
    }]);
  }
  let found: GenerationRecord[];
  let what: string;
  if (/^[0-9]{1,6}$/.test(to)) {
    found = kept.filter((r) => r.generation === Number(to));
    what = `generation ${to}`;
  } else if (/^[0-9a-f]{4,64}$/i.test(to)) {
    found = kept.filter((r) => r.revision.startsWith(to.toLowerCase()));
    what = `revision ${to}`;
    const revisions = new Set(found.map((r) => r.revision));
    if (revisions.size > 1) {
      throw usage(
        `revision ${to} is ambiguous: ${[...revisions].join(", ")}`,
        "give more characters of it",
      );
    }
  } else {
    throw usage(
      `--to "${to}" is neither a generation number nor a commit id`,
      `pass a generation number or a (4+ character) commit id; ${listed}`,
    );
  }
  const target = found.at(-1);
  if (target === undefined) {
    throw new CoreOpsError(Exit.noInput, "source", [{
      message: `${what} is not among the kept generations`,
      hint: `${listed}; keep-generations sets how many are kept`,
    }]);
  }
  if (target.generation === current) {
    throw usage(
      `${what} is generation ${current}, the one applied now`,
      `roll back to an earlier one; ${listed}`,
    );
  }
  return target;
}
