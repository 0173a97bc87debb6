/**
 * `core-ops explain <unit|file|service|last>`: why it is as it is. For an
 * owned object — its source in the repository, the revision it came from,
 * what the last run that changed anything did to it and why, its live state
 * and its last journal lines; for `last` — the last run's outcome, plan
 * summary and the failing units with systemd's reason. Answers from the state
 * dir, ONE batched `systemctl show`, and journald.
 *
 * @module
 */
import { usage } from "../errors.ts";
import { type Files, realFiles } from "../host/files.ts";
import { realSystemd, type Systemd, type UnitProperties } from "../host/systemd.ts";
import { realUsers, type Users } from "../host/users.ts";
import { isTemplateUnit, type JsonScope } from "../model.ts";
import { unitScopes } from "../run/users.ts";
import type { ManifestEntry } from "../state/manifest.ts";
import { type FailedUnit, type LastChange, type RunState, StateStore } from "../state/store.ts";
import { options, settingsCommand, settingsFrom } from "./options.ts";
import type { Output } from "./output.ts";
import { pauseJson, pauseLine } from "./pause.ts";

const LIVE_PROPS = [
  "LoadState",
  "ActiveState",
  "SubState",
  "Result",
  "NRestarts",
  "ExecMainStatus",
  "ActiveEnterTimestamp",
];

type Step = LastChange["steps"][number];

/** What `explain` found about an owned object. */
export interface ObjectExplanation {
  kind: "unit" | "file" | "service" | "source";
  name: string;
  files: ManifestEntry[];
  /** What the last run that executed anything did to these files and units. */
  lastChange:
    | { run_id: string; revision: string; outcome: string; finished: string; steps: Step[] }
    | null;
  live: Record<string, UnitProperties>;
  /**
   * Why `live` is empty when it is: `systemd-unavailable` when systemd cannot
   * be asked here, `no-units` for config files only; `read` otherwise.
   */
  live_state: "read" | "systemd-unavailable" | "no-units";
  journal: Record<string, string[]>;
  /** Whose manager runs each unit (SPEC §7): `"system"`, or `{user, uid}`. */
  scopes: Record<string, JsonScope>;
  /** The recorded failure of these units in the last failed run, with its journal lines. */
  last_failure: { class: string; reason: string; units: FailedUnit[] } | null;
}

/** Finds what `target` names among the owned files: a unit, a file or a service. */
export function resolveTarget(
  target: string,
  files: readonly ManifestEntry[],
): { kind: ObjectExplanation["kind"]; entries: ManifestEntry[] } | null {
  if (target.startsWith("/")) {
    const entries = files.filter((f) => f.path === target);
    if (entries.length === 0) return null;
    // A file is explained with every file of its unit.
    const unit = entries[0].unit;
    return { kind: "file", entries: unit ? files.filter((f) => f.unit === unit) : entries };
  }
  const byUnit = files.filter((f) => f.unit === target);
  if (byUnit.length > 0) return { kind: "unit", entries: byUnit };
  const byService = files.filter((f) => f.service === target);
  if (byService.length > 0) return { kind: "service", entries: byService };
  // What the operator wrote in the repository: its path, or just the file's name.
  const bySource = files.filter((f) => f.source === target);
  const byName = bySource.length > 0
    ? bySource
    : files.filter((f) => f.source !== undefined && f.source.split("/").at(-1) === target);
  if (byName.length > 0) {
    const units = new Set(byName.flatMap((f) => f.unit === null ? [] : [f.unit]));
    return {
      kind: "source",
      entries: files.filter((f) => byName.includes(f) || (f.unit !== null && units.has(f.unit))),
    };
  }
  return null;
}

/** Gathers the explanation of an owned object. */
export async function explainObject(
  target: string,
  state: RunState,
  change: LastChange | null,
  files: readonly ManifestEntry[],
  systemd: Systemd,
  users: Users = realUsers,
): Promise<ObjectExplanation> {
  const found = resolveTarget(target, files);
  if (found === null) {
    throw usage(
      `"${target}" is not a unit, file, service or repository file core-ops owns here`,
      "name a unit (web.service), a deployed file (/etc/...), a service id, a repository " +
        "file (web.container, services/web/quadlet/web.container) or last; core-ops status " +
        "lists what is owned",
    );
  }
  const units = [...new Set(found.entries.flatMap((f) => f.unit ? [f.unit] : []))]
    .filter((u) => !isTemplateUnit(u));
  const targets = new Set<string>([...units, ...found.entries.map((f) => f.path)]);
  const reachable = units.length > 0 && (await systemd.available());
  const live = reachable
    ? await systemd.show(units, LIVE_PROPS)
    : new Map<string, UnitProperties>();
  const failed = state.status === "failed" && state.failure !== null
    ? state.failure.units.filter((u) => units.includes(u.unit))
    : [];
  const journal: Record<string, string[]> = {};
  for (const unit of live.keys()) journal[unit] = await systemd.journal(unit, 10);
  const scopes = Object.fromEntries(await unitScopes(units, users));
  return {
    kind: found.kind,
    name: target,
    files: found.entries,
    lastChange: change === null ? null : {
      run_id: change.run_id,
      revision: change.revision,
      outcome: change.outcome,
      finished: change.finished,
      steps: change.steps.filter((s) => targets.has(s.target)),
    },
    live: Object.fromEntries(live),
    live_state: units.length === 0 ? "no-units" : reachable ? "read" : "systemd-unavailable",
    journal,
    scopes,
    last_failure: failed.length === 0 || state.failure === null
      ? null
      : { class: state.failure.class, reason: state.failure.reason, units: failed },
  };
}

