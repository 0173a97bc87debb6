/**
 * An artifact's fields as zod shapes, but its content and its secret state:
 * the one description the files that keep artifacts build on (the agent's
 * loaded-state cache, the kept generations), each adding how it keeps the
 * content and a secret.
 *
 * @module
 */
import * as z from "../zod.ts";
import { NATIVE_KINDS, QUADLET_KINDS } from "../model.ts";

/** Every field of `Artifact` but `content` and `secret`. */
export const ARTIFACT_FIELDS = {
  service: z.string(),
  kind: z.enum([...QUADLET_KINDS, ...NATIVE_KINDS, "dropin", "config"]),
  source: z.string(),
  destination: z.string().check(z.startsWith("/")),
  unit: z.nullable(z.string()),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  mode: z.int(),
  origin: z.enum(["service", "host"]),
  unitFile: z.optional(z.string()),
  user: z.optional(z.strictObject({
    login: z.string(),
    uid: z.nullable(z.int()),
    gid: z.nullable(z.int()),
  })),
};

/** True when `A` and `B` are the same type (a schema that must follow `Artifact` checks it). */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
