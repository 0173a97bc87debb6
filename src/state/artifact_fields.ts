/**
 * An artifact's fields as zod shapes, but its content and its secret state:
 * the one description the files that keep artifacts build on (the agent's
 * loaded-state cache, the kept generations), each adding how it keeps the
 * content and a secret.
 *
 * @module
 */
import { z } from "../zod.ts";
import { NATIVE_KINDS, QUADLET_KINDS } from "../model.ts";

/** Every field of `Artifact` but `content` and `secret`. */
export const ARTIFACT_FIELDS = {
  service: z.string(),
  kind: z.enum([...QUADLET_KINDS, ...NATIVE_KINDS, "dropin", "config"]),
  source: z.string(),
  destination: z.string().startsWith("/"),
  unit: z.string().nullable(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.number().int(),
  origin: z.enum(["service", "host"]),
  unitFile: z.string().optional(),
  user: z.strictObject({
    login: z.string(),
    uid: z.number().int().nullable(),
    gid: z.number().int().nullable(),
  }).optional(),
};

/** True when `A` and `B` are the same type (a schema that must follow `Artifact` checks it). */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
