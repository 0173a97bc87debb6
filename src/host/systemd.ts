/**
 * The systemd adapter: everything core-ops asks of or tells systemd, each as
 * ONE `systemctl` process however many units it concerns — unit states for
 * planning (`list-units`), the properties verification needs (`show`), and
 * the jobs of a run (`daemon-reload`, `start`, `restart`, `stop`,
 * `reset-failed`). Never `enable`/`disable`: boot activation of generated
 * units is the quadlet's `[Install]` section (SPEC §2).
 *
 * @module
 */
import * as z from "../zod.ts";
import { CoreOpsError, Exit } from "../errors.ts";
import { isTemplateUnit, unitScope, userUnit } from "../model.ts";
import { realUsers } from "./users.ts";
import type { PullPolicy, UnitState } from "../model.ts";

/** The jobs a run asks systemd for; each call names every unit of one batch. */
export type JobOp = "start" | "restart" | "stop" | "reset-failed";

/** How one `systemctl` job call went. */
export interface JobOutcome {
  ok: boolean;
  /** systemctl's own words on failure (stderr), empty on success. */
  message: string;
}

/** `systemctl show` properties of one unit. */
export type UnitProperties = Readonly<Record<string, string>>;

/** The properties verification and `explain` read, in one `show` call. */
export const VERIFY_PROPERTIES = [
  "Id",
  "LoadState",
  "ActiveState",
  "SubState",
  "Result",
  "NRestarts",
  "InvocationID",
  "ExecMainStatus",
  "ExecMainCode",
  "ActiveEnterTimestamp",
  "Type",
  "RemainAfterExit",
  "LoadError",
] as const;

/**
 * What core-ops needs of systemd; a recording fake stands in for it in unit
 * tests. Units are named as in a plan: `web.service` is PID 1's,
 * `alice:web.service` is the unit of `alice`'s own manager (SPEC §7); each
 * call goes to the manager of each unit it names, once per manager.
 */
export interface Systemd {
  /** Whether this host runs systemd as its init (sd_booted(3)); nothing else works without. */
  available(): Promise<boolean>;
  /**
   * Load/active states of `units` from ONE `systemctl list-units --all` call;
   * templates (`web@.service`) are asked as patterns and answered with their
   * instances. A unit systemd has not loaded is reported `not-found`/`inactive`.
   * `null` when this host does not run systemd.
   */
  states(units: readonly string[]): Promise<Map<string, UnitState> | null>;
  /**
   * Every loaded instance of `templates` (`web@a.service` of `web@.service`)
   * with its state, from ONE `systemctl list-units` call; `null` when this host
   * does not run systemd.
   */
  instances(templates: readonly string[]): Promise<Map<string, UnitState> | null>;
  /** `props` of every unit of `units`, from ONE `systemctl show` call. */
  show(units: readonly string[], props: readonly string[]): Promise<Map<string, UnitProperties>>;
  /** `systemctl daemon-reload` of PID 1 (`null`) or of `login`'s manager. */
  daemonReload(login: string | null): Promise<JobOutcome>;
  /** One `systemctl <op> units…` call, waiting for the jobs to finish. */
  job(op: JobOp, units: readonly string[]): Promise<JobOutcome>;
  /**
   * The last `lines` journal lines of `unit` (for failure reports); a user
   * unit's are its login's (`_UID=` with `_SYSTEMD_USER_UNIT=`, and with
   * `USER_UNIT=` for what its manager says about it).
   */
  journal(unit: string, lines: number): Promise<string[]>;
  /**
   * Pulls `image` through systemd (SPEC §9) into the image store of PID 1's
   * containers (`login` `null`) or of `login`'s (a transient user unit), as its container's `Pull=` policy
   * says (`missing`: only when `podman image exists` says no): `podman pull`
   * in a transient unit (`systemd-run --wait --collect`) that may run at most
   * `timeoutSeconds`, so the pull is accounted, logged and bounded like any
   * unit, and survives nothing. On failure the message ends with the unit's
   * last journal lines.
   */
  pull(
    image: string,
    policy: PullPolicy,
    timeoutSeconds: number,
    login: string | null,
  ): Promise<JobOutcome>;
}

const listUnitsSchema = z.array(z.object({
  unit: z.string(),
  load: z.string(),
  active: z.string(),
  sub: z.string(),
}));

/** Parses `systemctl list-units -o json` into states by unit name. Pure. */
export function parseListUnits(json: string): Map<string, UnitState> {
  const parsed = listUnitsSchema.parse(JSON.parse(json));
  return new Map(parsed.map((u) => [u.unit, { load: u.load, active: u.active }]));
}

/** The `list-units` glob for the instances of a template: `web@.service` → `web@*.service`. */
export function instancePattern(template: string): string {
  return template.replace("@.", "@*.");
}

/**
 * Parses `systemctl show` output: one blank-line separated block per unit, in
 * the order the units were named (pairing by position, not by `Id`, keeps an
 * alias paired with the name it was asked by). Pure.
 */
