/**
 * Reads one service directory, `services/<svc>/` (SPEC §1): its service.yaml,
 * the unit files of `quadlet/` and `systemd/` with their drop-ins, and the
 * files of `config/`. The result is still sources, not artifacts: a host
 * overlay may add drop-ins and replace config files before they are deployed.
 *
 * @module
 */
import * as z from "../zod.ts";
import { IDENTIFIER, type UnitKind } from "../model.ts";
import { type ConfigRootChoice, configRootSchema } from "./config_roots.ts";
import {
  baseName,
  dropinParent,
  GIT_HOUSEKEEPING,
  type Reading,
  README,
  unitName,
  type UnitPayload,
} from "./entries.ts";
import { rejectBadEntry } from "./hostile.ts";
import { loadSecrets, type SecretSource } from "./secrets.ts";
import { type FileEntry, isReserved, type TreeEntry } from "../tree.ts";
import { parseYaml } from "./yaml.ts";

/** Whether a file came from the service itself or from the selected host's overlay. */
export type Origin = "service" | "host";

/** A drop-in of a unit, with where it came from: host drop-ins must sort after base ones. */
export interface DropinSource {
  name: string;
  entry: FileEntry;
  origin: Origin;
}

/** A unit file of one service and its drop-ins (base and host), before it becomes artifacts. */
export interface UnitSource {
  payload: UnitPayload;
  /** The file name, e.g. `web.container`. */
  file: string;
  kind: UnitKind;
  /** The file name without its kind, e.g. `web`. */
  stem: string;
  entry: FileEntry;
  dropins: DropinSource[];
}

/** A config file to deploy, with where it came from. */
export interface ConfigSource {
  entry: FileEntry;
  origin: Origin;
}

/** What one service directory holds. */
export interface ServiceSource extends ConfigRootChoice {
  /** Unit files by file name. */
  units: Map<string, UnitSource>;
  /** Config files by path relative to the service's `config/`. */
  config: Map<string, ConfigSource>;
  /** Secrets (age files) by deployed path: relative to `secrets/`, without `.age`. */
  secrets: Map<string, SecretSource>;
  /** `user:` of service.yaml (SPEC §7): the login whose systemd manager runs its quadlets. */
  user: string | null;
}

/**
 * A login as `useradd` accepts it by default (and systemd's user-name rules
 * for a portable name): lower-case letters, digits, `_` and `-`, not starting
 * with a digit or `-`, at most 32 characters. `root` is not a user service.
 */
const loginSchema = z.string().check(
  z.regex(
    /^[a-z_][a-z0-9_-]{0,31}$/,
    "a login: lower-case letters, digits, '_' and '-', at most 32, not starting with a digit or '-'",
  ),
  z.refine((login) => login !== "root", "root's units are system units: leave `user:` out"),
);

/** service.yaml: optional; `config-root` and `user` are its keys. */
const serviceSchema = z.nullable(z.strictObject({
  "config-root": z.optional(configRootSchema),
  user: z.optional(loginSchema),
}));

const PAYLOADS = ["quadlet", "systemd", "config", "secrets"] as const;
type Payload = (typeof PAYLOADS)[number];

/** Reads `services/<id>/`, recording every problem in it. */
export function loadService(reading: Reading, id: string): ServiceSource {
  const problems = reading.problems;
  const dir = `services/${id}`;
  const service: ServiceSource = {
    id,
    configRoot: id,
    configRootAt: { file: `${dir}/` },
    units: new Map(),
    config: new Map(),
    secrets: new Map(),
    user: null,
  };
  for (const entry of reading.list(dir)) {
    if (rejectBadEntry(entry)) continue;
    const name = baseName(entry.path);
    if (entry.type === "file" && (README.test(name) || name.startsWith("."))) continue;
    if (entry.type === "file" && name === "service.yaml") {
      const source = problems.yamlText(entry);
      if (source === null) continue;
      const parsed = parseYaml(entry.path, source, serviceSchema);
      if (!parsed.ok) problems.errors.push(...parsed.diagnostics);
      else if (parsed.located.value?.["config-root"]) {
        service.configRoot = parsed.located.value["config-root"];
        service.configRootAt = { file: entry.path, ...parsed.located.position(["config-root"]) };
      }
      if (parsed.ok && parsed.located.value?.user) service.user = parsed.located.value.user;
      continue;
    }
    if (entry.type === "dir" && name === "quadlet-overrides") {
      problems.error(
        entry.path + "/",
        "legacy layout: services/<svc>/quadlet-overrides/ is not read by layout version 1",
        `move each override to a drop-in: ${dir}/quadlet/<unit>.d/<x>.conf, or hosts/<host>/${id}/quadlet/<unit>.d/<x>.conf for one host`,
      );
      continue;
    }
    if (entry.type === "dir" && (PAYLOADS as readonly string[]).includes(name)) {
      const payload = name as Payload;
      if (payload === "config") loadConfig(reading, entry.path, "", service.config, "service");
      else if (payload === "secrets") {
        loadSecrets(reading, entry.path, "", service.secrets, "service");
      } else loadUnits(reading, entry.path, payload, service);
      continue;
    }
    if (entry.type === "dir" && isReserved(name)) {
      problems.error(entry.path, "names starting with '_' or '.' are reserved inside services/");
    } else if (entry.type === "dir") {
      problems.error(
        entry.path + "/",
        "unknown directory in a service",
        "a service holds quadlet/, systemd/, config/, secrets/ and service.yaml",
      );
    } else {
      problems.error(
        entry.path,
        "unknown file in a service",
        "a service holds quadlet/, systemd/, config/, secrets/ and service.yaml",
      );
    }
  }
  refuseNativeUserUnits(reading, service);
  return service;
}

