/**
 * `<state-dir>/converged.json`: what the host looked like when the last run
 * found nothing to do — the revision, every file the plan looked at (its
 * digest and lstat stamp), the units' states, the templates' instances and the
 * other files of the quadlet dir (run/converged.ts decides what it proves).
 *
 * Like the other caches of the state dir it only ever saves work: a record
 * that is absent, not JSON, damaged (its digest) or of an unknown shape reads
 * as none, and the run then loads and plans as always. Its lists are of
 * strings whose fields are joined by NUL (which no path, unit name or digest
 * holds): zod checks 500 strings in a fraction of the time of 500 tuples,
 * and every tick reads this file (bench/).
 *
 * @module
 */
import * as z from "../zod.ts";
import type { Files } from "../host/files.ts";
import { join } from "../paths.ts";
import { jsonDigest, readCacheFile, writeCacheFile } from "./cache_file.ts";

/** The record's file name inside the state dir. */
export const CONVERGED_FILE = "converged.json";

/** What the converged record holds. */
export interface ConvergedRecord {
  revision: string;
  /** When the run that wrote it began observing the host (ms since the epoch). */
  observedAt: number;
  /** The ownership manifest's stamp (`null`: there was none). */
  manifest: string | null;
  /** `[path, sha256 or null when absent, stamp or null when too young to stand for the content]`. */
  files: [string, string | null, string | null][];
  /** The units the plan asked systemd about, and its answer: `[unit, LoadState, ActiveState]`. */
  units: string[];
  states: [string, string, string][];
  /** The templates whose instances the plan asked for, and the answer. */
  templates: string[];
  instances: [string, string, string][];
  /** `[path, stamp or null]` of every other file in the quadlet dir (the generator reads them). */
  others: [string, string | null][];
  /** The plan's warnings, shown again by every run the record answers. */
  warnings: { message: string; file?: string }[];
}

/** A record and the key it was kept under. */
export interface ConvergedFile {
  key: string;
  record: ConvergedRecord;
}

const entries = z.array(z.string());

const body = z.strictObject({
  revision: z.string(),
  observed_at: z.number(),
  manifest: z.nullable(z.string()),
  files: entries,
  units: entries,
  states: entries,
  templates: entries,
  instances: entries,
  others: entries,
  warnings: z.array(z.strictObject({ message: z.string(), file: z.optional(z.string()) })),
});

const fileSchema = z.strictObject({
  key: z.string(),
  /** sha256 of `body` as JSON, as written. */
  digest: z.string(),
  body,
});

/** The record in `stateDir`, or `null` (none, or not sound). */
export async function readConverged(files: Files, stateDir: string): Promise<ConvergedFile | null> {
  const raw = await readCacheFile(files, join(stateDir, CONVERGED_FILE));
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) return null;
  // The digest of the JSON as read: zod's output lists the fields in the schema's order.
  if (await jsonDigest((raw as { body: unknown }).body) !== parsed.data.digest) return null;
  const record = decode(parsed.data.body);
  return record === null ? null : { key: parsed.data.key, record };
}

/** Keeps `record` under `key`, replacing any earlier one. */
export async function writeConverged(
  files: Files,
  stateDir: string,
  { key, record }: ConvergedFile,
): Promise<void> {
  const encoded = encode(record);
  await writeCacheFile(files, join(stateDir, CONVERGED_FILE), {
    key,
    digest: await jsonDigest(encoded),
    body: encoded,
  });
}

const SEP = "\u0000";

function encode(r: ConvergedRecord): z.infer<typeof body> {
  const join = (fields: readonly (string | null)[]) => fields.map((f) => f ?? "").join(SEP);
  return {
    revision: r.revision,
    observed_at: r.observedAt,
    manifest: r.manifest,
    files: r.files.map(join),
    units: r.units,
    states: r.states.map(join),
    templates: r.templates,
    instances: r.instances.map(join),
    others: r.others.map(join),
    warnings: r.warnings,
  };
}

/** The record of a checked body; `null` when an entry has the wrong number of fields. */
function decode(b: z.infer<typeof body>): ConvergedRecord | null {
  const split = (entry: string, n: number) => {
    const fields = entry.split(SEP);
    return fields.length === n ? fields : null;
  };
  const orNull = (field: string) => field === "" ? null : field;
  const files: ConvergedRecord["files"] = [];
  for (const entry of b.files) {
    const f = split(entry, 3);
    if (f === null || f[0] === "") return null;
    files.push([f[0], orNull(f[1]), orNull(f[2])]);
  }
  const states = (list: readonly string[]) => {
    const out: [string, string, string][] = [];
    for (const entry of list) {
      const f = split(entry, 3);
      if (f === null) return null;
      out.push([f[0], f[1], f[2]]);
    }
    return out;
  };
  const others: ConvergedRecord["others"] = [];
  for (const entry of b.others) {
    const f = split(entry, 2);
    if (f === null) return null;
    others.push([f[0], orNull(f[1])]);
  }
  const unitStates = states(b.states);
  const instances = states(b.instances);
  if (unitStates === null || instances === null) return null;
  return {
    revision: b.revision,
    observedAt: b.observed_at,
    manifest: b.manifest,
    files,
    units: b.units,
    states: unitStates,
    templates: b.templates,
    instances,
    others,
    warnings: b.warnings,
  };
}
