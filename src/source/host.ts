/**
 * Host selection and host overlays (SPEC §1): `hosts/<host>/host.yaml` says
 * which services one host deploys, in order, and `hosts/<host>/<svc>/` adds
 * drop-ins and replaces config files for that host only. An overlay may only
 * add to what the service deploys, never a base unit of its own, and its
 * drop-ins must win over the service's.
 *
 * @module
 */
import * as z from "../zod.ts";
import { IDENTIFIER, isNativeKind, isQuadletKind } from "../model.ts";
import {
  baseName,
  checkId,
  dropinParent,
  ids,
  type Reading,
  README,
  type UnitPayload,
} from "./entries.ts";
import { rejectBadEntry } from "./hostile.ts";
import { loadSecrets } from "./secrets.ts";
import type { Problems } from "./problems.ts";
import {
  type ConfigSource,
  type DropinSource,
  loadConfig,
  loadDropins,
  type ServiceSource,
} from "./service.ts";
import { compare } from "../tree.ts";
import { parseYaml } from "./yaml.ts";

/** host.yaml: the host's own id (it must match its directory) and its services, in order. */
const hostSchema = z.strictObject({
  host: z.string().check(z.regex(IDENTIFIER, "must be an identifier")),
  services: z.array(z.string().check(z.regex(IDENTIFIER, "must be a service identifier"))),
});

/**
 * Selects the services of `host` from `hosts/` and applies its overlay to
 * `services`; returns the deployed ids in host.yaml's order.
 */
export function loadHost(
  reading: Reading,
  host: string | null,
  services: Map<string, ServiceSource>,
): string[] {
  const problems = reading.problems;
  const known = ids(
    reading,
    "hosts",
    "host",
    "each host is a directory hosts/<host>/ with a host.yaml",
  );
  if (host === null) {
    problems.error(
      "hosts/",
      "the repository has hosts/ but no host id was given",
      "pass --host, set CORE_OPS_HOST or host in agent.toml",
    );
    return [];
  }
  if (!known.includes(host)) {
    problems.error(
      "hosts/",
      `unknown host "${host}"`,
      known.length ? `known hosts: ${known.join(", ")}` : "hosts/ is empty",
    );
    return [];
  }

  const dir = `hosts/${host}`;
  const manifest = reading.list(dir).find((e) =>
    baseName(e.path) === "host.yaml" && e.type === "file"
  );
  if (!manifest || manifest.type !== "file") {
    problems.error(`${dir}/host.yaml`, "missing host.yaml", "write host: <id> and services: [..]");
    return [];
  }
  const source = problems.yamlText(manifest);
  if (source === null) return [];
  const parsed = parseYaml(manifest.path, source, hostSchema);
  if (!parsed.ok) {
    problems.errors.push(...parsed.diagnostics);
    return [];
  }
  const { value, position } = parsed.located;
  if (value.host !== host) {
    problems.error(
      manifest.path,
      `host: "${value.host}" does not match the directory name "${host}"`,
      undefined,
      position(["host"]).line,
      position(["host"]).column,
    );
  }
  const deployed: string[] = [];
  value.services.forEach((id, i) => {
    const at = position(["services", i]);
    if (deployed.includes(id)) {
      problems.error(
        manifest.path,
        `service "${id}" is listed twice`,
        undefined,
        at.line,
        at.column,
      );
    } else if (!services.has(id)) {
      problems.error(
        manifest.path,
        `service "${id}" does not exist`,
        `no services/${id}/ in the repository`,
        at.line,
        at.column,
      );
    } else {
      deployed.push(id);
    }
  });

  for (const entry of reading.list(dir)) {
    if (rejectBadEntry(entry)) continue;
    const name = baseName(entry.path);
    if (
      entry.type === "file" && (name === "host.yaml" || README.test(name) || name.startsWith("."))
    ) continue;
    if (entry.type === "dir" && name === "overrides") {
      problems.error(
        entry.path + "/",
        "legacy layout: hosts/<host>/overrides/ is not read by layout version 1",
        `move each override to ${dir}/<svc>/quadlet/<unit>.d/<x>.conf (drop-ins) or ${dir}/<svc>/config/`,
      );
      continue;
    }
    if (!checkId(problems, entry, "service")) continue;
    if (entry.type !== "dir") {
      problems.error(
        entry.path,
        "unknown file in a host directory",
        "a host holds host.yaml and one overlay directory per service",
      );
      continue;
    }
    if (!value.services.includes(name) || !services.has(name)) {
      problems.error(
        entry.path + "/",
        `overlay for service "${name}", which host "${host}" does not deploy`,
        `list it in ${manifest.path} or remove the overlay`,
      );
      continue;
    }
    loadOverlay(reading, entry.path, services.get(name)!);
  }
  return deployed;
}