/**
 * A user service runs quadlets under its login's manager; a native unit there
 * would be a second, unjudged way to run code as that login (SPEC §7).
 */
function refuseNativeUserUnits(reading: Reading, service: ServiceSource): void {
  if (service.user === null) return;
  for (const unit of service.units.values()) {
    if (unit.payload !== "systemd") continue;
    reading.problems.error(
      unit.entry.path,
      `native unit ${unit.file} in a user service (user: ${service.user})`,
      "a user service deploys quadlets only: turn it into a quadlet, or move it to a system service",
    );
  }
}

/** Reads `quadlet/` or `systemd/` of a service: unit files and their drop-in dirs. */
function loadUnits(
  reading: Reading,
  dir: string,
  payload: UnitPayload,
  service: ServiceSource,
): void {
  const problems = reading.problems;
  const dropinDirs: TreeEntry[] = [];
  for (const { entry, name } of reading.payload(dir, payload)) {
    if (entry.type === "dir") {
      dropinDirs.push(entry);
      continue;
    }
    const parsed = unitName(problems, entry.path, name, payload);
    if (!parsed) continue;
    // Recorded even when refused, so its drop-ins are not reported as orphans too.
    problems.unitContentOk(entry as FileEntry);
    service.units.set(name, {
      payload,
      file: name,
      kind: parsed.kind,
      stem: parsed.stem,
      entry: entry as FileEntry,
      dropins: [],
    });
  }
  for (const entry of dropinDirs) {
    const unit = dropinParent(problems, entry, payload);
    if (unit === null) continue;
    const parent = service.units.get(unit);
    if (!parent) {
      problems.error(
        entry.path + "/",
        `drop-ins for ${unit}, which this service does not deploy`,
        `add ${dir}/${unit} or remove the directory`,
      );
      continue;
    }
    loadDropins(reading, entry.path, parent, "service");
  }
}

/** Reads a drop-in dir `<unit>.d/` into `parent`'s drop-ins: `.conf` files only. */
export function loadDropins(
  reading: Reading,
  dir: string,
  parent: UnitSource,
  origin: Origin,
): void {
  const problems = reading.problems;
  for (const { entry, name } of reading.payload(dir, parent.payload)) {
    if (entry.type === "dir") {
      problems.error(
        entry.path + "/",
        "unknown directory inside a drop-in directory",
        "drop-in directories hold only <name>.conf files",
      );
      continue;
    }
    if (!name.endsWith(".conf")) {
      problems.warn(entry.path, "drop-in without .conf suffix: skipped");
      continue;
    }
    if (!IDENTIFIER.test(name)) {
      problems.error(entry.path, `invalid drop-in name "${name}"`);
      continue;
    }
    problems.unitContentOk(entry as FileEntry);
    parent.dropins.push({ name, entry: entry as FileEntry, origin });
  }
}

/** Reads a `config/` tree into `into`: every file, by path relative to `config/`. */
export function loadConfig(
  reading: Reading,
  dir: string,
  rel: string,
  into: Map<string, ConfigSource>,
  origin: Origin,
): void {
  for (const entry of reading.list(dir)) {
    if (rejectBadEntry(entry)) continue;
    const name = baseName(entry.path);
    const path = rel === "" ? name : `${rel}/${name}`;
    if (README.test(name) && entry.type === "file") continue;
    // .env and friends are config; only git's own bookkeeping is not (SPEC §1).
    if (entry.type === "file" && GIT_HOUSEKEEPING.has(name)) continue;
    if (entry.type === "dir") loadConfig(reading, entry.path, path, into, origin);
    else if (entry.type === "file") into.set(path, { entry, origin });
  }
}
