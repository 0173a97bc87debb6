/**
 * The ownership manifest: every file core-ops wrote, so that it only ever
 * touches files it owns (SPEC §2). Kept as `manifest.json` in the state dir.
 *
 * @module
 */
import * as z from "../zod.ts";
import { CoreOpsError, Exit } from "../errors.ts";
import { parseChecked } from "./checked_json.ts";
import { NATIVE_KINDS, QUADLET_KINDS } from "../model.ts";

/** The manifest file's name inside the state dir. */
export const MANIFEST_FILE = "manifest.json";

const kind = z.enum([...QUADLET_KINDS, ...NATIVE_KINDS, "dropin", "config"]);

/** Schema of one manifest entry (also used by the state file's pending set). */
export const manifestEntry = z.strictObject({
  path: z.string().check(z.startsWith("/")),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  service: z.string(),
  kind,
  unit: z.nullable(z.string()),
  revision: z.string(),
  /** Repo-relative source of the content (absent in manifests of older versions). */
  source: z.optional(z.string()),
  /**
   * For a secret: the sha256 of its age file, the object rollback decrypts
   * again. `sha256` is then the keyed digest of the plaintext (state/keyed.ts).
   */
  secret: z.optional(z.strictObject({ ciphertext: z.string().check(z.regex(/^[0-9a-f]{64}$/)) })),
});

const manifestSchema = z.strictObject({
  schema_version: z.literal(1),
  files: z.array(manifestEntry),
});

/** One owned file. */
export type ManifestEntry = z.infer<typeof manifestEntry>;
/** The ownership manifest. */
export type OwnershipManifest = z.infer<typeof manifestSchema>;

/** Parses manifest text; `file` names it in errors. Corrupt state is an error, never reset silently. */
export function parseManifest(text: string, file: string): OwnershipManifest {
  return parseChecked(text, manifestSchema, (detail) => corrupt(file, detail));
}

/** A manifest that cannot be read is this host's problem: never the revision's. */
function corrupt(file: string, detail: string): CoreOpsError {
  return new CoreOpsError(Exit.dataErr, "validation", [{
    message: `ownership manifest is corrupt: ${detail}`,
    location: { file },
    hint:
      "restore it from a backup; or move it aside and run apply --adopt to take ownership again",
  }], { blame: "host" });
}
