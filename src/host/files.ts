/**
 * The file adapter: what is at destination paths (as sha256 digests), and the
 * two changes core-ops makes to files — an atomic write and a removal.
 *
 * @module
 */
import { basename, dirname, join } from "../paths.ts";
import { CoreOpsError, Exit } from "../errors.ts";

/** What core-ops does to files on the host; a recording fake stands in for it in unit tests. */
export interface Files {
  /** sha256 of each path, `null` where nothing is. */
  digests(paths: readonly string[]): Promise<Map<string, string | null>>;
  /** The bytes and permission bits at `path`, `null` where nothing is. */
  read(path: string): Promise<FileContent | null>;
  /**
   * Replaces `path` atomically with `content` and `mode` (and `owner`, when
   * given): a temp file in the same dir, fsync, rename, fsync of the dir.
   * Missing parent dirs are created 0755, root's.
   */
  write(path: string, content: Uint8Array, mode: number, owner?: FileOwner): Promise<void>;
  /** Removes `path` (absent is fine); an emptied `<unit>.d/` drop-in dir goes with it. */
  remove(path: string): Promise<void>;
  /** Every regular file below `dir`, recursively, as absolute paths; `[]` when `dir` is absent. */
  list(dir: string): Promise<string[]>;
  /**
   * What each path is without reading it (lstat): a stamp that changes with
   * every write, rename over, chmod or chown of the file, `null` where nothing is.
   */
  stamps(paths: readonly string[]): Promise<Map<string, FileStamp | null>>;
}

/**
 * A file's identity and change time, as lstat(2) gives them. `id` changes with
 * any change of the file (its inode, size, mode, owner, mtime and ctime are in
 * it); `changedMs` is when it last changed (the later of mtime and ctime),
 * which tells whether a stamp is too young to stand for the content
 * (run/converged.ts).
 */
export interface FileStamp {
  id: string;
  changedMs: number;
}

/** A file's bytes and permission bits, and its owner when that is not root. */
export interface FileContent {
  content: Uint8Array;
  mode: number;
  /** Absent for root's files: what core-ops writes is root's unless a user service's (SPEC §7). */
  owner?: FileOwner;
}

/** Numeric owner and group of a file. */
export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * The sha256 of each file in `paths`, or `null` where nothing is (a missing
 * target dir is simply empty). A path that exists but cannot be read is an
 * error: planning around a file we cannot see would be a guess.
 */
export async function observeFiles(
  paths: readonly string[],
): Promise<Map<string, string | null>> {
  const { sha256 } = await import("../digest.ts");
  // Synchronous reads: a run has nothing else to do meanwhile, and thousands of
  // async reads pay a thread-pool round trip each and hold every buffer at once.
  const out = new Map<string, string | null>();
  for (const path of paths) {
    let bytes: Uint8Array | null;
    try {
      bytes = Deno.readFileSync(path);
    } catch (error) {
      bytes = absentOrThrow(error, path);
    }
    out.set(path, bytes === null ? null : sha256(bytes));
  }
  return out;
}

function readSync(path: string): FileContent | null {
  let content: Uint8Array;
  try {
    content = Deno.readFileSync(path);
  } catch (error) {
    return absentOrThrow(error, path);
  }
  const info = Deno.statSync(path);
  const mode = (info.mode ?? 0o644) & 0o7777;
  const [uid, gid] = [info.uid ?? 0, info.gid ?? 0];
  return uid === 0 && gid === 0 ? { content, mode } : { content, mode, owner: { uid, gid } };
}

/** `null` for a path where nothing is; any other failure to read `path` as its error. */
function absentOrThrow(error: unknown, path: string): null {
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
    return null;
  }
  if (error instanceof Deno.errors.IsADirectory) {
    throw new CoreOpsError(Exit.dataErr, "plan", [{
      message: "a directory stands where core-ops deploys a file",
      location: { file: path },
      hint: "move it away",
    }]);
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    throw new CoreOpsError(Exit.noInput, "plan", [{
      message: "permission denied reading a target file",
      location: { file: path },
      hint: "run as root, or plan into other --quadlet-dir/--systemd-unit-dir/--config-dir",
    }]);
  }
  throw error;
}

