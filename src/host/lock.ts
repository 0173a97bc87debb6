/**
 * The run lock (SPEC §4): one `core-ops agent` at a time per host.
 *
 * An exclusive `flock(2)` on the lock path, taken without waiting. flock locks
 * belong to the open file description, so the kernel drops one when its
 * holder exits for any reason, SIGKILL included: a crashed run can never
 * wedge the next one, and there is no stale-lock cleanup to get wrong. Deno's
 * `FsFile.tryLock` is that flock, so `flock(1)` in a script or a unit
 * interoperates with it.
 *
 * The holder writes its pid into the file so a refused run can say who holds
 * it. The file itself is never deleted: unlinking a flock'ed file lets a
 * third run lock a fresh inode while the second still holds the old one.
 *
 * @module
 */
import { dirname } from "../paths.ts";
import { CoreOpsError, Exit } from "../errors.ts";

/** A held run lock. */
export interface RunLock {
  readonly path: string;
  /** Releases the lock (idempotent). Exiting the process releases it too. */
  release(): Promise<void>;
}

/** Takes the run lock; the adapter the agent uses, faked in unit tests. */
export interface RunLocker {
  /**
   * Takes the lock at `path` without waiting. Throws exit 75 (transient)
   * when another process holds it.
   */
  acquire(path: string): Promise<RunLock>;
}

/** The real lock: flock(2) on the host. */
export const flockLocker: RunLocker = { acquire: acquireRunLock };

/** Takes an exclusive, non-blocking flock on `path`, creating it (and its dir, 0755). */
export async function acquireRunLock(path: string): Promise<RunLock> {
  // Synchronous up to the lock: the first async file op of a process waits for the runtime's
  // thread pool, and every timer tick takes this lock (bench/, issue 15).
  ensureDir(dirname(path));
  let file: Deno.FsFile;
  try {
    // No truncate on open: the file holds the current holder's pid.
    file = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o644 });
  } catch (error) {
    throw lockFileError(path, error);
  }
  let locked: boolean;
  try {
    locked = file.tryLockSync(true);
  } catch (error) {
    file.close();
    throw lockFileError(path, error);
  }
  if (!locked) {
    file.close();
    const holder = await recordedHolder(path);
    throw new CoreOpsError(Exit.tempFail, "transient", [{
      message: `another core-ops run holds the run lock${
        holder === null ? "" : ` (the lock file names pid ${holder})`
      }; this run changed nothing`,
      location: { file: path },
      hint: "the next timer tick runs again; see `systemctl status core-ops.service`",
    }]);
  }
  try {
    file.truncateSync(0);
    file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (error) {
    file.close();
    throw lockFileError(path, error);
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return Promise.resolve();
      released = true;
      try {
        // Clear the pid first, so a later holder that does not write one
        // (flock(1)) is not reported as this process.
        file.truncateSync(0);
        file.unlockSync();
      } finally {
        file.close();
      }
      return Promise.resolve();
    },
  };
}

function ensureDir(dir: string): void {
  try {
    Deno.statSync(dir);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw lockFileError(dir, error);
  }
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    // mkdir's mode is filtered by the umask; the lock dir is 0755 whatever it is.
    Deno.chmodSync(dir, 0o755);
  } catch (error) {
    throw lockFileError(dir, error);
  }
}

/**
 * The pid recorded in the lock file. Every core-ops holder writes its pid and
 * clears it on release, so it is stale only when a run killed with SIGKILL is
 * followed by a holder that writes none (flock(1)). Liveness cannot be
 * checked: Deno grants `/proc/<pid>` only with --allow-all.
 */
async function recordedHolder(path: string): Promise<number | null> {
  try {
    const match = /^([0-9]+)\n?$/.exec(await Deno.readTextFile(path));
    return match === null ? null : Number(match[1]);
  } catch {
    // Naming the holder is a courtesy; the refusal stands without it.
    return null;
  }
}

function lockFileError(path: string, error: unknown): unknown {
  if (error instanceof Deno.errors.NotCapable) return error;
  if (error instanceof Deno.errors.PermissionDenied) {
    return new CoreOpsError(Exit.noPerm, "permission", [{
      message: "permission denied opening the run lock",
      location: { file: path },
      hint: "run as root, or set lock-path (CORE_OPS_LOCK_PATH, --lock-path) to a writable path",
    }]);
  }
  if (error instanceof Error) {
    return new CoreOpsError(Exit.software, "internal", [{
      message: `cannot take the run lock: ${error.message}`,
      location: { file: path },
    }]);
  }
  return error;
}
