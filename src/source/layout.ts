/**
 * The layout loader (layout version 1, SPEC §1): a pure function from a
 * {@link RepoTree} and a host id to the host's {@link DesiredState}. Every rule
 * the layout breaks is collected, so one run shows the operator all of them;
 * each step throws once (exit 65) when what follows would read what it refused.
 *
 * The steps, each in its own module: hostile entries (hostile.ts), the top
 * level and names (entries.ts), services (service.ts), the host and its
 * overlay (host.ts), config roots (config_roots.ts), artifacts (artifacts.ts)
 * and destination claims (claims.ts); problems.ts collects what is wrong.
 *
 * @module
 */
import { invalid } from "../errors.ts";
import type { DesiredState, TargetDirs } from "../model.ts";
import { buildArtifacts } from "./artifacts.ts";
import { checkClaims } from "./claims.ts";
import { checkConfigRoot, type ConfigRootPolicy } from "./config_roots.ts";
import { ids, Reading, topLevel } from "./entries.ts";
import { loadHost } from "./host.ts";
import { checkEntries } from "./hostile.ts";
import { loadService, type ServiceSource } from "./service.ts";
import { MAX_ENTRIES, MAX_FILES, MAX_TOTAL_SIZE, type RepoTree } from "../tree.ts";

/** What to load the desired state for. */
export interface LoadOptions {
  /** The resolved host id; only consulted when the repo has `hosts/`. */
  host: string | null;
  dirs: TargetDirs;
  /** The host's config-root policy; absent means the default deny-list. */
  configRoots?: ConfigRootPolicy;
}

/** Loads the desired state of `options.host` from `tree`; throws exit 65 with every problem found. */
export function loadDesiredState(tree: RepoTree, options: LoadOptions): DesiredState {
  const reading = new Reading(tree);
  const problems = reading.problems;
  if (tree.truncated) {
    problems.error(
      ".",
      tree.truncatedBy === "size"
        ? `services/ and hosts/ hold more than ${MAX_TOTAL_SIZE / 1024 / 1024} MiB of files`
        : `the repository has more than ${MAX_FILES} files (or ${MAX_ENTRIES} entries)`,
      "split it, or move drafts under a '_' directory",
    );
    throw invalid(problems.errors);
  }
  // Hostile entries first, all of them, before any path reaches another message.
  checkEntries(tree, problems);
  problems.throwIfAny();

  const top = topLevel(reading);
  if (!top.services) {
    problems.error(
      ".",
      "not a core-ops repository: no services/ directory",
      "see the layout reference in the README",
    );
    throw invalid(problems.errors);
  }

  const services = new Map<string, ServiceSource>();
  for (
    const id of ids(reading, "services", "service", "each service is a directory services/<svc>/")
  ) {
    services.set(id, loadService(reading, id));
  }

  // Without hosts/, a repository is one host's: every service is deployed (SPEC §1).
  const host = top.hosts ? options.host : null;
  const deployed = top.hosts ? loadHost(reading, options.host, services) : [...services.keys()];
  for (const id of deployed) checkConfigRoot(problems, services.get(id)!, options.configRoots);
  problems.throwIfAny();

  const chosen = deployed.map((id) => services.get(id)!);
  const artifacts = buildArtifacts(problems, chosen, options.dirs);
  checkClaims(problems, artifacts, options.dirs);
  problems.throwIfAny();
  return { host, services: deployed, artifacts, warnings: problems.warnings };
}
