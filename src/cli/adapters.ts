/**
 * The host adapters the commands drive, as one set: each command takes the
 * part it needs, and tests pass fakes for it.
 *
 * @module
 */
import { type Files, realFiles } from "../host/files.ts";
import { flockLocker, type RunLocker } from "../host/lock.ts";
import { realSystemd, type Systemd } from "../host/systemd.ts";
import type { QuadletGenerator } from "../plan/dryrun.ts";
import { podmanGenerator } from "../run/generator.ts";

/** What a command that runs the loop on this host drives (apply, rollback). */
export interface HostAdapters {
  locker: RunLocker;
  files: Files;
  systemd: Systemd;
  generator: QuadletGenerator;
}

/** This host's real adapters. */
export const REAL_HOST: HostAdapters = {
  locker: flockLocker,
  files: realFiles,
  systemd: realSystemd,
  generator: podmanGenerator,
};
