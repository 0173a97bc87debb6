/**
 * Where the e2e harness keeps its state, and the knobs that move it. Every
 * file the harness creates lives under {@link E2eConfig.cacheDir}; nothing is
 * read from outside the repository at run time except the host's own tools.
 *
 * Environment:
 * - `CORE_OPS_E2E_CACHE`: cache dir (default `${XDG_CACHE_HOME:-$HOME/.cache}/core-ops-e2e`)
 * - `CORE_OPS_E2E_SUITE`: Debian suite of the test host (default `trixie`; `--suite` wins)
 * - `CORE_OPS_E2E_MIRROR`: Debian mirror for debootstrap (default: the host's apt source)
 * - `CORE_OPS_E2E_REBUILD=1`: ignore the cached rootfs and bootstrap a new one
 * - `E2E_SUMMARY`: file to receive `{"passed":N,"failed":M}`
 *
 * @module
 */

import { pickSuite, type SuiteSpec } from "./suites.ts";

/** Resolved harness locations. */
export interface E2eConfig {
  /** The Debian suite the guests of this run boot. */
  suite: SuiteSpec;
  /** Rootfs tarballs and pristine trees (one per suite and package set), .deb caches, logs. */
  cacheDir: string;
  /** One dir per harness run, named by its pid; stale ones are reaped at start. */
  runsDir: string;
  /**
   * This run's dir: its guests' run dirs (overlay layers, podman storage) and
   * its own build of the package, so that concurrent runs never share state.
   */
  runRoot: string;
  /** Console logs and debootstrap output kept after a run for post-mortems. */
  logDir: string;
  /** Absolute path of the repository checkout under test. */
  repoDir: string;
  /** Where this run builds the offline install tree that guests mount. */
  packageDir: string;
  mirror: string;
  rebuild: boolean;
  summaryFile: string | undefined;
}

/** Reads the configuration from the environment; `suite` is the `--suite` flag, if given. */
export async function loadConfig(suite?: string): Promise<E2eConfig> {
  const home = Deno.env.get("HOME") ?? "/root";
  const xdg = Deno.env.get("XDG_CACHE_HOME") || `${home}/.cache`;
  const cacheDir = Deno.env.get("CORE_OPS_E2E_CACHE") || `${xdg}/core-ops-e2e`;
  const repoDir = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
  const spec = pickSuite(suite);
  return {
    suite: spec,
    cacheDir,
    runsDir: `${cacheDir}/run`,
    runRoot: `${cacheDir}/run/${Deno.pid}`,
    // Per suite: guests of concurrent runs on two suites have the same names.
    logDir: `${cacheDir}/logs/${spec.name}`,
    repoDir,
    packageDir: `${cacheDir}/run/${Deno.pid}/package`,
    mirror: Deno.env.get("CORE_OPS_E2E_MIRROR") || await hostMirror(),
    rebuild: Deno.env.get("CORE_OPS_E2E_REBUILD") === "1",
    summaryFile: Deno.env.get("E2E_SUMMARY") || undefined,
  };
}

/**
 * The host's own Debian mirror: CI machines are only allowed to reach the
 * mirror apt is already configured for, so debootstrap must use the same one.
 */
async function hostMirror(): Promise<string> {
  const fallback = "http://deb.debian.org/debian";
  try {
    const sources = await Deno.readTextFile("/etc/apt/sources.list.d/debian.sources");
    const match = sources.match(/^URIs:\s*(\S+)/m);
    if (match) return match[1];
  } catch {
    // Older hosts keep the one-line format instead.
  }
  try {
    const list = await Deno.readTextFile("/etc/apt/sources.list");
    const match = list.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+main/m);
    if (match) return match[1];
  } catch {
    // No apt sources at all: the default mirror is the only guess left.
  }
  return fallback;
}
