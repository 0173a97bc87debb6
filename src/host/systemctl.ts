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
  /**
   * Every loaded instance of `templates` (`web@a.service` of `web@.service`)
   * with its state, from ONE `systemctl list-units` call; `null` when systemd
   * cannot be asked.
   */
  instances(templates: readonly string[]): Promise<Map<string, UnitState> | null>;
}

/**
 * Parses `systemctl list-units --all --plain --no-legend --full` output: one
 * unit per line, `UNIT LOAD ACTIVE SUB DESCRIPTION…`, columns padded with
 * spaces (systemd 257: `echo@b\x2dc.service loaded active running echo@…`);
 * nothing at all when no unit matches.
 */
export function parseListUnits(text: string): Map<string, UnitState> {
  const states = new Map<string, UnitState>();
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // Without --plain systemd marks failed or missing units with a bullet; tolerate one.
    if (fields[0] === "●" || fields[0] === "*") fields.shift();
    if (fields.length < 4 || fields[0] === "") continue;
    states.set(fields[0], { load: fields[1], active: fields[2] });
  }
  return states;
}

/** The `list-units` glob for the instances of a template: `web@.service` → `web@*.service`. */
export function instancePattern(template: string): string {
  return template.replace("@.", "@*.");
}

/** A recording stand-in for {@link UnitStates}: answers from fixed states, remembers each call. */
export class FakeUnitStates implements UnitStates {
  /** Every call, in order: the method and the names it was asked for. */
  readonly calls: { method: "show" | "instances"; names: string[] }[] = [];

  /** `states` answer `show`; `instances` answer `instances`; `null` means "systemd not reachable". */
  constructor(
    private readonly states: ReadonlyMap<string, UnitState> | null,
    private readonly instanceStates: ReadonlyMap<string, UnitState> | null = new Map(),
  ) {}

  show(units: readonly string[]): Promise<Map<string, UnitState> | null> {
    this.calls.push({ method: "show", names: [...units] });
    if (this.states === null) return Promise.resolve(null);
    const out = new Map<string, UnitState>();
    for (const u of units) {
      if (isTemplateUnit(u)) continue;
      out.set(u, this.states.get(u) ?? { load: "not-found", active: "inactive" });
    }
    return Promise.resolve(out);
  }

  instances(templates: readonly string[]): Promise<Map<string, UnitState> | null> {
    this.calls.push({ method: "instances", names: [...templates] });
    if (this.instanceStates === null) return Promise.resolve(null);
    const out = new Map<string, UnitState>();
    for (const [unit, state] of this.instanceStates) {
      if (templates.some((t) => globMatch(instancePattern(t), unit))) out.set(unit, state);
    }
    return Promise.resolve(out);
  }
}

/** `*` matches any run of characters, as in systemctl's unit globs (enough for instance patterns). */
function globMatch(pattern: string, name: string): boolean {
  const [head, tail] = pattern.split("*", 2);
  return tail === undefined
    ? pattern === name
    : name.length >= head.length + tail.length && name.startsWith(head) && name.endsWith(tail);
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
  async instances(templates) {
    if (templates.length === 0) return new Map();
    const output = await runSystemctl([
      "list-units",
      "--all",
      "--plain",
      "--no-legend",
      "--full",
      "--no-pager",
      "--",
      ...templates.map(instancePattern),
    ]);
    if (output === null) return null;
    const states = parseListUnits(new TextDecoder().decode(output.stdout));
    // The pattern `web@*.service` also matches the template itself when loaded.
    for (const t of templates) states.delete(t);
    return states;
  },
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

/**
 * Runs `systemctl args`; `null` when this host is not running systemd or has
 * no systemctl, a CoreOpsError (70) when systemd would not answer.
 */
async function runSystemctl(args: string[]): Promise<Deno.CommandOutput | null> {
  try {
    await Deno.stat("/run/systemd/system");
  } catch {
    return null; // sd_booted(3): not running under systemd
  }
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("systemctl", { args, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  if (!output.success) {
    throw new CoreOpsError(Exit.software, "internal", [{
      message: `systemctl ${args[0]} failed (exit ${output.code}): ${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    }]);
  }
  return output;
}
