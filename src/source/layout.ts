/**
 * The layout loader (layout version 1, SPEC §1): a pure function from a
 * {@link RepoTree} and a host id to the host's {@link DesiredState}. Every rule
 * the layout breaks is collected, so one run shows the operator all of them.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { type Diagnostic, invalid } from "../errors.ts";
import {
  type Artifact,
  type DesiredState,
  IDENTIFIER,
  isNativeKind,
  isQuadletKind,
  QUADLET_SECTION,
  quadletUnitName,
  type TargetDirs,
  type UnitKind,
  type Warning,
} from "../model.ts";
import { segmentProblem, showPath } from "./names.ts";
import {
  compare,
  isReserved,
  MAX_DEPTH,
  MAX_ENTRIES,
  MAX_FILE_SIZE,
  MAX_FILES,
  MAX_PATH_BYTES,
  MAX_TOTAL_SIZE,
  type RepoTree,
  type TreeEntry,
} from "../tree.ts";
import { lastValue, parseUnitFile } from "./unitfile.ts";
import { MAX_YAML_SIZE, parseYaml } from "./yaml.ts";

/**
 * Config roots a repository may not write to unless the host allows them
 * explicitly (agent.toml `config-roots`): each would hand a repo writer
 * control over logins, privileges, boot, name resolution, the container
 * runtime or core-ops itself — e.g. a service named `ssh` would own `/etc/ssh`.
 */
export const DEFAULT_DENIED_CONFIG_ROOTS: readonly string[] = [
  "ssh",
  "sudoers",
  "sudoers.d",
  "pam.d",
  "security",
  "systemd",
  "containers",
  "core-ops",
  "passwd",
  "passwd-",
  "shadow",
  "shadow-",
  "group",
  "group-",
  "gshadow",
  "gshadow-",
  "subuid",
  "subgid",
  "login.defs",
  "crontab",
  "cron.d",
  "cron.daily",
  "cron.hourly",
  "cron.weekly",
  "cron.monthly",
  "cron.allow",
  "cron.deny",
  "anacrontab",
  "at.allow",
  "at.deny",
  "profile",
  "profile.d",
  "bashrc",
  "bash.bashrc",
  "environment",
  "environment.d",
  "default",
  "ld.so.conf",
  "ld.so.conf.d",
  "ld.so.preload",
  "ld.so.cache",
  "modprobe.d",
  "modules-load.d",
  "sysctl.conf",
  "sysctl.d",
  "udev",
  "polkit-1",
  "selinux",
  "apparmor",
  "apparmor.d",
  "audit",
  "fstab",
  "crypttab",
  "hosts",
  "hostname",
  "resolv.conf",
  "nsswitch.conf",
  "NetworkManager",
  "sysconfig",
  "dracut.conf.d",
  "kernel",
  "tmpfiles.d",
  "sysusers.d",
  "ignition",
  "ostree",
  "rpm-ostreed.conf",
  "zincati",
  "yum.repos.d",
  "pki",
  "ssl",
  "ca-certificates",
  "krb5.conf",
  "krb5.conf.d",
  "sssd",
  "shells",
  "securetty",
  "dbus-1",
  "machine-id",
  "os-release",
  "nftables",
  "firewalld",
  "sudo.conf",
  "doas.conf",
];

/** Which config roots this host lets a repository write (agent.toml `config-roots`). */
export interface ConfigRootPolicy {
  /** Only these roots; `null`: every root except {@link DEFAULT_DENIED_CONFIG_ROOTS}. */
  allow: readonly string[] | null;
}

/** What to load the desired state for. */
export interface LoadOptions {
  /** The resolved host id; only consulted when the repo has `hosts/`. */
  host: string | null;
  dirs: TargetDirs;
  /** The host's config-root policy; absent means the default deny-list. */
  configRoots?: ConfigRootPolicy;
}

const README = /^readme(\.[^/]*)?$/i;
const PAYLOADS = ["quadlet", "systemd", "config"] as const;
type Payload = (typeof PAYLOADS)[number];

const configRoot = z.string().regex(
  IDENTIFIER,
  "must be a single identifier (one directory name: no '/', no '..')",
).refine((root) => root !== "core-ops", {
  // /etc/core-ops holds the agent's own config: a repo must not rewrite where it pulls from,
  // whatever config-roots allows.
  message: "core-ops is reserved for the agent's own configuration",
});

const serviceSchema = z.strictObject({ "config-root": configRoot.optional() }).nullable();

