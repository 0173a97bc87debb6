/**
 * A kept generation as the source of a run (`core-ops rollback`, SPEC §10):
 * resolve step — the generation `--to` names (or the one before the applied
 * one) among those the state dir keeps; read step — its desired state, the
 * recorded artifacts with their content from `objects/<sha256>`. No network,
 * no tree: the rest of the run (validate, plan, execute, verify, roll back,
 * record) is the same as any apply's.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import type { Artifact } from "../model.ts";
import { type GenerationRecord, pickGeneration, readGenerations } from "../state/generations.ts";
import type { StateStore } from "../state/store.ts";
import type { Resolved } from "./resolve.ts";

/** The generation to roll back to, resolved as a run source. */
export async function generationSource(
  store: StateStore,
  to: string | null,
): Promise<{ record: GenerationRecord; resolved: Resolved }> {
  const state = await store.readState();
  const kept = await readGenerations(store.dir, store.files);
  const record = pickGeneration(kept, to, state.generation);
  const resolved: Resolved = {
    revision: record.revision,
    // The agent keeps tracking its repository and ref; the rollback only changes what is applied.
    repository: state.repository ?? record.repository ?? store.dir,
    ref: state.ref ?? record.ref,
    read: () =>
      Promise.reject(
        new CoreOpsError(Exit.software, "internal", [{
          message: "a kept generation has no tree to read; its desired state is read instead",
        }]),
      ),
    desired: async () => {
      const artifacts: Artifact[] = [];
      for (const { secret, ...a } of record.artifacts) {
        if (secret === undefined) {
          artifacts.push({ ...a, content: await store.getObject(a.sha256) });
          continue;
        }
        // A secret comes back as its age file, decrypted again by the run's decrypt step.
        const ciphertext = await store.getObject(secret.ciphertext);
        artifacts.push({
          ...a,
          sha256: secret.ciphertext,
          content: ciphertext,
          secret: { decrypted: false },
        });
      }
      return {
        host: record.host,
        services: record.services,
        artifacts,
        warnings: record.warnings,
      };
    },
    dispose: () => Promise.resolve(),
  };
  return { record, resolved };
}
