/**
 * Step 5 of a run, execute: first keep everything rollback may need (the new
 * content of each artifact and the current content of each path the plan
 * writes or removes, in the state dir's object store), then run the plan's
 * actions in order (src/apply/execute.ts), pausing at the fault matrix's
 * points. The steps that ran are collected as they happen, so a run that
 * throws half-way still knows what to roll back.
 *
 * @module
 */
import { execute as runActions, type StepResult } from "../apply/execute.ts";
import type { Restore } from "../apply/rollback.ts";
import type { FileContent, Files } from "../host/files.ts";
import type { Systemd } from "../host/systemd.ts";
import {
  type Artifact,
  artifactOwner,
  type DesiredState,
  reloadTarget,
  type UnitKind,
  unitScope,
} from "../model.ts";
import type { Plan } from "../plan/planner.ts";
import type { OwnershipManifest } from "../state/manifest.ts";
import type { StateStore } from "../state/store.ts";
import type { PausePoint } from "../host/faults.ts";
import type { Decryption } from "./decrypt.ts";

/** What executing needs. */
export interface ExecuteContext {
  files: Files;
  systemd: Systemd;
  store: StateStore;
  /** Longest one image pull may take (`pull-timeout`). */
  pullTimeoutSeconds?: number;
  onStep?: (step: StepResult) => void;
  pause: (point: PausePoint) => Promise<void>;
}

/**
 * Stores, before anything changes, every content rollback may need, and says
 * how to restore each path this run writes or removes.
 */
export async function keepForRollback(
  planned: Plan,
  manifest: OwnershipManifest | null,
  desired: DesiredState,
  ctx: { files: Files; store: StateStore; open: Decryption["open"] },
): Promise<Map<string, Restore>> {
  // A secret is kept as its age file, never as plaintext (SPEC §6).
  for (const a of desired.artifacts) await ctx.store.putObject(storedContent(a));
  const owned = new Map((manifest?.files ?? []).map((f) => [f.path, f]));
  const artifactAt = new Map(desired.artifacts.map((a) => [a.destination, a]));
  const restores = new Map<string, Restore>();
  for (const action of planned.actions) {
    if (action.op !== "write" && action.op !== "remove") continue;
    const current = await ctx.files.read(action.target);
    const entry = owned.get(action.target);
    const artifact = artifactAt.get(action.target);
    const kind = artifact?.kind ?? entry?.kind;
    const login = artifact?.user?.login ?? (entry?.unit ? unitScope(entry.unit).login : null);
    const reload = kind !== undefined && kind !== "config" ? reloadTarget(login) : null;
    if (current === null) {
      restores.set(action.target, { path: action.target, content: null, reload });
      continue;
    }
    const secret = artifactAt.get(action.target)?.secret !== undefined || entry?.secret;
    if (secret) {
      // The plaintext on disk stays in memory for this run; the last applied one is its
      // age file, decrypted again (or, if this host cannot, what is on disk now).
      const applied = entry?.secret
        ? await ctx.open(await ctx.store.getObject(entry.secret.ciphertext))
        : null;
      restores.set(action.target, {
        path: action.target,
        content: { ...current, content: applied ?? current.content },
        reload: null,
      });
      continue;
    }
    await ctx.store.putObject(current.content);
    // An owned file goes back to what core-ops last applied; an adopted one to what was there.
    const content = entry ? await ctx.store.getObject(entry.sha256) : current.content;
    restores.set(action.target, {
      path: action.target,
      content: { ...current, content },
      reload,
    });
  }
  return restores;
}

/**
 * Runs the plan's actions; every step that ran lands in `ran` as it happens
 * (also when something throws half-way).
 */
export async function execute(
  planned: Plan,
  desired: DesiredState,
  kinds: ReadonlyMap<string, UnitKind>,
  ran: StepResult[],
  ctx: ExecuteContext,
): Promise<StepResult[]> {
  const contents = new Map<string, FileContent>(
    desired.artifacts.map((a) => {
      if (a.secret?.decrypted === false) {
        // Only a decrypted secret may be written: its age file is not what the host needs.
        throw new Error(`secret ${a.source} reached execute without being decrypted`);
      }
      const owner = artifactOwner(a);
      return [a.destination, { content: a.content, mode: a.mode, ...(owner ? { owner } : {}) }];
    }),
  );
  return await runActions(planned.actions, {
    files: ctx.files,
    systemd: ctx.systemd,
    contents,
    kinds,
    pullTimeoutSeconds: ctx.pullTimeoutSeconds,
    onStep: (step) => {
      ran.push(step);
      ctx.onStep?.(step);
    },
    afterBatch: async ([first]) => {
      if (first.op === "write") await ctx.pause("mid-write");
      if (first.op === "reload") await ctx.pause("after-reload");
      if (first.op === "start" || first.op === "restart") await ctx.pause("mid-start");
    },
  });
}

/** What the objects store keeps of an artifact: its content, or a secret's age file. */
export function storedContent(a: Artifact): Uint8Array {
  return a.secret?.decrypted ? a.secret.ciphertext : a.content;
}

/** The kind of every unit the plan names: desired units, and owned units being removed. */
export function unitKinds(
  planned: Plan,
  manifest: OwnershipManifest | null,
): Map<string, UnitKind> {
  const kinds = new Map<string, UnitKind>();
  for (const f of manifest?.files ?? []) {
    if (f.unit !== null && f.kind !== "dropin" && f.kind !== "config") kinds.set(f.unit, f.kind);
  }
  for (const u of planned.units) kinds.set(u.unit, u.kind);
  return kinds;
}
