/**
 * The state dir (SPEC §4): `state.json` (what the last runs did), the
 * ownership manifest, and `objects/<sha256>`, a content-addressed copy of
 * every file content core-ops has applied — what rollback restores from, so
 * it never needs the network.
 *
 * Every write is atomic (through the file adapter). Unknown or corrupt state
 * is an explicit error naming the file with a recovery hint, never a silent
 * reset.
 *
 * @module
 */
import { join } from "../paths.ts";
import * as z from "../zod.ts";
import { CoreOpsError, Exit } from "../errors.ts";
import { parseChecked } from "./checked_json.ts";
import { pausePoint } from "../host/faults.ts";
import type { Files } from "../host/files.ts";
import { newSecretKey, SECRET_KEY_BYTES, SECRET_KEY_FILE } from "./secret_key.ts";
import { type ConvergedFile, readConverged, writeConverged } from "./converged.ts";
import {
  LAST_CHANGE_FILE,
  type LastChange,
  lastChangeSchema,
  parseLastChange,
} from "./last_change.ts";
import {
  MANIFEST_FILE,
  type ManifestEntry,
  manifestEntry,
  type OwnershipManifest,
  parseManifest,
} from "./manifest.ts";

/** The state file's name inside the state dir. */
export const STATE_FILE = "state.json";
export { LAST_CHANGE_FILE };
/** The content store's dir inside the state dir. */
export const OBJECTS_DIR = "objects";

const timestamp = z.nullable(z.iso.datetime());

const failedUnit = z.strictObject({
  unit: z.string(),
  /** What core-ops saw: e.g. `ActiveState=failed Result=exit-code`. */
  reason: z.string(),
  /** systemd's `Result=` and `ExecMainStatus=`. */
  result: z.nullable(z.string()),
  exit_status: z.nullable(z.string()),
  /** The unit's last journal lines. */
  journal: z.array(z.string()),
});

const failure = z.strictObject({
  class: z.enum(["validation", "plan", "apply", "verify", "transient"]),
  reason: z.string(),
  units: z.array(failedUnit),
  /** Whether the files of the failed run were rolled back, and how that went. */
  rollback: z.enum(["not-needed", "ok", "failed"]),
  rollback_error: z.nullable(z.string()),
});

const lastRun = z.strictObject({
  id: z.string(),
  /** `paused`: an agent tick that found the host paused and applied nothing. */
  outcome: z.enum(["success", "noop", "failure", "paused"]),
  revision: z.nullable(z.string()),
  started: z.iso.datetime(),
  finished: z.iso.datetime(),
  duration_ms: z.number().check(z.nonnegative()),
  /** `op=count` pairs of what executed, e.g. `write=2 restart=1`. */
  plan_summary: z.string(),
  actions: z.record(z.string(), z.int().check(z.nonnegative())),
  drift: z.int().check(z.nonnegative()),
});

const stateSchema = z.strictObject({
  schema_version: z.literal(1),
  /** Incremented by every run that changed the applied set. */
  generation: z.int().check(z.nonnegative()),
  status: z.enum(["never_run", "in_progress", "success", "failed"]),
  /** Where the last run took its source from (credentials redacted), and the ref. */
  repository: z.nullable(z.string()),
  ref: z.nullable(z.string()),
  last_attempted_revision: z.nullable(z.string()),
  last_applied_revision: z.nullable(z.string()),
  last_success: timestamp,
  last_failure: timestamp,
  consecutive_failures: z.int().check(z.nonnegative()),
  last_run: z.nullable(lastRun),
  failure: z.nullable(failure),
  /**
   * Where state.json kept the last change before it had a file of its own
   * (`last-change.json`): read once, moved there by the next write.
   */
  last_change: z.optional(z.nullable(lastChangeSchema)),
  /** Backoff of the revision that failed last (SPEC §4); `null` once a run succeeds. */
  retry: z._default(
    z.nullable(z.strictObject({
      revision: z.string(),
      failures: z.int().check(z.positive()),
      next_attempt: z.iso.datetime(),
    })),
    null,
  ),
  /** Set by `core-ops pause` (SPEC §10): the agent applies nothing until `resume`. */
  paused: z._default(
    z.nullable(z.strictObject({
      reason: z.nullable(z.string()),
      since: z.iso.datetime(),
      /** The login (SUDO_USER, LOGNAME, USER) or `uid <n>` of who paused. */
      by: z.string(),
      /** The revision applied when the host was paused. */
      revision: z.nullable(z.string()),
    })),
    null,
  ),
  /**
   * Set while a run changes the host: the manifest it is converging to, so a
   * run killed mid-way leaves behind which files on disk are core-ops' own.
   */
  in_progress: z.nullable(z.strictObject({
    run_id: z.string(),
    revision: z.string(),
    started: z.iso.datetime(),
    pending: z.array(manifestEntry),
  })),
});

