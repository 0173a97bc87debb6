/**
 * The names the layout gives meaning to (SPEC §1): the top level, service and
 * host ids, reserved and ignored names, unit file kinds and drop-in
 * directories. Each check records its own error or warning and says whether
 * the reader may go on with the entry.
 *
 * @module
 */
import { IDENTIFIER, isNativeKind, isQuadletKind, type UnitKind } from "../model.ts";
import { rejectBadEntry } from "./hostile.ts";
import { Problems } from "./problems.ts";
import { compare, isReserved, type RepoTree, type TreeEntry } from "../tree.ts";

/** READMEs document a repository at any level and are never deployed. */
export const README = /^readme(\.[^/]*)?$/i;

/** Files git keeps for itself; never deployed, even from `config/`. */
export const GIT_HOUSEKEEPING = new Set([".gitkeep", ".gitignore"]);

/** The payload directories of a service and of a host overlay. */
export type UnitPayload = "quadlet" | "systemd";

/** The last segment of a repo-relative path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * One load in progress: the tree, its directories listed, and the problems
 * found so far. Every step of the loader reads from it and reports to it.
 */
export class Reading {
  /** Everything wrong found so far; thrown once at the end of a step. */
  readonly problems = new Problems();
  readonly #children: Map<string, TreeEntry[]>;

  constructor(tree: RepoTree) {
    this.#children = index(tree.entries);
  }

  /** The direct children of `dir` ("" for the top level), sorted by path. */
  list(dir: string): TreeEntry[] {
    return this.#children.get(dir) ?? [];
  }

  /**
   * The children of a `quadlet/` or `systemd/` dir (or a drop-in dir in
   * one) worth judging, each with its name: hostile entries refused,
   * dotfiles and READMEs skipped as SPEC §1 says.
   */
  *payload(dir: string, payload: UnitPayload): Generator<{ entry: TreeEntry; name: string }> {
    for (const entry of this.list(dir)) {
      if (rejectBadEntry(entry)) continue;
      const name = baseName(entry.path);
      if (skipDotfile(this.problems, entry, payload)) continue;
      if (entry.type === "file" && README.test(name)) continue;
      yield { entry, name };
    }
  }
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

/**
 * Reads the top level: which of `services/` and `hosts/` exist. Anything
 * else there is an error, except reserved names and files, which are not ours.
 */
export function topLevel(reading: Reading): { services: boolean; hosts: boolean } {
  const problems = reading.problems;
  let services = false;
  let hosts = false;
  for (const entry of reading.list("")) {
    const name = entry.path;
    if (isReserved(name)) continue; // .git, _drafts: not ours (SPEC §1)
    // Top-level files (LICENSE, a PDF) are not deployed, so their size is not ours to judge.
    if (entry.type === "file") continue;
    if (rejectBadEntry(entry)) continue;
    if (entry.type !== "dir") continue;
    if (name === "services") services = true;
    else if (name === "hosts") hosts = true;
    else if (name === "quadlets" || name === "quadlet-overrides") {
      problems.error(
        name + "/",
        `legacy layout: top-level ${name}/ is not read by layout version 1`,
        name === "quadlets"
          ? "move each file to services/<svc>/quadlet/"
          : "move overrides to drop-ins: services/<svc>/quadlet/<unit>.d/<x>.conf or hosts/<host>/<svc>/quadlet/<unit>.d/",
      );
    } else {
      problems.error(
        name + "/",
        "unknown top-level directory",
        "core-ops reads services/ and hosts/; prefix the name with '_' to keep it unread",
      );
    }
  }
  return { services, hosts };
}

/** Whether `entry`'s name is a valid `what` id (service or host), else false after an error. */
export function checkId(problems: Problems, entry: TreeEntry, what: string): boolean {
  const name = baseName(entry.path);
  if (isReserved(name)) {
    problems.error(
      entry.path,
      `names starting with '_' or '.' are reserved inside ${entry.path.split("/")[0]}/`,
    );
    return false;
  }
  if (!IDENTIFIER.test(name)) {
    problems.error(
      entry.path,
      `invalid ${what} id "${name}"`,
      "ids match ^[A-Za-z0-9][A-Za-z0-9@._-]*$",
    );
    return false;
  }
  return true;
}

/** The valid ids of the directories in `services/` or `hosts/`; anything else there is an error. */
export function ids(
  reading: Reading,
  dir: "services" | "hosts",
  what: string,
  hint: string,
): string[] {
  const found: string[] = [];
  for (const entry of reading.list(dir)) {
    if (rejectBadEntry(entry)) continue;
    const name = baseName(entry.path);
    if (entry.type === "file" && README.test(name)) continue;
    if (!checkId(reading.problems, entry, what)) continue;
    if (entry.type !== "dir") {
      reading.problems.error(entry.path, `unexpected file in ${dir}/`, hint);
      continue;
    }
    found.push(name);
  }
  return found;
}

/** Skips a dotfile in `quadlet/` or `systemd/`: git's own files silently, others with a warning. */
export function skipDotfile(problems: Problems, entry: TreeEntry, payload: UnitPayload): boolean {
  const name = baseName(entry.path);
  if (!name.startsWith(".")) return false;
  if (!(entry.type === "file" && GIT_HOUSEKEEPING.has(name))) {
    problems.warn(entry.path, `dotfile in ${payload}/: ignored`);
  }
  return true;
}

/**
 * Checks a unit file name against its payload dir: returns its stem and kind,
 * or null after recording an error (a kind of the other dir, a bad name) or a
 * warning (a kind core-ops does not deploy).
 */
export function unitName(
  problems: Problems,
  path: string,
  name: string,
  payload: UnitPayload,
): { stem: string; kind: UnitKind } | null {
  const dot = name.lastIndexOf(".");
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot + 1) : "";
  const own = payload === "quadlet" ? isQuadletKind(ext) : isNativeKind(ext);
  const other = payload === "quadlet" ? isNativeKind(ext) : isQuadletKind(ext);
  if (other) {
    problems.error(
      path,
      `a .${ext} file does not belong in ${payload}/`,
      `move it to ${payload === "quadlet" ? "systemd" : "quadlet"}/`,
    );
    return null;
  }
  if (!own) {
    problems.warn(path, `unknown file kind ".${ext}" in ${payload}/: skipped`);
    return null;
  }
  if (!IDENTIFIER.test(stem)) {
    problems.error(
      path,
      `invalid unit name "${stem}"`,
      "unit names match ^[A-Za-z0-9][A-Za-z0-9@._-]*$",
    );
    return null;
  }
  return { stem, kind: ext as UnitKind };
}

/**
 * The unit file a drop-in dir extends (`web.container` for `web.container.d/`),
 * or null after an error: any other directory in a payload dir is unknown.
 */
export function dropinParent(
  problems: Problems,
  entry: TreeEntry,
  payload: UnitPayload,
): string | null {
  const name = baseName(entry.path);
  if (isReserved(name) && !name.startsWith(".")) {
    problems.error(entry.path + "/", "names starting with '_' are reserved");
    return null;
  }
  if (!name.endsWith(".d")) {
    problems.error(
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
    problems.error(
      entry.path + "/",
      `drop-ins for a .${ext} unit do not belong in ${payload}/`,
      `move them to ${payload === "quadlet" ? "systemd" : "quadlet"}/`,
    );
    return null;
  }
  if (!own) {
    problems.error(
      entry.path + "/",
      `unknown directory in ${payload}/`,
      `drop-ins go in ${payload}/<unit>.d/<name>.conf`,
    );
    return null;
  }
  return unit;
}
