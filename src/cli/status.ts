/**
 * `core-ops status`: the last run, the applied and attempted revisions, drift,
 * and each owned unit's live state — from the state dir and ONE batched
 * `systemctl show`.
 *
 * @module
 */
import { type Files, realFiles } from "../host/files.ts";
import { realSystemd, type Systemd, type UnitProperties } from "../host/systemd.ts";
import { realUsers, type Users } from "../host/users.ts";
import { isTemplateUnit, type JsonScope } from "../model.ts";
import { unitScopes } from "../run/users.ts";
import { newSecretKey, observeDigests } from "../state/keyed.ts";
import type { ManifestEntry, OwnershipManifest } from "../state/manifest.ts";
import { basename } from "../paths.ts";
import { lastValue, parseUnitFile } from "../source/unitfile.ts";
import { compare } from "../tree.ts";
import { readGenerations } from "../state/generations.ts";
import { type RunState, StateStore } from "../state/store.ts";
import { options, settingsCommand, settingsFrom } from "./options.ts";
import { pauseJson, pauseLine } from "./pause.ts";
import type { Output } from "./output.ts";

/** An owned file whose content is no longer what core-ops wrote. */
export interface DriftEntry {
  path: string;
  unit: string | null;
  expected: string;
  actual: string | null;
}

/** Everything `status` shows. */
export interface StatusReport {
  stateDir: string;
  state: RunState;
  files: number;
  drift: DriftEntry[];
  units: Map<string, UnitProperties>;
  /** When core-ops.timer fires next (systemd's words), or `null` when it is not active. */
  nextRun: string | null;
  /** The applied generations kept for `core-ops rollback`, oldest first. */
  generations: { generation: number; revision: string; applied: string; files: number }[];
  /** Whose manager runs each unit (SPEC §7), with the uid the user database says now. */
  scopes: Map<string, JsonScope>;
  /**
   * Containers whose files on the host say `AutoUpdate=` (SPEC §9), with the
   * policy: `podman auto-update` may replace their images behind core-ops' back.
   */
  autoUpdate: Map<string, string>;
}

const UNIT_PROPS = ["LoadState", "ActiveState", "SubState", "Result", "NRestarts"];
/** The timer that runs the agent; its next run is part of the status. */
const AGENT_TIMER = "core-ops.timer";

/** Gathers the status from the state dir, the owned files and systemd. */
export async function gatherStatus(
  stateDir: string,
  files: Files,
  systemd: Systemd,
  users: Users = realUsers,
): Promise<StatusReport> {
  const store = new StateStore(stateDir, files);
  const state = await store.readState();
  const manifest = await store.readManifest();
  const owned = manifest?.files ?? [];
  const secretPaths = new Set(owned.filter((f) => f.secret).map((f) => f.path));
  // A secret's drift compares keyed digests (SPEC §6): the key is the state dir's.
  const key = secretPaths.size === 0 ? null : await store.secretKey(false);
  const [digests, shown, kept] = await Promise.all([
    observeDigests(files, owned.map((f) => f.path), {
      paths: secretPaths,
      key: key ?? newSecretKey(),
    }),
    ownedUnits(manifest, systemd),
    readGenerations(stateDir, files),
  ]);
  const generations = kept.map((r) => ({
    generation: r.generation,
    revision: r.revision,
    applied: r.applied,
    files: r.artifacts.length,
  }));
  const timer = shown.get(AGENT_TIMER);
  shown.delete(AGENT_TIMER);
  const units = shown;
  const [scopes, autoUpdate] = await Promise.all([
    unitScopes(units.keys(), users),
    autoUpdates(owned, files),
  ]);
  const next = timer?.NextElapseUSecRealtime;
  const nextRun = timer?.ActiveState === "active" && next ? next : null;
  const drift = (manifest?.files ?? []).flatMap((f) => {
    const actual = digests.get(f.path) ?? null;
    return actual === f.sha256 ? [] : [{ path: f.path, unit: f.unit, expected: f.sha256, actual }];
  });
  return {
    stateDir,
    state,
    files: manifest?.files.length ?? 0,
    drift,
    units,
    nextRun,
    generations,
    scopes,
    autoUpdate,
  };
}

/**
 * `AutoUpdate=` of each owned container, read from its files on the host
 * (the unit file, then its drop-ins by name, as systemd and Podman apply them).
 */
async function autoUpdates(
  owned: readonly ManifestEntry[],
  files: Files,
): Promise<Map<string, string>> {
  const byUnit = new Map<string, ManifestEntry[]>();
  for (const f of owned) {
    if (f.unit === null || (f.kind !== "container" && f.kind !== "dropin")) continue;
    byUnit.set(f.unit, [...(byUnit.get(f.unit) ?? []), f]);
  }
  const out = new Map<string, string>();
  for (const [unit, entries] of byUnit) {
    if (!entries.some((f) => f.kind === "container")) continue;
    const ordered = entries.toSorted((a, b) =>
      a.kind === b.kind
        ? compare(basename(a.path), basename(b.path))
        : a.kind === "container"
        ? -1
        : 1
    );
    const parsed = [];
    for (const f of ordered) {
      const file = await files.read(f.path);
      if (file !== null) parsed.push(parseUnitFile(new TextDecoder().decode(file.content)));
    }
    const policy = lastValue(parsed, "Container", "AutoUpdate");
    if (policy) out.set(unit, policy);
  }
  return out;
}

