/**
 * Renders a plan for people (a short table grouped by operation) and for
 * programs (`plan --json`, SPEC §3). Pure and deterministic: no timestamps,
 * no host-specific paths beyond the plan's own.
 *
 * @module
 */
import type { Artifact, DesiredState, JsonScope } from "../model.ts";
import { describeNaming, type Naming } from "../plan/naming.ts";
import type { Plan } from "../plan/planner.ts";
import type { Op, UnitState } from "../model.ts";

/** Everything a rendered plan shows. */
export interface PlanReport {
  revision: string;
  desired: DesiredState;
  plan: Plan;
  /** Unit states as observed; `null` when systemd could not be asked. */
  states: ReadonlyMap<string, UnitState> | null;
  /** Which naming the units follow (generator or built-in); shown when given. */
  naming?: Naming;
}

/** The `naming` field of `plan --json`. */
export function namingJson(naming: Naming) {
  return naming.by === "generator" ? { by: naming.by, generator: naming.generator } : {
    by: naming.by,
    podman_version: naming.podmanVersion,
    templates: naming.templates,
  };
}

/**
 * The artifact fields of `plan --json`, in a fixed key order. A secret shows
 * the sha256 of its age file (the repository's file; never a digest of the
 * plaintext) and whether this run decrypted it.
 */
export function artifactJson(a: Artifact) {
  const fields = {
    service: a.service,
    kind: a.kind,
    source: a.source,
    destination: a.destination,
    unit: a.unit,
    sha256: a.secret?.decrypted ? a.secret.ciphertextSha256 : a.sha256,
    scope: scopeJson(a),
  };
  return a.secret === undefined ? fields : { ...fields, secret: { decrypted: a.secret.decrypted } };
}

/** Whose manager runs an artifact's unit (SPEC §7): `"system"`, or `{user, uid}`. */
export function scopeJson(a: Artifact): JsonScope {
  return a.user ? { user: a.user.login, uid: a.user.uid } : "system";
}

/** The `plan --json` document. */
export function planJson(report: PlanReport): string {
  return JSON.stringify(planDocument(report), null, 2) + "\n";
}

/** The fields of `plan --json` as an object; `apply --json` extends it. */
export function planDocument(report: PlanReport) {
  const { desired, plan } = report;
  const units: Record<string, { load: string; active: string; scope: JsonScope }> = {};
  for (const u of plan.units) {
    if (u.template) continue; // a template has instances, not a state
    const state = report.states?.get(u.unit);
    const scope = scopeJson(u.artifacts[0]);
    units[u.unit] = state
      ? { load: state.load, active: state.active, scope }
      : { load: "unknown", active: "unknown", scope };
  }
  return {
    revision: report.revision,
    host: desired.host,
    services: desired.services,
    artifacts: desired.artifacts.map(artifactJson),
    actions: plan.actions.map((a) => ({
      op: a.op,
      target: a.target,
      reason: a.reason,
      ...(a.user ? { user: a.user } : {}),
    })),
    warnings: plan.warnings.map((w) => ({ file: w.file ?? null, message: w.message })),
    drift: plan.drift.map((d) => ({
      path: d.path,
      unit: d.unit,
      expected: d.expected,
      actual: d.actual,
    })),
    units,
    ...(report.naming ? { naming: namingJson(report.naming) } : {}),
  };
}

/** The human plan: a header, the actions grouped by operation, then warnings and drift. */
export function planText(report: PlanReport): string {
  const { desired, plan } = report;
  const lines: string[] = [];
  const host = desired.host === null ? "" : `host ${desired.host}, `;
  lines.push(
    `plan for ${host}revision ${report.revision}: ${desired.services.length} services, ${desired.artifacts.length} files`,
  );
  if (report.naming) lines.push(describeNaming(report.naming));
  if (plan.actions.length === 0) {
    lines.push("nothing to do: the host matches the repository");
  } else {
    const groups = new Map<Op, { target: string; reason: string }[]>();
    for (const a of plan.actions) {
      if (!groups.has(a.op)) groups.set(a.op, []);
      groups.get(a.op)!.push(a);
    }
    const width = Math.max(...plan.actions.map((a) => a.target.length));
    for (const [op, actions] of groups) {
      lines.push("", `${op} (${actions.length})`);
      for (const a of actions) lines.push(`  ${a.target.padEnd(width)}  ${a.reason}`);
    }
  }
  if (plan.drift.length > 0) {
    lines.push(
      "",
      `drift (${plan.drift.length}): owned files changed by hand, apply overwrites them`,
    );
    for (const d of plan.drift) {
      lines.push(`  ${d.path}  ${d.actual === null ? "deleted" : "modified"}`);
    }
  }
  if (plan.warnings.length > 0) {
    lines.push("", `warnings (${plan.warnings.length})`);
    for (const w of plan.warnings) lines.push(`  ${w.file ? `${w.file}: ` : ""}${w.message}`);
  }
  if (report.states === null && plan.units.length > 0) {
    lines.push(
      "",
      "unit states unknown (systemd not reachable): starts of inactive units are not planned",
    );
  }
  return lines.join("\n") + "\n";
}