export function parseShowBlocks(text: string): Record<string, string>[] {
  return text.split(/\n\s*\n/).filter((block) => block.trim() !== "").map((block) => {
    const fields: Record<string, string> = {};
    for (const line of block.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return fields;
  });
}

/**
 * Parses systemd's `--timestamp=us+utc` form (`Thu 2026-11-26 01:02:41.422335 UTC`)
 * into milliseconds since the epoch; `null` for an empty or unknown value.
 */
export function parseTimestamp(value: string | undefined): number | null {
  const m = value?.match(/(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? UTC$/);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  return Number.isNaN(ms) ? null : ms + (m[3] ? Math.floor(Number(m[3]) * 1000) : 0);
}

const decoder = new TextDecoder();

/** The arguments that send a call to `login`'s manager instead of PID 1. */
function managerArgs(login: string | null): string[] {
  return login === null ? [] : ["--user", `--machine=${login}@`];
}

async function systemctl(
  args: readonly string[],
  login: string | null = null,
): Promise<Deno.CommandOutput> {
  return await new Deno.Command("systemctl", {
    args: [...managerArgs(login), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { SYSTEMD_PAGER: "", SYSTEMD_COLORS: "0", LC_ALL: "C" },
  }).output();
}

function refused(what: string, output: Deno.CommandOutput, login: string | null): CoreOpsError {
  const said = decoder.decode(output.stderr).trim();
  if (login !== null) {
    // A user manager that does not answer is this host's state, not a bug (SPEC §7).
    return new CoreOpsError(Exit.failed, "plan", [{
      message:
        `systemctl --user ${what} of ${login}'s manager failed (exit ${output.code}): ${said}`,
      hint: `enable lingering for ${login} (loginctl enable-linger ${login}) and check ` +
        `systemctl status user@$(id -u ${login}).service`,
    }], { blame: "host" });
  }
  // Booted with systemd, yet it would not answer: acting on a guess would be worse.
  return new CoreOpsError(Exit.software, "internal", [{
    message: `systemctl ${what} failed (exit ${output.code}): ${said}`,
  }]);
}

/**
 * `units` (plan names) grouped by manager, as each manager names them:
 * PID 1's (`null`) first, then each login's in order of appearance.
 */
export function byManager(units: readonly string[]): Map<string | null, string[]> {
  const groups = new Map<string | null, string[]>([[null, []]]);
  for (const name of units) {
    const { login, unit } = unitScope(name);
    const group = groups.get(login);
    if (group) group.push(unit);
    else groups.set(login, [unit]);
  }
  if (groups.get(null)!.length === 0) groups.delete(null);
  return groups;
}

/** A manager's name for a unit back to the plan's name. */
function planName(login: string | null, unit: string): string {
  return login === null ? unit : userUnit(login, unit);
}

/** ONE `systemctl list-units --all` of `patterns` per manager, states by plan name. */
async function listUnits(patterns: readonly string[]): Promise<Map<string, UnitState>> {
  const out = new Map<string, UnitState>();
  for (const [login, names] of byManager(patterns)) {
    for (const [unit, state] of await listManagerUnits(names, login)) {
      out.set(planName(login, unit), state);
    }
  }
  return out;
}

async function listManagerUnits(
  patterns: readonly string[],
  login: string | null,
): Promise<Map<string, UnitState>> {
  const output = await systemctl([
    "list-units",
    "--all",
    "--no-legend",
    "--full",
    "--output=json",
    "--",
    ...patterns,
  ], login);
  if (!output.success) throw refused("list-units", output, login);
  return parseListUnits(decoder.decode(output.stdout) || "[]");
}

/** Runs `command` in a transient unit (`systemd-run --wait --collect`) of at most `seconds`. */
async function transient(
  command: readonly string[],
  seconds: number,
  login: string | null,
): Promise<{ unit: string; output: Deno.CommandOutput }> {
  const unit = `core-ops-pull-${crypto.randomUUID().slice(0, 8)}.service`;
  const output = await new Deno.Command("systemd-run", {
    args: [
      ...managerArgs(login),
      "--wait",
      "--collect",
      "--quiet",
      "--no-ask-password",
      `--unit=${unit}`,
      `--description=core-ops: ${command.join(" ")}`,
      `--property=RuntimeMaxSec=${seconds}`,
      "--",
      ...command,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { SYSTEMD_PAGER: "", LC_ALL: "C" },
  }).output();
  return { unit: planName(login, unit), output };
}

/** Each login's uid, looked up once per process: a report asks for many units' journals. */
const uids = new Map<string, Promise<number | undefined>>();
function uidOf(login: string): Promise<number | undefined> {
  let uid = uids.get(login);
  if (uid === undefined) {
    uid = realUsers.lookup([login]).then((found) => found.get(login)?.uid);
    uids.set(login, uid);
  }
  return uid;
}

/**
 * `base` with some of its calls answered otherwise (a prefetched answer, a
 * manager left unasked); every other call goes to `base`.
 */
export function overriding(base: Systemd, overrides: Partial<Systemd>): Systemd {
  return {
    available: () => base.available(),
    states: (units) => base.states(units),
    instances: (templates) => base.instances(templates),
    show: (units, props) => base.show(units, props),
    daemonReload: (login) => base.daemonReload(login),
    job: (op, units) => base.job(op, units),
    journal: (unit, lines) => base.journal(unit, lines),
    pull: (image, policy, seconds, login) => base.pull(image, policy, seconds, login),
    ...overrides,
  };
}

/** The real systemd of this host. */
export const realSystemd: Systemd = {
  async available() {
    try {
      return (await Deno.stat("/run/systemd/system")).isDirectory;
    } catch {
      return false; // no /run/systemd/system: not booted with systemd
    }
  },

  async states(units) {
    if (!(await this.available())) return null;
    const named = units.filter((u) => !isTemplateUnit(u));
    const states = new Map<string, UnitState>();
    if (named.length === 0) return states;
    // list-units leaves out what systemd has not loaded: for planning, that is not-found.
    for (const unit of named) states.set(unit, { load: "not-found", active: "inactive" });
    for (const [unit, state] of await listUnits(named)) states.set(unit, state);
    return states;
  },

  async instances(templates) {
    if (!(await this.available())) return null;
    if (templates.length === 0) return new Map();
    const states = await listUnits(templates.map(instancePattern));
    // The pattern `web@*.service` also matches the template itself when loaded.
    for (const t of templates) states.delete(t);
    return states;
  },

  async show(units, props) {
    const out = new Map<string, UnitProperties>();
    for (const [login, all] of byManager(units)) {
      const named = all.filter((u) => !isTemplateUnit(u));
      if (named.length === 0) continue;
      const output = await systemctl([
        "show",
        "--timestamp=us+utc",
        `--property=${props.join(",")}`,
        "--",
        ...named,
      ], login);
      if (!output.success) throw refused("show", output, login);
      parseShowBlocks(decoder.decode(output.stdout)).forEach((fields, i) => {
        if (i < named.length) out.set(planName(login, named[i]), fields);
      });
    }
    return out;
  },

  async daemonReload(login) {
    const output = await systemctl(["daemon-reload"], login);
    return { ok: output.success, message: decoder.decode(output.stderr).trim() };
  },

  async job(op, units) {
    // One call per manager; a plan's batch holds one manager's units in practice.
    const said: string[] = [];
    let ok = true;
    for (const [login, names] of byManager(units)) {
      const output = await systemctl([op, "--", ...names], login);
      ok &&= output.success;
      const text = decoder.decode(output.stderr).trim();
      if (text !== "") said.push(text);
    }
    return { ok, message: said.join("\n") };
  },

  async pull(image, policy, timeoutSeconds, login) {
    // Podman 5.4's `pull` has no --policy: "missing" is checked first, in a unit of its own
    // (podman needs its storage locks, which the agent's sandbox does not grant).
    if (policy === "missing") {
      const exists = await transient(["podman", "image", "exists", "--", image], 60, login);
      if (exists.output.success) return { ok: true, message: "already present" };
    }
    const pulled = await transient(
      ["podman", "pull", "--quiet", "--", image],
      timeoutSeconds,
      login,
    );
    if (pulled.output.success) return { ok: true, message: "" };
    const said = decoder.decode(pulled.output.stderr).trim();
    // The command's own lines; systemd's ("Started …", "Failed with result …") say less.
    const log = (await this.journal(pulled.unit, 8)).map((l) => l.replace(/^\S+ \S+ /, ""))
      .filter((l) => !l.startsWith("systemd["));
    return { ok: false, message: [said, ...log].filter((l) => l !== "").join(" | ") };
  },

  async journal(name, lines) {
    const { login, unit } = unitScope(name);
    let match = ["-u", unit];
    if (login !== null) {
      const uid = await uidOf(login);
      if (uid === undefined) return [`(no login ${login} on this host)`];
      // The unit's own output, and its manager's lines about it (started, failed): two matches.
      match = [
        `_UID=${uid}`,
        `_SYSTEMD_USER_UNIT=${unit}`,
        "+",
        `_UID=${uid}`,
        `USER_UNIT=${unit}`,
      ];
    }
    const output = await new Deno.Command("journalctl", {
      args: ["--no-pager", "-o", "short-iso", "-n", String(lines), ...match],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { SYSTEMD_PAGER: "", LC_ALL: "C" },
    }).output();
    if (!output.success) return [`(journalctl failed: ${decoder.decode(output.stderr).trim()})`];
    return decoder.decode(output.stdout).split("\n").filter((l) =>
      l !== "" && !l.startsWith("-- ")
    );
  },
};