/** See {@link Files.write}. */
function writeSync(path: string, content: Uint8Array, mode: number, owner?: FileOwner): void {
  const dir = dirname(path);
  ensureDir(dir);
  // A dot name with a .tmp suffix: neither the quadlet generator nor systemd reads it.
  const temp = join(dir, `.${basename(path)}.core-ops-${crypto.randomUUID().slice(0, 8)}.tmp`);
  const file = Deno.openSync(temp, { write: true, createNew: true, mode });
  try {
    try {
      let written = 0;
      while (written < content.length) written += file.writeSync(content.subarray(written));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.chmodSync(temp, mode); // the umask must not change the mode
    // Handed over before it is in place: the user's file is never root's at its path.
    if (owner !== undefined) Deno.chownSync(temp, owner.uid, owner.gid);
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // best effort: the write itself already failed, and that error is the one to report
    }
    throw error;
  }
  fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  const handle = Deno.openSync(dir, { read: true });
  try {
    handle.syncSync();
  } finally {
    handle.close();
  }
}

/** Creates `dir` and its missing parents with mode 0755 (not subject to the umask's whims). */
function ensureDir(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    try {
      Deno.statSync(d);
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      missing.unshift(d);
    }
  }
  for (const d of missing) {
    try {
      Deno.mkdirSync(d);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    Deno.chmodSync(d, 0o755);
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return false;
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Every regular file below `dir`, recursively, sorted; `[]` when `dir` is absent. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    try {
      for (const entry of Deno.readDirSync(d)) {
        const path = join(d, entry.name);
        if (entry.isDirectory) walk(path);
        else if (entry.isFile) out.push(path);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  walk(dir);
  return out.sort();
}

/** lstat stamps of `paths` (see {@link FileStamp}); `null` where nothing is. */
export function stampFiles(paths: readonly string[]): Promise<Map<string, FileStamp | null>> {
  // Synchronous, like the digests: one lstat per owned file on every no-change tick.
  const out = new Map<string, FileStamp | null>();
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        out.set(path, null);
        continue;
      }
      throw error;
    }
    const mtime = info.mtime?.getTime() ?? 0;
    const ctime = info.ctime?.getTime() ?? 0;
    const kind = info.isFile ? "f" : info.isSymlink ? "l" : "o";
    out.set(path, {
      id: [kind, info.dev, info.ino, info.mode, info.uid, info.gid, info.size, mtime, ctime]
        .join(":"),
      changedMs: Math.max(mtime, ctime),
    });
  }
  return Promise.resolve(out);
}

/**
 * `base` with some of its calls answered otherwise (e.g. a prefetched
 * answer); every other call goes to `base`.
 */
export function overriding(base: Files, overrides: Partial<Files>): Files {
  return {
    digests: (paths) => base.digests(paths),
    read: (path) => base.read(path),
    write: (path, content, mode, owner) => base.write(path, content, mode, owner),
    remove: (path) => base.remove(path),
    list: (dir) => base.list(dir),
    stamps: (paths) => base.stamps(paths),
    ...overrides,
  };
}

/** The real file system. */
export const realFiles: Files = {
  digests: observeFiles,
  stamps: stampFiles,

  read(path) {
    // Synchronous, like the digests: the state dir's files are read on every tick, and the
    // first async file op of a process waits for the runtime's thread pool (bench/, issue 15).
    return Promise.resolve().then(() => readSync(path));
  },

  write(path, content, mode, owner) {
    // Synchronous, like the reads: a run waits for each write anyway, and every timer tick
    // writes state.json, whose async ops each wait for the runtime's thread pool (bench/).
    return Promise.resolve().then(() => writeSync(path, content, mode, owner));
  },

  // Synchronous, like the digests: every tick lists the quadlet dir (hand-placed quadlets),
  // and an async walk pays a round trip per directory (~5 ms at 500 artifacts, bench/).
  list: (dir) => Promise.resolve().then(() => listFiles(dir)),

  async remove(path) {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return; // already gone: nothing to sync
      throw error;
    }
    let dir = dirname(path);
    if (dir.endsWith(".d") && (await isEmptyDir(dir))) {
      await Deno.remove(dir);
      dir = dirname(dir);
    }
    fsyncDir(dir);
  },
};
