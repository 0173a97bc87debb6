/**
 * `<state-dir>/last-change.json`: what the last run that executed anything
 * did to each target and why — what `explain` tells. Apart from state.json,
 * which every run reads and writes: a no-op (most timer ticks) neither reads
 * nor writes this one (bench/, issue 15).
 *
 * @module
 */
import * as z from "../zod.ts";
import { CoreOpsError, Exit } from "../errors.ts";
import { parseChecked } from "./checked_json.ts";

/** The file's name inside the state dir. */
export const LAST_CHANGE_FILE = "last-change.json";

/** The last run that executed anything: what it did to each target and why. */
export const lastChangeSchema = z.strictObject({
  run_id: z.string(),
  revision: z.string(),
  outcome: z.enum(["success", "failure"]),
  finished: z.iso.datetime(),
  steps: z.array(z.strictObject({
    op: z.string(),
    target: z.string(),
    reason: z.string(),
    status: z.string(),
    message: z.string(),
  })),
});

/** What the last run that executed anything did. */
export type LastChange = z.infer<typeof lastChangeSchema>;

/** Parses last-change.json text; `file` names it in errors. Pure. */
export function parseLastChange(text: string, file: string): LastChange {
  return parseChecked(text, lastChangeSchema, (detail) => corrupt(file, detail));
}

function corrupt(file: string, detail: string): CoreOpsError {
  return new CoreOpsError(Exit.dataErr, "validation", [{
    message: `the last change's record is corrupt: ${detail}`,
    location: { file },
    hint:
      "move it aside: only explain reads it, and the next run that changes anything rewrites it",
  }], { blame: "host" });
}