/** Applies `hosts/<host>/<svc>/`: drop-ins for the service's units and config replacements. */
function loadOverlay(reading: Reading, dir: string, service: ServiceSource): void {
  for (const entry of reading.list(dir)) {
    if (rejectBadEntry(entry)) continue;
    const name = baseName(entry.path);
    if (entry.type === "file" && (README.test(name) || name.startsWith("."))) continue;
    if (entry.type === "dir" && name === "config") {
      const overlay = new Map<string, ConfigSource>();
      loadConfig(reading, entry.path, "", overlay, "host");
      for (const [rel, file] of overlay) service.config.set(rel, file);
      continue;
    }
    if (entry.type === "dir" && name === "secrets") {
      // A host's secret replaces the service's of the same name, or adds one.
      loadSecrets(reading, entry.path, "", service.secrets, "host");
      continue;
    }
    if (entry.type === "dir" && (name === "quadlet" || name === "systemd")) {
      loadOverlayUnits(reading, entry.path, name, service);
      continue;
    }
    reading.problems.error(
      entry.path + (entry.type === "dir" ? "/" : ""),
      "unknown entry in a host overlay",
      "an overlay holds quadlet/, systemd/ (drop-ins only), config/ and secrets/",
    );
  }
}

/** Reads an overlay's `quadlet/` or `systemd/`: drop-in dirs for units the service deploys. */
function loadOverlayUnits(
  reading: Reading,
  dir: string,
  payload: UnitPayload,
  service: ServiceSource,
): void {
  const problems = reading.problems;
  for (const { entry, name } of reading.payload(dir, payload)) {
    if (entry.type === "file") {
      const dot = name.lastIndexOf(".");
      const ext = dot > 0 ? name.slice(dot + 1) : "";
      if (isQuadletKind(ext) || isNativeKind(ext)) {
        problems.error(
          entry.path,
          "a base unit inside a host overlay",
          `host overlays hold drop-ins only: put the unit in services/${service.id}/${payload}/ and the host's changes in ${dir}/${name}.d/<x>.conf`,
        );
      } else {
        problems.warn(entry.path, `unknown file kind ".${ext}" in ${payload}/: skipped`);
      }
      continue;
    }
    const unit = dropinParent(problems, entry, payload);
    if (unit === null) continue;
    const parent = service.units.get(unit);
    if (!parent || parent.payload !== payload) {
      problems.error(
        entry.path + "/",
        `drop-ins for ${unit}, which service "${service.id}" does not deploy`,
        `services/${service.id}/${payload}/${unit} must exist`,
      );
      continue;
    }
    loadDropins(reading, entry.path, parent, "host");
  }
}

/**
 * Refuses a host drop-in that sorts before a base drop-in of its unit:
 * systemd applies drop-ins by file name, so the base one would override the
 * host's. (Equal names are a destination claimed twice, reported there.)
 * `base` and `host` are each sorted by name.
 */
export function checkDropinOrder(
  problems: Problems,
  base: readonly DropinSource[],
  host: readonly DropinSource[],
): void {
  const last = base.at(-1);
  for (const d of host) {
    if (last === undefined || compare(d.name, last.name) >= 0) continue;
    const later = base.filter((b) => compare(b.name, d.name) > 0);
    problems.error(
      d.entry.path,
      `host drop-in ${d.name} sorts before the base drop-in ${
        later.map((b) => b.entry.path).join(", ")
      }, which systemd would apply after it`,
      `rename it to sort after ${last.name} (e.g. 90-${d.name.replace(/^\d+-/, "")})`,
    );
  }
}