/** The human explanation of an object. */
export function objectText(e: ObjectExplanation): string {
  const lines: string[] = [];
  const services = [...new Set(e.files.map((f) => f.service))].join(", ");
  lines.push(`${e.name} (${e.kind}; service ${services})`);
  lines.push("files:");
  for (const f of e.files) {
    lines.push(`  ${f.path}  from ${f.source ?? "(source not recorded)"} @ ${f.revision}`);
  }
  const c = e.lastChange;
  if (c === null) {
    lines.push("last change: none recorded");
  } else if (c.steps.length === 0) {
    lines.push(`last change: run ${c.run_id} (${c.outcome}, ${c.finished}) did not touch it`);
  } else {
    lines.push(`last change: run ${c.run_id} of ${c.revision} (${c.outcome}, ${c.finished}):`);
    for (const s of c.steps) {
      const note = s.status === "ok" ? "" : ` — ${s.status}: ${s.message}`;
      lines.push(`  ${s.op} ${s.target}: ${s.reason}${note}`);
    }
  }
  for (const [unit, p] of Object.entries(e.live)) {
    const result = p.Result && p.Result !== "success" ? `, Result=${p.Result}` : "";
    const exit = p.ExecMainStatus && p.ExecMainStatus !== "0"
      ? `, ExecMainStatus=${p.ExecMainStatus}`
      : "";
    lines.push(
      `live: ${unit} ${p.ActiveState} (${p.SubState})${result}${exit}, NRestarts=${p.NRestarts}` +
        (p.ActiveEnterTimestamp ? `, active since ${p.ActiveEnterTimestamp}` : ""),
    );
    for (const j of e.journal[unit] ?? []) lines.push(`  | ${j}`);
  }
  if (e.live_state === "systemd-unavailable") {
    lines.push("live: unknown — systemd cannot be reached here (run explain on the host itself)");
  }
  if (e.last_failure !== null) {
    lines.push(`last failure (${e.last_failure.class}): ${e.last_failure.reason}`);
    for (const u of e.last_failure.units) {
      lines.push(`  ${u.unit}: ${u.reason}${failedWhy(u)}`);
      for (const j of u.journal) lines.push(`    | ${j}`);
    }
  }
  return lines.join("\n") + "\n";
}

function failedWhy(u: FailedUnit): string {
  const why = [u.result && `Result=${u.result}`, u.exit_status && `ExecMainStatus=${u.exit_status}`]
    .filter(Boolean).join(", ");
  return why ? ` (${why})` : "";
}

/** The human explanation of the last run. */
export function lastText(state: RunState): string {
  const run = state.last_run;
  const paused = state.paused === null
    ? []
    : [`PAUSED: the agent is ${pauseLine(state.paused)}; core-ops resume returns to tracking`];
  if (run === null) return [...paused, "no run recorded yet"].join("\n") + "\n";
  const lines = [
    ...paused,
    `last run ${run.id}: ${run.outcome} at ${run.finished} (${
      (run.duration_ms / 1000).toFixed(1)
    } s), revision ${run.revision ?? "unknown"}`,
    `plan summary: ${run.plan_summary}`,
  ];
  if (run.outcome === "failure" && state.failure !== null) {
    const f = state.failure;
    lines.push(`failure (${f.class}): ${f.reason}`);
    for (const u of f.units) {
      lines.push(`  ${u.unit}: ${u.reason}${failedWhy(u)}`);
      for (const j of u.journal) lines.push(`    | ${j}`);
    }
    lines.push(
      f.rollback === "failed"
        ? `ROLLBACK FAILED: ${f.rollback_error}`
        : f.rollback === "ok"
        ? "rolled back to the last applied revision"
        : "nothing was changed on the host",
    );
  }
  if (state.retry !== null) {
    lines.push(
      `backoff: ${state.retry.revision} failed ${state.retry.failures} time(s); next attempt after ${state.retry.next_attempt}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Builds the `explain` command. */
export function explainCommand(out: Output, files: Files = realFiles, systemd = realSystemd) {
  return settingsCommand("explain")
    .description("why a unit, file or service is as it is; `last` for the last run")
    .argument(
      "<target>",
      "a unit (web.service), a file (/etc/...), a service id, a repository file " +
        "(web.container, services/web/quadlet/web.container), or last",
    )
    .addOption(options.json())
    .action(async (target, flags) => {
      const settings = await settingsFrom(flags, "explain");
      const store = new StateStore(settings.stateDir, files);
      const state = await store.readState();
      if (target === "last") {
        out.stdout(
          flags.json
            ? JSON.stringify(
              {
                last_run: state.last_run,
                failure: state.failure,
                retry: state.retry,
                paused: pauseJson(state.paused),
                last_change: await store.readLastChange(),
              },
              null,
              2,
            ) + "\n"
            : lastText(state),
        );
        return;
      }
      const manifest = await store.readManifest();
      const change = await store.readLastChange();
      const e = await explainObject(target, state, change, manifest?.files ?? [], systemd);
      out.stdout(flags.json ? JSON.stringify(e, null, 2) + "\n" : objectText(e));
    });
}