const hostSchema = z.strictObject({
  host: z.string().regex(IDENTIFIER, "must be an identifier"),
  services: z.array(z.string().regex(IDENTIFIER, "must be a service identifier")),
});

/** A unit file of one service and its drop-ins (base and host), before it becomes artifacts. */
interface UnitSource {
  payload: "quadlet" | "systemd";
  file: string;
  kind: UnitKind;
  stem: string;
  entry: FileEntry;
  dropins: { name: string; entry: FileEntry; origin: "service" | "host" }[];
}

type FileEntry = Extract<TreeEntry, { type: "file" }>;

/** What one service directory holds. */
interface ServiceSource {
  id: string;
  configRoot: string;
  /** Where the config root was chosen: the `config-root` value, or the service dir for the default. */
  configRootAt: { file: string; line?: number; column?: number };
  units: Map<string, UnitSource>;
  /** Config files by path relative to the service's `config/`. */
  config: Map<string, { entry: FileEntry; origin: "service" | "host" }>;
}

/** Loads the desired state of `options.host` from `tree`; throws exit 65 with every problem found. */
export function loadDesiredState(tree: RepoTree, options: LoadOptions): DesiredState {
  const loader = new Loader(tree);
  return loader.load(options);
}

/** The direct children of each directory, sorted; built once from the flat entry list. */
function index(entries: readonly TreeEntry[]): Map<string, TreeEntry[]> {
  const children = new Map<string, TreeEntry[]>();
  children.set("", []);
  for (const entry of entries) {
    const slash = entry.path.lastIndexOf("/");
    const parent = slash < 0 ? "" : entry.path.slice(0, slash);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent)!.push(entry);
    if (entry.type === "dir" && !children.has(entry.path)) children.set(entry.path, []);
  }
  for (const list of children.values()) list.sort((a, b) => compare(a.path, b.path));
  return children;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function text(entry: FileEntry): string {
  return new TextDecoder().decode(entry.content ?? new Uint8Array());
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Files git keeps for itself; never deployed, even from `config/`. */
const GIT_HOUSEKEEPING = new Set([".gitkeep", ".gitignore"]);

/** Whether `path` lies under `services/` or `hosts/`, whose file contents the readers read. */
function inPayloadRoot(path: string): boolean {
  const top = path.split("/", 1)[0];
  return top === "services" || top === "hosts";
}

class Loader {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Warning[] = [];
  readonly children: Map<string, TreeEntry[]>;

  constructor(readonly tree: RepoTree) {
    this.children = index(tree.entries);
  }

  error(file: string, message: string, hint?: string, line?: number, column?: number) {
    this.errors.push({ message, location: { file: showPath(file), line, column }, hint });
  }

  list(dir: string): TreeEntry[] {
    return this.children.get(dir) ?? [];
  }

  /** The text of a YAML manifest, or null after an error: too large or not UTF-8. */
  yamlText(entry: FileEntry): string | null {
    if (entry.size > MAX_YAML_SIZE) {
      this.error(
        entry.path,
        `YAML manifest is larger than ${MAX_YAML_SIZE / 1024} KiB (${entry.size} bytes)`,
      );
      return null;
    }
    return this.utf8(entry, "YAML manifest");
  }

  /** The content of `entry` as strict UTF-8, or null after an error naming the first bad byte. */
  utf8(entry: FileEntry, what: string): string | null {
    const bytes = entry.content ?? new Uint8Array();
    try {
      return STRICT_UTF8.decode(bytes);
    } catch {
      const { line, column } = firstInvalidUtf8(bytes);
      this.error(
        entry.path,
        `${what} is not valid UTF-8`,
        "save it as UTF-8",
        line,
        column,
      );
      return null;
    }
  }

  /**
   * Unit files and drop-ins must be UTF-8 without NUL: Podman's generator
   * passes both through, and systemd then drops or splits the line silently.
   */
  unitContentOk(entry: FileEntry): boolean {
    const source = this.utf8(entry, "unit file");
    if (source === null) return false;
    const nul = source.indexOf("\0");
    if (nul >= 0) {
      const before = source.slice(0, nul).split("\n");
      this.error(
        entry.path,
        "unit file holds a NUL byte",
        "systemd would cut the line there: remove it",
        before.length,
        before[before.length - 1].length + 1,
      );
      return false;
    }
    return true;
  }

  /** Skips a dotfile in `quadlet/` or `systemd/`: git's own files silently, others with a warning. */
  skipDotfile(entry: TreeEntry, payload: "quadlet" | "systemd"): boolean {
    const name = baseName(entry.path);
    if (!name.startsWith(".")) return false;
    if (!(entry.type === "file" && GIT_HOUSEKEEPING.has(name))) {
      this.warnings.push({
        file: entry.path,
        message: `dotfile in ${payload}/: ignored`,
      });
    }
    return true;
  }

  load(options: LoadOptions): DesiredState {
    if (this.tree.truncated) {
      this.error(
        ".",
        this.tree.truncatedBy === "size"
          ? `services/ and hosts/ hold more than ${MAX_TOTAL_SIZE / 1024 / 1024} MiB of files`
          : `the repository has more than ${MAX_FILES} files (or ${MAX_ENTRIES} entries)`,
        "split it, or move drafts under a '_' directory",
      );
      throw invalid(this.errors);
    }
    // Hostile entries first, all of them, before any path reaches another message.
    this.checkEntries();
    if (this.errors.length > 0) throw invalid(this.errors);
    let servicesDir = false;
    let hostsDir = false;
    for (const entry of this.list("")) {
      const name = entry.path;
      if (isReserved(name)) continue; // .git, _drafts: not ours (SPEC §1)
      // Top-level files (LICENSE, a PDF) are not deployed, so their size is not ours to judge.
      if (entry.type === "file") continue;
      if (this.rejectBadEntry(entry)) continue;
      if (entry.type !== "dir") continue;
      if (name === "services") servicesDir = true;
      else if (name === "hosts") hostsDir = true;
      else if (name === "quadlets" || name === "quadlet-overrides") {
        this.error(
          name + "/",
          `legacy layout: top-level ${name}/ is not read by layout version 1`,
          name === "quadlets"
            ? "move each file to services/<svc>/quadlet/"
            : "move overrides to drop-ins: services/<svc>/quadlet/<unit>.d/<x>.conf or hosts/<host>/<svc>/quadlet/<unit>.d/",
        );
      } else {
        this.error(
          name + "/",
          "unknown top-level directory",
          "core-ops reads services/ and hosts/; prefix the name with '_' to keep it unread",
        );
      }
    }
    if (!servicesDir) {
      this.error(
        ".",
        "not a core-ops repository: no services/ directory",
        "see the layout reference in the README",
      );
      throw invalid(this.errors);
    }

    const services = new Map<string, ServiceSource>();
    for (
      const id of this.ids("services", "service", "each service is a directory services/<svc>/")
    ) {
      services.set(id, this.loadService(id));
    }

    let host: string | null = null;
    let deployed: string[];
    if (hostsDir) {
      host = options.host;
      deployed = this.loadHost(options.host, services);
    } else {
      deployed = [...services.keys()];
    }
    for (const id of deployed) this.checkConfigRoot(services.get(id)!, options.configRoots);
    if (this.errors.length > 0) throw invalid(this.errors);

    const artifacts = this.artifacts(deployed.map((id) => services.get(id)!), options.dirs);
    if (this.errors.length > 0) throw invalid(this.errors);
    return { host, services: deployed, artifacts, warnings: this.warnings };
  }

  /**
   * Judges every entry of the tree on its own, wherever it lies (any host's
   * overlay included): names, links, special files, sizes. These are refused
   * before the layout is read, so no later message prints a hostile name.
   */
  checkEntries() {
    const seen = new Set<string>();
    const reported = new Set<string>();
    for (const entry of this.tree.entries) {
      const segments = entry.path.split("/");
      let bad = false;
      for (let i = 0; i < segments.length && !bad; i++) {
        const problem = segmentProblem(segments[i]);
        if (problem === null) continue;
        bad = true;
        const prefix = segments.slice(0, i + 1).join("/");
        if (reported.has(prefix)) break;
        reported.add(prefix);
        this.error(
          prefix,
          problem,
          "rename it: repository paths are printable UTF-8 without '.', '..' or empty segments",
        );
      }
      if (bad) continue;
      // The reader skips reserved top-level names; a tree from elsewhere may not have.
      if (isReserved(segments[0])) continue;
      if (seen.has(entry.path)) {
        this.error(entry.path, "the path appears twice in the tree");
        continue;
      }
      seen.add(entry.path);
      if (segments.length > 1 && segments.includes(".git")) {
        this.error(
          entry.path,
          "a nested git repository or submodule",
          "core-ops reads one repository: vendor the files instead",
        );
        continue;
      }
      this.checkEntry(entry);
    }
  }

  checkEntry(entry: TreeEntry) {
    switch (entry.type) {
      case "badlink":
        this.error(
          entry.path,
          {
            dangling: `symbolic link to "${showPath(entry.target)}" does not resolve`,
            outside: `symbolic link to "${showPath(entry.target)}" points outside the repository`,
            cycle: `symbolic link to "${
              showPath(entry.target)
            }" points to a directory that contains it`,
            git: `symbolic link to "${showPath(entry.target)}" points into .git`,
          }[entry.problem],
          "symbolic links may only point inside the repository, and not into .git",
        );
        return;
      case "special":
        this.error(
          entry.path,
          "not a regular file or directory (a FIFO, socket or device)",
          "a repository holds files, directories and links inside itself only",
        );
        return;
      case "refused":
        this.error(
          entry.path,
          {
            encoding: "name is not valid UTF-8",
            depth: `directories nested deeper than ${MAX_DEPTH} levels`,
            length: `path longer than ${MAX_PATH_BYTES} bytes`,
            gitlink: "a gitlink (submodule)",
          }[entry.problem],
          {
            encoding: "rename it with a UTF-8 name",
            depth: "flatten the directory tree",
            length: "shorten the path",
            gitlink: "core-ops reads one repository: vendor the submodule's files instead",
          }[entry.problem],
        );
        return;
      case "file":
        if (inPayloadRoot(entry.path) && entry.size > MAX_FILE_SIZE) {
          this.error(entry.path, `file is larger than 1 MiB (${entry.size} bytes)`);
        }
        return;
      case "dir":
        if (entry.path.split("/").length >= MAX_DEPTH) {
          this.error(entry.path, `directories nested deeper than ${MAX_DEPTH} levels`);
        }
        return;
    }
  }

  /** Whether `entry` is one {@link checkEntries} refused (the listing skips it). */
  rejectBadEntry(entry: TreeEntry): boolean {
    if (entry.type === "badlink" || entry.type === "special" || entry.type === "refused") {
      return true;
    }
    return entry.type === "file" && entry.size > MAX_FILE_SIZE;
  }

  checkId(entry: TreeEntry, what: string): boolean {
    const name = baseName(entry.path);
    if (isReserved(name)) {
      this.error(
        entry.path,
        `names starting with '_' or '.' are reserved inside ${entry.path.split("/")[0]}/`,
      );
      return false;
    }
    if (!IDENTIFIER.test(name)) {
      this.error(
        entry.path,
        `invalid ${what} id "${name}"`,
        "ids match ^[A-Za-z0-9][A-Za-z0-9@._-]*$",
      );
      return false;
    }
    return true;
  }

  /** The valid ids of the directories in `services/` or `hosts/`; anything else there is an error. */
  ids(dir: "services" | "hosts", what: string, hint: string): string[] {
    const ids: string[] = [];
    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (entry.type === "file" && README.test(name)) continue;
      if (!this.checkId(entry, what)) continue;
      if (entry.type !== "dir") {
        this.error(entry.path, `unexpected file in ${dir}/`, hint);
        continue;
      }
      ids.push(name);
    }
    return ids;
  }

  loadService(id: string): ServiceSource {
    const dir = `services/${id}`;
    const service: ServiceSource = {
      id,
      configRoot: id,
      configRootAt: { file: `${dir}/` },
      units: new Map(),
      config: new Map(),
    };
    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (entry.type === "file" && (README.test(name) || name.startsWith("."))) continue;
      if (entry.type === "file" && name === "service.yaml") {
        const source = this.yamlText(entry);
        if (source === null) continue;
        const parsed = parseYaml(entry.path, source, serviceSchema);
        if (!parsed.ok) this.errors.push(...parsed.diagnostics);
        else if (parsed.located.value?.["config-root"]) {
          service.configRoot = parsed.located.value["config-root"];
          service.configRootAt = { file: entry.path, ...parsed.located.position(["config-root"]) };
        }
        continue;
      }
      if (entry.type === "dir" && name === "quadlet-overrides") {
        this.error(
          entry.path + "/",
          "legacy layout: services/<svc>/quadlet-overrides/ is not read by layout version 1",
          `move each override to a drop-in: ${dir}/quadlet/<unit>.d/<x>.conf, or hosts/<host>/${id}/quadlet/<unit>.d/<x>.conf for one host`,
        );
        continue;
      }
      if (entry.type === "dir" && (PAYLOADS as readonly string[]).includes(name)) {
        const payload = name as Payload;
        if (payload === "config") this.loadConfig(entry.path, "", service.config, "service");
        else this.loadUnits(entry.path, payload, service);
        continue;
      }
      if (entry.type === "dir" && isReserved(name)) {
        this.error(entry.path, "names starting with '_' or '.' are reserved inside services/");
      } else if (entry.type === "dir") {
        this.error(
          entry.path + "/",
          "unknown directory in a service",
          "a service holds quadlet/, systemd/, config/ and service.yaml",
        );
      } else {
        this.error(
          entry.path,
          "unknown file in a service",
          "a service holds quadlet/, systemd/, config/ and service.yaml",
        );
      }
    }
    return service;
  }

  /** Reads `quadlet/` or `systemd/` of a service: unit files and their drop-in dirs. */
  loadUnits(dir: string, payload: "quadlet" | "systemd", service: ServiceSource) {
    const dropinDirs: TreeEntry[] = [];
    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (this.skipDotfile(entry, payload)) continue;
      if (entry.type === "file" && README.test(name)) continue;
      if (entry.type === "dir") {
        dropinDirs.push(entry);
        continue;
      }
      const parsed = this.unitName(entry.path, name, payload);
      if (!parsed) continue;
      // Recorded even when refused, so its drop-ins are not reported as orphans too.
      this.unitContentOk(entry as FileEntry);
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
      const unit = this.dropinParent(entry, payload);
      if (unit === null) continue;
      const parent = service.units.get(unit);
      if (!parent) {
        this.error(
          entry.path + "/",
          `drop-ins for ${unit}, which this service does not deploy`,
          `add ${dir}/${unit} or remove the directory`,
        );
        continue;
      }
      this.loadDropins(entry.path, parent, "service");
    }
  }

  /**
   * Checks a unit file name against its payload dir: returns its stem and kind,
   * or null after recording an error or warning.
   */
  unitName(
    path: string,
    name: string,
    payload: "quadlet" | "systemd",
  ): { stem: string; kind: UnitKind } | null {
    const dot = name.lastIndexOf(".");
    const stem = dot > 0 ? name.slice(0, dot) : name;
    const ext = dot > 0 ? name.slice(dot + 1) : "";
    const own = payload === "quadlet" ? isQuadletKind(ext) : isNativeKind(ext);
    const other = payload === "quadlet" ? isNativeKind(ext) : isQuadletKind(ext);
    if (other) {
      this.error(
        path,
        `a .${ext} file does not belong in ${payload}/`,
        `move it to ${payload === "quadlet" ? "systemd" : "quadlet"}/`,
      );
      return null;
    }
    if (!own) {
      this.warnings.push({
        file: path,
        message: `unknown file kind ".${ext}" in ${payload}/: skipped`,
      });
      return null;
    }
    if (!IDENTIFIER.test(stem)) {
      this.error(
        path,
        `invalid unit name "${stem}"`,
        "unit names match ^[A-Za-z0-9][A-Za-z0-9@._-]*$",
      );
      return null;
    }
    return { stem, kind: ext as UnitKind };
  }

  /** The unit file a drop-in dir extends (`web.container` for `web.container.d/`), or null after an error. */
  dropinParent(entry: TreeEntry, payload: "quadlet" | "systemd"): string | null {
    const name = baseName(entry.path);
    if (isReserved(name) && !name.startsWith(".")) {
      this.error(entry.path + "/", "names starting with '_' are reserved");
      return null;
    }
    if (!name.endsWith(".d")) {
      this.error(
        entry.path + "/",
        `unknown directory in ${payload}/`,
        `drop-ins go in ${payload}/<unit>.d/<name>.conf`,
      );
      return null;
    }
    const unit = name.slice(0, -2);
    const dot = unit.lastIndexOf(".");
    const ext = dot > 0 ? unit.slice(dot + 1) : "";
    const own = payload === "quadlet" ? isQuadletKind(ext) : isNativeKind(ext);
    const other = payload === "quadlet" ? isNativeKind(ext) : isQuadletKind(ext);
    if (other) {
      this.error(
        entry.path + "/",
        `drop-ins for a .${ext} unit do not belong in ${payload}/`,
        `move them to ${payload === "quadlet" ? "systemd" : "quadlet"}/`,
      );
      return null;
    }
    if (!own) {
      this.error(
        entry.path + "/",
        `unknown directory in ${payload}/`,
        `drop-ins go in ${payload}/<unit>.d/<name>.conf`,
      );
      return null;
    }
    return unit;
  }

  loadDropins(dir: string, parent: UnitSource, origin: "service" | "host") {
    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (this.skipDotfile(entry, parent.payload)) continue;
      if (entry.type === "file" && README.test(name)) continue;
      if (entry.type === "dir") {
        this.error(
          entry.path + "/",
          "unknown directory inside a drop-in directory",
          "drop-in directories hold only <name>.conf files",
        );
        continue;
      }
      if (!name.endsWith(".conf")) {
        this.warnings.push({ file: entry.path, message: "drop-in without .conf suffix: skipped" });
        continue;
      }
      if (!IDENTIFIER.test(name)) {
        this.error(entry.path, `invalid drop-in name "${name}"`);
        continue;
      }
      this.unitContentOk(entry as FileEntry);
      parent.dropins.push({ name, entry: entry as FileEntry, origin });
    }
  }

  /** Reads a `config/` tree: every file, by path relative to `config/`. */
  loadConfig(
    dir: string,
    rel: string,
    into: Map<string, { entry: FileEntry; origin: "service" | "host" }>,
    origin: "service" | "host",
  ) {
    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      const path = rel === "" ? name : `${rel}/${name}`;
      if (README.test(name) && entry.type === "file") continue;
      // .env and friends are config; only git's own bookkeeping is not (SPEC §1).
      if (entry.type === "file" && GIT_HOUSEKEEPING.has(name)) continue;
      if (entry.type === "dir") this.loadConfig(entry.path, path, into, origin);
      else if (entry.type === "file") into.set(path, { entry, origin });
    }
  }

  /** Selects the services of `host` from `hosts/` and applies its overlay; returns the deployed ids. */
  loadHost(host: string | null, services: Map<string, ServiceSource>): string[] {
    const known = this.ids(
      "hosts",
      "host",
      "each host is a directory hosts/<host>/ with a host.yaml",
    );
    if (host === null) {
      this.error(
        "hosts/",
        "the repository has hosts/ but no host id was given",
        "pass --host, set CORE_OPS_HOST or host in agent.toml",
      );
      return [];
    }
    if (!known.includes(host)) {
      this.error(
        "hosts/",
        `unknown host "${host}"`,
        known.length ? `known hosts: ${known.join(", ")}` : "hosts/ is empty",
      );
      return [];
    }

    const dir = `hosts/${host}`;
    const manifest = this.list(dir).find((e) =>
      baseName(e.path) === "host.yaml" && e.type === "file"
    );
    if (!manifest || manifest.type !== "file") {
      this.error(`${dir}/host.yaml`, "missing host.yaml", "write host: <id> and services: [..]");
      return [];
    }
    const source = this.yamlText(manifest);
    if (source === null) return [];
    const parsed = parseYaml(manifest.path, source, hostSchema);
    if (!parsed.ok) {
      this.errors.push(...parsed.diagnostics);
      return [];
    }
    const { value, position } = parsed.located;
    if (value.host !== host) {
      this.error(
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
        this.error(manifest.path, `service "${id}" is listed twice`, undefined, at.line, at.column);
      } else if (!services.has(id)) {
        this.error(
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

    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (
        entry.type === "file" && (name === "host.yaml" || README.test(name) || name.startsWith("."))
      ) continue;
      if (entry.type === "dir" && name === "overrides") {
        this.error(
          entry.path + "/",
          "legacy layout: hosts/<host>/overrides/ is not read by layout version 1",
          `move each override to ${dir}/<svc>/quadlet/<unit>.d/<x>.conf (drop-ins) or ${dir}/<svc>/config/`,
        );
        continue;
      }
      if (!this.checkId(entry, "service")) continue;
      if (entry.type !== "dir") {
        this.error(
          entry.path,
          "unknown file in a host directory",
          "a host holds host.yaml and one overlay directory per service",
        );
        continue;
      }
      if (!value.services.includes(name) || !services.has(name)) {
        this.error(
          entry.path + "/",
          `overlay for service "${name}", which host "${host}" does not deploy`,
          `list it in ${manifest.path} or remove the overlay`,
        );
        continue;
      }
      this.loadOverlay(entry.path, services.get(name)!);
    }
    return deployed;
  }

  /** Applies `hosts/<host>/<svc>/`: drop-ins for the service's units and config replacements. */
  loadOverlay(dir: string, service: ServiceSource) {
    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (entry.type === "file" && (README.test(name) || name.startsWith("."))) continue;
      if (entry.type === "dir" && name === "config") {
        const overlay = new Map<string, { entry: FileEntry; origin: "service" | "host" }>();
        this.loadConfig(entry.path, "", overlay, "host");
        for (const [rel, file] of overlay) service.config.set(rel, file);
        continue;
      }
      if (entry.type === "dir" && (name === "quadlet" || name === "systemd")) {
        this.loadOverlayUnits(entry.path, name, service);
        continue;
      }
      this.error(
        entry.path + (entry.type === "dir" ? "/" : ""),
        "unknown entry in a host overlay",
        "an overlay holds quadlet/, systemd/ (drop-ins only) and config/",
      );
    }
  }

  loadOverlayUnits(dir: string, payload: "quadlet" | "systemd", service: ServiceSource) {
    for (const entry of this.list(dir)) {
      if (this.rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (this.skipDotfile(entry, payload)) continue;
      if (entry.type === "file" && README.test(name)) continue;
      if (entry.type === "file") {
        const dot = name.lastIndexOf(".");
        const ext = dot > 0 ? name.slice(dot + 1) : "";
        if (isQuadletKind(ext) || isNativeKind(ext)) {
          this.error(
            entry.path,
            "a base unit inside a host overlay",
            `host overlays hold drop-ins only: put the unit in services/${service.id}/${payload}/ and the host's changes in ${dir}/${name}.d/<x>.conf`,
          );
        } else {
          this.warnings.push({
            file: entry.path,
            message: `unknown file kind ".${ext}" in ${payload}/: skipped`,
          });
        }
        continue;
      }
      const unit = this.dropinParent(entry, payload);
      if (unit === null) continue;
      const parent = service.units.get(unit);
      if (!parent || parent.payload !== payload) {
        this.error(
          entry.path + "/",
          `drop-ins for ${unit}, which service "${service.id}" does not deploy`,
          `services/${service.id}/${payload}/${unit} must exist`,
        );
        continue;
      }
      this.loadDropins(entry.path, parent, "host");
    }
  }

  /** Refuses a config root the host does not allow (agent.toml `config-roots`). */
  checkConfigRoot(service: ServiceSource, policy: ConfigRootPolicy | undefined) {
    // A service without config files asks for no root: `ssh` may still run a container.
    if (service.config.size === 0) return;
    const root = service.configRoot;
    const allow = policy?.allow ?? null;
    const { file, line, column } = service.configRootAt;
    const chosen = file.endsWith("/") ? `(the service id, the default)` : `(set in ${file})`;
    if (allow === null && DEFAULT_DENIED_CONFIG_ROOTS.includes(root)) {
      this.error(
        file,
        `config root "${root}" ${chosen} is a system root denied by default (setting config-roots)`,
        `choose another config-root in services/${service.id}/service.yaml, or allow "${root}" explicitly in agent.toml config-roots`,
        line,
        column,
      );
    } else if (allow !== null && !allow.includes(root)) {
      this.error(
        file,
        `config root "${root}" ${chosen} is not allowed on this host (setting config-roots: ${
          allow.length ? allow.join(", ") : "none"
        })`,
        `add "${root}" to config-roots in agent.toml, or choose an allowed config-root`,
        line,
        column,
      );
    }
  }

  /** Turns the deployed services into artifacts and checks that no two claim one destination or unit. */
  artifacts(services: ServiceSource[], dirs: TargetDirs): Artifact[] {
    const artifacts: Artifact[] = [];
    for (const service of services) {
      for (
        const unit of [...service.units.values()].sort((a, b) =>
          compare(a.entry.path, b.entry.path)
        )
      ) {
        artifacts.push(...this.unitArtifacts(service, unit, dirs));
      }
      for (const rel of [...service.config.keys()].sort(compare)) {
        const { entry, origin } = service.config.get(rel)!;
        artifacts.push(artifact(entry, {
          service: service.id,
          kind: "config",
          destination: `${dirs.configDir}/${service.configRoot}/${rel}`,
          unit: null,
          mode: entry.worldReadable ? 0o644 : 0o600,
          origin,
        }));
      }
    }

    // A config root over a unit dir would deploy units the layout never judged.
    for (const a of artifacts) {
      if (a.kind !== "config") continue;
      for (const dir of [dirs.quadletDir, dirs.systemdUnitDir]) {
        if (a.destination.startsWith(dir + "/")) {
          this.error(
            a.source,
            `config file would be deployed into ${dir}, a unit directory`,
            "choose a config-root in service.yaml that does not overlap the unit directories",
          );
        }
      }
    }

    const byDestination = new Map<string, Artifact>();
    const byUnit = new Map<string, Artifact>();
    for (const a of artifacts) {
      this.claim(byDestination, a.destination, a, "destination", "rename one of them");
      if (a.kind === "dropin" || a.kind === "config" || a.unit === null) continue;
      this.claim(byUnit, a.unit, a, "unit", "rename one of them or change its ServiceName=");
    }
    // A path one source deploys as a file and another needs as a directory.
    for (const a of artifacts) {
      let slash = a.destination.lastIndexOf("/");
      while (slash > 0) {
        const above = byDestination.get(a.destination.slice(0, slash));
        if (above) {
          this.error(
            a.source,
            `${above.destination} is a file from ${above.source} and a directory for ${a.source}`,
            "rename one of them",
          );
          break;
        }
        slash = a.destination.lastIndexOf("/", slash - 1);
      }
    }
    return artifacts;
  }

  /** Records `a` as the one source of `key`, or an error naming both sources. */
  claim(owners: Map<string, Artifact>, key: string, a: Artifact, what: string, hint: string) {
    const other = owners.get(key);
    if (other) {
      this.error(
        a.source,
        `two sources for one ${what} ${key}: ${other.source} and ${a.source}`,
        hint,
      );
    } else {
      owners.set(key, a);
    }
  }

  unitArtifacts(service: ServiceSource, unit: UnitSource, dirs: TargetDirs): Artifact[] {
    const dir = unit.payload === "quadlet" ? dirs.quadletDir : dirs.systemdUnitDir;
    const byName = (a: { name: string }, b: { name: string }) => compare(a.name, b.name);
    // Artifacts list base drop-ins, then the host's (SPEC §1) ...
    const base = unit.dropins.filter((d) => d.origin === "service").sort(byName);
    const host = unit.dropins.filter((d) => d.origin === "host").sort(byName);
    const dropins = [...base, ...host];
    // systemd applies drop-ins by file name: a host drop-in sorting before a base
    // one would be overridden by it. (Equal names are a destination claimed twice.)
    const last = base.at(-1);
    for (const d of host) {
      if (last === undefined || compare(d.name, last.name) >= 0) continue;
      const later = base.filter((b) => compare(b.name, d.name) > 0);
      this.error(
        d.entry.path,
        `host drop-in ${d.name} sorts before the base drop-in ${
          later.map((b) => b.entry.path).join(", ")
        }, which systemd would apply after it`,
        `rename it to sort after ${last.name} (e.g. 90-${d.name.replace(/^\d+-/, "")})`,
      );
    }
    let unitName = unit.file;
    if (isQuadletKind(unit.kind)) {
      // ... while the generator applies them all in file-name order.
      const merged = [unit.entry, ...[...unit.dropins].sort(byName).map((d) => d.entry)];
      const serviceName = lastValue(
        merged.map((e) => parseUnitFile(text(e))),
        QUADLET_SECTION[unit.kind],
        "ServiceName",
      );
      if (serviceName !== undefined && !IDENTIFIER.test(serviceName)) {
        this.error(unit.entry.path, `invalid ServiceName="${serviceName}"`);
      }
      unitName = quadletUnitName(unit.stem, unit.kind, serviceName);
    }
    const common = { service: service.id, unit: unitName, mode: 0o644, unitFile: unit.file };
    return [
      artifact(unit.entry, {
        ...common,
        kind: unit.kind,
        destination: `${dir}/${unit.file}`,
        origin: "service",
      }),
      ...dropins.map((d) =>
        artifact(d.entry, {
          ...common,
          kind: "dropin",
          destination: `${dir}/${unit.file}.d/${d.name}`,
          origin: d.origin,
        })
      ),
    ];
  }
}

function artifact(
  entry: FileEntry,
  fields: Omit<Artifact, "source" | "sha256" | "content">,
): Artifact {
  const content = entry.content ?? new Uint8Array();
  return {
    ...fields,
    source: entry.path,
    sha256: createHash("sha256").update(content).digest("hex"),
    content,
  };
}

/** The 1-based line and column of the first byte that breaks UTF-8 in `bytes`. */
function firstInvalidUtf8(bytes: Uint8Array): { line: number; column: number } {
  let line = 1;
  let column = 1;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const length = b < 0x80
      ? 1
      : b >= 0xc2 && b <= 0xdf
      ? 2
      : b >= 0xe0 && b <= 0xef
      ? 3
      : b >= 0xf0 && b <= 0xf4
      ? 4
      : 0;
    if (length === 0 || i + length > bytes.length) break;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(i, i + length));
    } catch {
      break;
    }
    if (b === 0x0a) {
      line++;
      column = 1;
    } else {
      column++;
    }
    i += length;
  }
  return { line, column };
}
