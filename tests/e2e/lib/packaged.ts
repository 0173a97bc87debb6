/**
 * Running the packaged Deno runtime in the guest directly on the package's
 * source (app/main.ts and src/, with its config, lock and npm cache) rather
 * than the bundle the launcher runs: small probe scripts that import one
 * adapter, under a permission set of the test's choosing (the release flags).
 *
 * @module
 */
import { type PermissionSet, toFlags } from "../../../tools/permissions.ts";
import { GUEST_PACKAGE_DIR } from "./guest.ts";

/** The environment the launcher sets up for the packaged runtime. */
export const PACKAGE_ENV: Readonly<Record<string, string>> = {
  DENO_DIR: `${GUEST_PACKAGE_DIR}/deno-dir`,
  DENO_NO_PACKAGE_JSON: "1",
  DENO_NO_UPDATE_CHECK: "1",
};

/** argv running `entry` with the package's runtime, config and cache under `set`. */
export function packagedDenoArgv(
  set: PermissionSet,
  entry: string,
  args: readonly string[] = [],
): string[] {
  return [
    `${GUEST_PACKAGE_DIR}/bin/deno`,
    "run",
    "--quiet",
    "--cached-only",
    "--no-remote",
    `--config=${GUEST_PACKAGE_DIR}/app/deno.json`,
    `--lock=${GUEST_PACKAGE_DIR}/app/deno.lock`,
    "--frozen",
    ...toFlags(set),
    entry,
    ...args,
  ];
}
