/**
 * Helpers for the layout loader's unit tests: a base repository changed per
 * case, loaded in memory, and the one way a refusal is asserted (exit 65, a
 * diagnostic at a given file or file:line:column whose message matches).
 *
 * @module
 */
import assert from "node:assert/strict";
import { CoreOpsError, formatLocation } from "../../src/errors.ts";
import type { TargetDirs } from "../../src/model.ts";
import type { ConfigRootPolicy } from "../../src/source/config_roots.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import type { RepoTree } from "../../src/tree.ts";
import { baseRepo, type Files, memoryTree } from "./repo.ts";

/** Target dirs of every case: short, so destinations in messages stay readable. */
export const DIRS: TargetDirs = { quadletDir: "/q", systemdUnitDir: "/s", configDir: "/etc" };

/** The host and config-root policy of a case; the host defaults to `h1`. */
export interface Options {
  host?: string | null;
  configRoots?: ConfigRootPolicy;
}

/** Loads `tree` for the case's host with {@link DIRS}. */
export function load(tree: RepoTree, options: Options = {}) {
  return loadDesiredState(tree, {
    host: options.host === undefined ? "h1" : options.host,
    dirs: DIRS,
    configRoots: options.configRoots,
  });
}

/** The base repository without hosts/ (every service deployed), with `change` applied. */
export function single(change: Record<string, string | null>): Files {
  return repo({ ...change, "hosts/h1/host.yaml": null, "hosts/h2/host.yaml": null });
}

/** The base repository with `change` applied (`null` deletes). */
export function repo(change: Record<string, string | null>): Files {
  const files = baseRepo();
  for (const [path, content] of Object.entries(change)) {
    if (content === null) delete files[path];
    else files[path] = content;
  }
  return files;
}

/**
 * Asserts that loading `tree` is refused with exit 65 and that one diagnostic
 * is at `where` (`file` or `file:line:column`) with a message matching `message`.
 */
export function assertRefused(
  tree: RepoTree,
  where: string,
  message: RegExp,
  options: Options = {},
): CoreOpsError {
  let error: unknown;
  try {
    load(tree, options);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof CoreOpsError, `expected a CoreOpsError, got ${error}`);
  assert.equal(error.exitCode, 65);
  const shown = error.diagnostics.map((d) =>
    `${d.location ? formatLocation(d.location) : ""}: ${d.message}`
  );
  assert.ok(
    error.diagnostics.some((d) =>
      d.location !== undefined && formatLocation(d.location) === where && message.test(d.message)
    ),
    `expected ${where}: ${message}; got:\n${shown.join("\n")}`,
  );
  return error;
}

/** `files` as a tree, plus files given as raw bytes (not UTF-8, NUL). */
export function bytesTree(files: Files, raw: Record<string, Uint8Array>): RepoTree {
  const tree = memoryTree(files);
  const known = new Set(tree.entries.map((e) => e.path));
  for (const [path, content] of Object.entries(raw)) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!known.has(dir)) tree.entries.push({ type: "dir", path: dir });
      known.add(dir);
    }
    tree.entries.push({ type: "file", path, size: content.length, content, worldReadable: true });
  }
  return tree;
}