/** The content of `state.json`. */
export type RunState = Omit<z.infer<typeof stateSchema>, "last_change">;
export type { LastChange };
/** A failed run's failure record. */
export type FailureRecord = z.infer<typeof failure>;
/** One failing unit of a failure record. */
export type FailedUnit = z.infer<typeof failedUnit>;
/** The last run's record. */
export type LastRun = z.infer<typeof lastRun>;
/** Why and since when the agent holds still. */
export type PauseRecord = NonNullable<RunState["paused"]>;

/** The state of a host core-ops has never run on. */
export function initialState(): RunState {
  return {
    schema_version: 1,
    generation: 0,
    status: "never_run",
    repository: null,
    ref: null,
    last_attempted_revision: null,
    last_applied_revision: null,
    last_success: null,
    last_failure: null,
    consecutive_failures: 0,
    last_run: null,
    failure: null,
    retry: null,
    paused: null,
    in_progress: null,
  };
}

/**
 * Parses state.json text into the state and the last change an older version
 * kept in it; `file` names it in errors. Pure.
 */
export function parseState(
  text: string,
  file: string,
): { state: RunState; legacy: LastChange | null | undefined } {
  const parsed = parseChecked(text, stateSchema, (detail) => corrupt(file, detail));
  const { last_change: legacy, ...state } = parsed;
  return { state, legacy };
}

function corrupt(file: string, detail: string): CoreOpsError {
  return new CoreOpsError(Exit.dataErr, "validation", [{
    message: `state file is corrupt or of an unknown version: ${detail}`,
    location: { file },
    hint:
      "restore it from a backup; or move it aside: the next run starts a new history and keeps the ownership manifest",
  }], { blame: "host" });
}

/**
 * The ownership to plan with: the stored manifest, plus what a run killed
 * mid-way had written — a path whose content on disk is exactly what that run
 * was writing (`pending`) is core-ops' own, though the manifest never heard of
 * it. Without this, the next run would call its own files conflicts. Pure.
 */
export function recoverManifest(
  stored: OwnershipManifest | null,
  pending: readonly ManifestEntry[] | null,
  disk: ReadonlyMap<string, string | null>,
): OwnershipManifest | null {
  if (pending === null) return stored;
  const files = new Map((stored?.files ?? []).map((f) => [f.path, f]));
  for (const entry of pending) {
    if (disk.get(entry.path) === entry.sha256) files.set(entry.path, entry);
  }
  return { schema_version: 1, files: [...files.values()] };
}

/**
 * What a run killed mid-way had already changed on disk: paths it wrote (the
 * content on disk is what it was writing, and not what the manifest says)
 * and owned paths it removed (no longer in its pending set, gone from disk).
 * The next run plans as if it had written or removed them itself, so the
 * restarts and the reload the killed run never got to still happen. Pure.
 */
export function interruptedChanges(
  stored: OwnershipManifest | null,
  pending: readonly ManifestEntry[] | null,
  disk: ReadonlyMap<string, string | null>,
): { written: string[]; removed: string[] } {
  if (pending === null) return { written: [], removed: [] };
  const before = new Map((stored?.files ?? []).map((f) => [f.path, f.sha256]));
  const pendingPaths = new Set(pending.map((e) => e.path));
  return {
    written: pending
      .filter((e) => disk.get(e.path) === e.sha256 && before.get(e.path) !== e.sha256)
      .map((e) => e.path),
    removed: [...before.keys()].filter((path) =>
      !pendingPaths.has(path) && (disk.get(path) ?? null) === null
    ),
  };
}

