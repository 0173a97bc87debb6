/**
 * A service's `secrets/` (and a host overlay's, SPEC §1, §6): every file is
 * an age file named `<rel>.age`, deployed decrypted to
 * `<config-dir>/<config-root>/<rel>`. What the layout can judge without an
 * identity is judged here: the name, and the age header of the content.
 *
 * @module
 */
import { ageFileProblem } from "./age_file.ts";
import { baseName, GIT_HOUSEKEEPING, type Reading, README } from "./entries.ts";
import { rejectBadEntry } from "./hostile.ts";
import type { Origin } from "../model.ts";
import type { FileEntry } from "../tree.ts";

/** A secret to deploy, with where it came from (the shape of a config source). */
export interface SecretSource {
  entry: FileEntry;
  origin: Origin;
}

/** The suffix every file in `secrets/` carries; the deployed name drops it. */
export const AGE_SUFFIX = ".age";

/** Reads a `secrets/` tree into `into`, by destination path relative to the config root. */
export function loadSecrets(
  reading: Reading,
  dir: string,
  rel: string,
  into: Map<string, SecretSource>,
  origin: Origin,
): void {
  const problems = reading.problems;
  for (const entry of reading.list(dir)) {
    if (rejectBadEntry(entry)) continue;
    const name = baseName(entry.path);
    if (entry.type === "dir") {
      loadSecrets(reading, entry.path, rel === "" ? name : `${rel}/${name}`, into, origin);
      continue;
    }
    if (entry.type !== "file" || README.test(name) || GIT_HOUSEKEEPING.has(name)) continue;
    if (!name.endsWith(AGE_SUFFIX) || name === AGE_SUFFIX) {
      problems.error(
        entry.path,
        "a file in secrets/ that is not named <name>.age",
        "secrets/ holds only age-encrypted files (age -R recipients -o <name>.age); plain config goes to config/",
      );
      continue;
    }
    if (!ageContentOk(reading, entry)) continue;
    const deployed = name.slice(0, -AGE_SUFFIX.length);
    into.set(rel === "" ? deployed : `${rel}/${deployed}`, { entry, origin });
  }
}

/** Whether a secret's content is an age file; records the problem (never the content) if not. */
function ageContentOk(reading: Reading, entry: FileEntry): boolean {
  // Over the size limit: no content was read, and the size rule already refused it.
  if (entry.content === null) return false;
  const problem = ageFileProblem(entry.content);
  if (problem === null) return true;
  reading.problems.error(
    entry.path,
    `not a valid age file: ${problem}`,
    "encrypt it again with age -R <recipients file> (binary or -a armored) and commit the output unchanged",
  );
  return false;
}
