/**
 * Asks systemd for unit states: one batched `systemctl show` per call.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import { isTemplateUnit } from "../model.ts";
import type { UnitState } from "../plan/planner.ts";

/** The unit-state reader the planner's callers use; a fake stands in for it in unit tests. */
export interface UnitStates {
  /** States of `units`, or `null` when systemd cannot be asked (not booted with systemd, no systemctl). */
  show(units: readonly string[]): Promise<Map<string, UnitState> | null>;
}

/**
 * Parses `systemctl show -p LoadState,ActiveState` output: one blank-line
 * separated block per unit, in the order the units were named.
 */
export function parseShow(text: string): UnitState[] {
  return text.split(/\n\s*\n/).filter((block) => block.trim() !== "").map((block) => {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return { load: fields.get("LoadState") ?? "", active: fields.get("ActiveState") ?? "" };
  });
}

/** The real systemctl, when this host runs systemd. */
export const systemctl: UnitStates = {
  async show(units) {
    const named = units.filter((u) => !isTemplateUnit(u));
    if (named.length === 0) return new Map();
    try {
      await Deno.stat("/run/systemd/system");
    } catch {
      return null; // sd_booted(3): not running under systemd
    }
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command("systemctl", {
        args: ["show", "--no-pager", "-p", "LoadState,ActiveState", "--", ...named],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    if (!output.success) {
      // Booted with systemd, yet it would not answer: planning on a guess would be worse.
      throw new CoreOpsError(Exit.software, "internal", [{
        message: `systemctl show failed (exit ${output.code}): ${
          new TextDecoder().decode(output.stderr).trim()
        }`,
      }]);
    }
    // Blocks come in argument order; pairing by position (not by Id) keeps an
    // alias paired with the name it was asked by.
    const blocks = parseShow(new TextDecoder().decode(output.stdout));
    const states = new Map<string, UnitState>();
    blocks.forEach((state, i) => {
      if (i < named.length) states.set(named[i], state);
    });
    return states;
  },
};