async function ownedUnits(
  manifest: OwnershipManifest | null,
  systemd: Systemd,
): Promise<Map<string, UnitProperties>> {
  const units = new Set<string>();
  for (const f of manifest?.files ?? []) {
    if (f.unit !== null && !isTemplateUnit(f.unit)) units.add(f.unit);
  }
  if (!(await systemd.available())) return new Map();
  // One show: the owned units, and the agent's timer for its next run.
  return await systemd.show([...[...units].sort(), AGENT_TIMER], [
    ...UNIT_PROPS,
    "NextElapseUSecRealtime",
  ]);
}

/** The `status --json` document. */
export function statusJson(report: StatusReport): string {
  const units: Record<string, Record<string, unknown>> = {};
  for (const [unit, p] of report.units) {
    units[unit] = {
      load: p.LoadState ?? "",
      active: p.ActiveState ?? "",
      sub: p.SubState ?? "",
      result: p.Result ?? "",
      restarts: p.NRestarts ?? "",
      scope: report.scopes.get(unit) ?? "system",
    };
  }
  const { state } = report;
  return JSON.stringify(
    {
      state_dir: report.stateDir,
      status: state.status,
      generation: state.generation,
      repository: state.repository,
      ref: state.ref,
      last_applied_revision: state.last_applied_revision,
      last_attempted_revision: state.last_attempted_revision,
      last_success: state.last_success,
      last_failure: state.last_failure,
      consecutive_failures: state.consecutive_failures,
      last_run: state.last_run,
      failure: state.failure,
      retry: state.retry,
      paused: pauseJson(state.paused),
      generations: report.generations,
      next_run: report.nextRun,
      interrupted_run: state.in_progress,
      owned_files: report.files,
      drift: report.drift,
      units,
      auto_update: Object.fromEntries(report.autoUpdate),
    },
    null,
    2,
  ) + "\n";
}

/** The human status. */
export function statusText(report: StatusReport): string {
  const { state } = report;
  const lines: string[] = [];
  if (state.paused !== null) {
    lines.push(`PAUSED:    ${pauseLine(state.paused)}; core-ops resume returns to tracking`);
  }
  const run = state.last_run;
  if (run === null) {
    lines.push(`last run:  never (state ${report.stateDir})`);
  } else {
    lines.push(
      `last run:  ${run.outcome} at ${run.finished} (${
        (run.duration_ms / 1000).toFixed(1)
      } s): ${run.plan_summary}`,
    );
  }
  lines.push(
    `applied:   ${state.last_applied_revision ?? "none"} (generation ${state.generation})`,
  );
  if (state.last_attempted_revision !== state.last_applied_revision) {
    lines.push(`attempted: ${state.last_attempted_revision ?? "none"} (${state.status})`);
  }
  if (state.repository !== null) {
    lines.push(`source:    ${state.repository}${state.ref ? ` @ ${state.ref}` : ""}`);
  }
  if (state.retry !== null) {
    lines.push(
      `backoff:   ${state.retry.revision} failed ${state.retry.failures} time(s); next attempt after ${state.retry.next_attempt}`,
    );
  }
  if (report.nextRun !== null) lines.push(`next run:  ${report.nextRun} (core-ops.timer)`);
  if (state.in_progress !== null) {
    lines.push(
      `interrupted: run ${state.in_progress.run_id} of ${state.in_progress.revision} did not finish; the next run recovers it`,
    );
  }
  if (state.failure !== null && state.status === "failed") {
    lines.push(`failure:   ${state.failure.class}: ${state.failure.reason}`);
    if (state.failure.rollback === "failed") {
      lines.push(`ROLLBACK FAILED: ${state.failure.rollback_error}`);
    }
  }
  lines.push(
    report.drift.length === 0
      ? `drift:     none (${report.files} owned files)`
      : `drift:     ${report.drift.length} of ${report.files} owned files changed by hand`,
  );
  for (const d of report.drift) {
    lines.push(`  ${d.path}  ${d.actual === null ? "deleted" : "modified"}`);
  }
  if (report.generations.length > 0) {
    lines.push("generations (core-ops rollback --to N):");
    for (const g of report.generations.toReversed()) {
      const now = g.generation === state.generation ? "  (applied)" : "";
      lines.push(`  ${g.generation}  ${g.revision}  ${g.applied}  ${g.files} files${now}`);
    }
  }
  for (const [unit, policy] of report.autoUpdate) {
    lines.push(
      `auto-update: ${unit} (AutoUpdate=${policy}): podman auto-update may replace its image`,
    );
  }
  if (report.units.size > 0) {
    lines.push("units:");
    const width = Math.max(...[...report.units.keys()].map((u) => u.length));
    for (const [unit, p] of report.units) {
      const result = p.Result && p.Result !== "success" ? `, Result=${p.Result}` : "";
      lines.push(`  ${unit.padEnd(width)}  ${p.ActiveState} (${p.SubState})${result}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Builds the `status` command. */
export function statusCommand(out: Output, files: Files = realFiles, systemd = realSystemd) {
  return settingsCommand("status")
    .description("last run, revisions, drift and the live state of owned units")
    .addOption(options.json())
    .action(async (flags) => {
      const settings = await settingsFrom(flags, "status");
      const report = await gatherStatus(settings.stateDir, files, systemd);
      out.stdout(flags.json ? statusJson(report) : statusText(report));
    });
}
