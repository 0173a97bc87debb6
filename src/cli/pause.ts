/**
 * `core-ops pause [--reason TEXT]` and `core-ops resume` (SPEC §10): hold the
 * host still in an incident, and let the agent track the ref again. Both
 * write `state.json` under the run lock (one writer of the state dir at a
 * time), through the same pure `nextState` as every run.
 *
 * @module
 */
import { usage } from "../errors.ts";
import { type Files, realFiles } from "../host/files.ts";
import { flockLocker, type RunLocker } from "../host/lock.ts";
import { nextState, type StateEvent } from "../state/next.ts";
import { type PauseRecord, type RunState, StateStore } from "../state/store.ts";
import { options, settingsCommand, settingsFrom } from "./options.ts";
import type { Output } from "./output.ts";

/** The host adapters pause and resume drive; tests pass fakes. */
export interface PauseAdapters {
  locker: RunLocker;
  files: Files;
}

const REAL: PauseAdapters = { locker: flockLocker, files: realFiles };

/** Longest reason kept: it lands in status, explain, events and metrics-free text. */
const MAX_REASON = 500;

/** Who is at the keyboard: the login behind sudo, the login, or the uid. */
export function operator(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
  uid: () => number | null = () => Deno.uid(),
): string {
  for (const name of ["SUDO_USER", "LOGNAME", "USER"]) {
    const value = env(name)?.trim();
    if (value) return value;
  }
  const id = uid();
  return id === null ? "unknown" : `uid ${id}`;
}

/** A reason as one line of text, or a usage error. Pure. */
export function checkReason(reason: string | undefined): string | null {
  if (reason === undefined) return null;
  const text = reason.trim();
  if (text === "") throw usage("--reason is empty", "say why, e.g. --reason 'incident 42'");
  if (text.length > MAX_REASON) throw usage(`--reason is longer than ${MAX_REASON} characters`);
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(text)) {
    throw usage("--reason holds a control character", "give it as one line of plain text");
  }
  return text;
}

/** The pause as `status --json` and `pause --json` show it. */
export function pauseJson(p: PauseRecord | null) {
  return p === null ? null : { reason: p.reason, since: p.since, by: p.by, revision: p.revision };
}

/** One line saying the host is paused (status, apply, explain last). */
export function pauseLine(p: PauseRecord): string {
  return `paused since ${p.since} by ${p.by}${p.reason === null ? "" : ` (${p.reason})`}` +
    ` at ${p.revision ?? "no applied revision"}`;
}

/**
 * Applies a pause or resume event to the state dir under the run lock.
 * Resolves to the state before and after (equal when nothing changed).
 */
export async function changePause(
  stateDir: string,
  lockPath: string,
  event: Extract<StateEvent, { kind: "paused" | "resumed" }>,
  adapters: PauseAdapters,
): Promise<{ before: RunState; after: RunState }> {
  const lock = await adapters.locker.acquire(lockPath);
  try {
    const store = new StateStore(stateDir, adapters.files);
    const before = await store.readState();
    const after = nextState(before, event, {
      source: { repository: before.repository, ref: before.ref },
      retry: null,
    });
    if ((before.paused === null) !== (after.paused === null)) await store.writeState(after);
    return { before, after };
  } finally {
    await lock.release();
  }
}

/** Builds the `pause` command. */
export function pauseCommand(out: Output, adapters: PauseAdapters = REAL) {
  return settingsCommand("pause")
    .description("stop unattended applies: the agent holds the host still until resume")
    .option("--reason <text>", "why (shown by status, explain last and the agent's events)")
    .addOption(options.json())
    .action(async (flags) => {
      const reason = checkReason(flags.reason);
      const settings = await settingsFrom(flags, "pause");
      const { before, after } = await changePause(settings.stateDir, settings.lockPath, {
        kind: "paused",
        at: new Date().toISOString(),
        by: operator(),
        reason,
      }, adapters);
      const already = before.paused !== null;
      const message = already
        ? `already paused: ${pauseLine(after.paused!)}; nothing changed`
        : `paused: the agent applies nothing until core-ops resume (${pauseLine(after.paused!)})`;
      out.stdout(
        flags.json
          ? JSON.stringify({ changed: !already, paused: pauseJson(after.paused), message }) + "\n"
          : `${message}\n`,
      );
    });
}

/** Builds the `resume` command. */
export function resumeCommand(out: Output, adapters: PauseAdapters = REAL) {
  return settingsCommand("resume")
    .description("return to tracking the ref: the next agent run applies its tip")
    .addOption(options.json())
    .action(async (flags) => {
      const settings = await settingsFrom(flags, "resume");
      const { before } = await changePause(
        settings.stateDir,
        settings.lockPath,
        { kind: "resumed" },
        adapters,
      );
      const was = before.paused;
      const ref = before.ref ?? "the tracked ref";
      const message = was === null
        ? "not paused: the agent is already tracking " + ref + "; nothing changed"
        : `resumed (was ${pauseLine(was)}): the next agent run applies the tip of ${ref}`;
      out.stdout(
        flags.json
          ? JSON.stringify({ changed: was !== null, paused: null, was: pauseJson(was), message }) +
            "\n"
          : `${message}\n`,
      );
    });
}
