/**
 * The state dir's own files as data: JSON text checked by its schema, and
 * what is wrong with it — the first problem, with where in the document it
 * is — for the file's own "corrupt" error (each names its recovery).
 *
 * @module
 */
import type * as z from "../zod.ts";
import type { CoreOpsError } from "../errors.ts";

/** `text` parsed as JSON and checked by `schema`; a problem goes to `corrupt`. Pure. */
export function parseChecked<S extends z.ZodMiniType>(
  text: string,
  schema: S,
  corrupt: (detail: string) => CoreOpsError,
): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw corrupt(error instanceof Error ? error.message : String(error));
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw corrupt(`${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return result.data;
}