/**
 * The state dir, read and written through the file adapter. A store belongs
 * to one run: it parses each file once, which holds because nothing else
 * writes the state dir while the run holds the lock.
 */
export class StateStore {
  // What this store last read or wrote, so a run parses each file once (the agent and
  // the pipeline both read them). Every change goes through this store; copies are
  // handed out, so no caller can alter what the next one reads.
  #state: RunState | undefined;
  #manifest: OwnershipManifest | null | undefined;
  /** `state.json` as {@link mayBePaused} read it, until {@link readState} parses it. */
  #peeked: Uint8Array | undefined;
  #converged: ConvergedFile | null | undefined;
  /** A last change state.json still held (an older version's), until it has its own file. */
  #legacy: LastChange | null | undefined;

  constructor(readonly dir: string, readonly files: Files) {}

  /** Path of `state.json`. */
  get statePath(): string {
    return join(this.dir, STATE_FILE);
  }

  /** Path of the ownership manifest. */
  get manifestPath(): string {
    return join(this.dir, MANIFEST_FILE);
  }

  /** The recorded state; the initial state where none was ever written. */
  async readState(): Promise<RunState> {
    if (this.#state === undefined) {
      const bytes = this.#peeked ?? await this.#read(this.statePath, "state file");
      this.#peeked = undefined;
      if (bytes === null) {
        this.#state = initialState();
      } else {
        const { state, legacy } = parseState(new TextDecoder().decode(bytes), this.statePath);
        this.#state = state;
        if (legacy !== undefined) this.#legacy = legacy;
      }
    }
    return structuredClone(this.#state);
  }

  /**
   * Whether `state.json` may record a pause, from its `paused` field alone, before the file
   * is validated: the agent starts its fetch on `false` and validates while git works (a
   * paused host is never fetched for). `true` for a file that is not a JSON object, so that
   * the validated read refuses it before any fetch. The bytes are kept for {@link readState}.
   */
  async mayBePaused(): Promise<boolean> {
    if (this.#state !== undefined) return this.#state.paused !== null;
    const bytes = await this.#read(this.statePath, "state file");
    if (bytes === null) return false;
    this.#peeked = bytes;
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      if (error instanceof SyntaxError) return true;
      throw error;
    }
    return typeof raw !== "object" || raw === null ||
      ((raw as { paused?: unknown }).paused ?? null) !== null;
  }

  /** Replaces `state.json` atomically. */
  async writeState(state: RunState): Promise<void> {
    // An older state.json's last change moves to its own file before the state drops it.
    if (this.#legacy !== undefined) {
      if (
        this.#legacy !== null && (await this.#read(this.lastChangePath, "last change")) === null
      ) {
        await this.writeLastChange(this.#legacy);
      }
      this.#legacy = undefined;
    }
    this.#state = undefined; // a failed write leaves the file to be read again
    await this.files.write(this.statePath, json(state), 0o600);
    this.#state = structuredClone(state);
  }

  /** Path of `last-change.json`. */
  get lastChangePath(): string {
    return join(this.dir, LAST_CHANGE_FILE);
  }

  /** What the last run that executed anything did; `null` when none did. */
  async readLastChange(): Promise<LastChange | null> {
    const bytes = await this.#read(this.lastChangePath, "last change");
    if (bytes !== null) {
      return parseLastChange(new TextDecoder().decode(bytes), this.lastChangePath);
    }
    if (this.#legacy === undefined) await this.readState();
    return this.#legacy ?? null;
  }

  /** Replaces `last-change.json` atomically. */
  async writeLastChange(change: LastChange): Promise<void> {
    await this.files.write(this.lastChangePath, json(change), 0o600);
  }

  /** The ownership manifest; `null` where core-ops never wrote one. */
  async readManifest(): Promise<OwnershipManifest | null> {
    if (this.#manifest === undefined) {
      const bytes = await this.#read(this.manifestPath, "ownership manifest");
      this.#manifest = bytes === null
        ? null
        : parseManifest(new TextDecoder().decode(bytes), this.manifestPath);
    }
    return structuredClone(this.#manifest);
  }

  /** Replaces the manifest atomically. */
  async writeManifest(manifest: OwnershipManifest): Promise<void> {
    await pausePoint("manifest-write");
    this.#manifest = undefined;
    await this.files.write(this.manifestPath, json(manifest), 0o600);
    this.#manifest = structuredClone(manifest);
  }

  /** The record of the last run that found nothing to do (converged.ts), read once per run. */
  async readConverged(): Promise<ConvergedFile | null> {
    if (this.#converged === undefined) this.#converged = await readConverged(this.files, this.dir);
    return this.#converged;
  }

  /** Replaces the converged record. */
  async writeConverged(file: ConvergedFile): Promise<void> {
    this.#converged = undefined;
    await writeConverged(this.files, this.dir, file);
    this.#converged = file;
  }

  /** Keeps `content` in the content store (once per digest); returns its sha256. */
  async putObject(content: Uint8Array): Promise<string> {
    const { sha256 } = await import("../digest.ts");
    const digest = sha256(content);
    const path = this.#objectPath(digest);
    const existing = await this.files.digests([path]);
    if (existing.get(path) !== digest) await this.files.write(path, content, 0o600);
    return digest;
  }

  /** The content stored for `digest`; an explicit error when it is missing or damaged. */
  async getObject(digest: string): Promise<Uint8Array> {
    const path = this.#objectPath(digest);
    const { sha256 } = await import("../digest.ts");
    const bytes = (await this.files.read(path))?.content ?? null;
    if (bytes === null || sha256(bytes) !== digest) {
      throw new CoreOpsError(Exit.software, "internal", [{
        message: bytes === null
          ? `the content store has no object ${digest}`
          : `object ${digest} is damaged`,
        location: { file: path },
        hint: "rollback cannot restore this file; the next successful apply rewrites it",
      }]);
    }
    return bytes;
  }

  /**
   * The key of the keyed digests of secrets (keyed.ts): read from the state
   * dir; when there is none, a new one is written (0600) if `create`, else
   * `null` (a run that writes nothing compares with a key of its own).
   */
  async secretKey(create: boolean): Promise<Uint8Array | null> {
    const path = join(this.dir, SECRET_KEY_FILE);
    const stored = await this.#read(path, "secrets' digest key");
    if (stored !== null && stored.length === SECRET_KEY_BYTES) return stored;
    if (stored !== null) {
      throw new CoreOpsError(Exit.dataErr, "validation", [{
        message: `the secrets' digest key is damaged (${stored.length} bytes)`,
        location: { file: path },
        hint:
          "remove it: the next apply writes a new key and rewrites every secret once (shown as drift)",
      }], { blame: "host" });
    }
    if (!create) return null;
    const key = newSecretKey();
    await this.files.write(path, key, 0o600);
    return key;
  }

  /** Removes every stored object not in `keep`. */
  async pruneObjects(keep: ReadonlySet<string>): Promise<number> {
    const dir = join(this.dir, OBJECTS_DIR);
    // Objects are flat files named by their digest; anything deeper is not the store's.
    const stale = (await this.files.list(dir)).filter((path) =>
      path.lastIndexOf("/") === dir.length && !keep.has(path.slice(dir.length + 1))
    );
    for (const path of stale) await this.files.remove(path);
    return stale.length;
  }

  #objectPath(digest: string): string {
    return join(this.dir, OBJECTS_DIR, digest);
  }

  async #read(path: string, what: string): Promise<Uint8Array | null> {
    try {
      return (await this.files.read(path))?.content ?? null;
    } catch (error) {
      if (error instanceof CoreOpsError) {
        throw new CoreOpsError(Exit.noInput, "source", [{
          message: `cannot read the ${what}: ${error.message}`,
          location: { file: path },
          hint: "run as root, or pass --state-dir",
        }]);
      }
      throw error;
    }
  }
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");
}
