/**
 * `core-ops rollback [--to GENERATION|REVISION]` (SPEC §10): re-apply an
 * earlier applied generation from the state dir, with no network — a run
 * like any apply (lock, validate, plan, execute, verify, roll back, record),
 * whose source is a kept generation — then pause the agent with the reason
 * "rollback to <rev>", or the next tick would re-apply the tip.
 *
 * @module
 */
import { RunFailed } from "../errors.ts";
import { applyJson, applySummary, stepLine } from "../report/run_text.ts";
import { generationSource } from "../run/generation.ts";
import { applyRevision } from "../run/run.ts";
import { nextState } from "../state/next.ts";
import { StateStore } from "../state/store.ts";
import { checkWritable, options, settingsCommand, settingsFrom } from "./options.ts";
import { type HostAdapters, REAL_HOST } from "./adapters.ts";
import type { Output } from "./output.ts";
import { operator, pauseJson, pauseLine } from "./pause.ts";
import { readOptionsOf } from "./source.ts";

/** The host adapters `rollback` drives; tests pass fakes. */
export type RollbackAdapters = HostAdapters;

/** Builds the `rollback` command. */
export function rollbackCommand(out: Output, adapters: RollbackAdapters = REAL_HOST) {
  return settingsCommand("rollback")
    .description(
      "re-apply an earlier generation from the state dir (no network), then pause the agent",
    )
    .option("--to <generation>", "a kept generation number, or its commit (default: the previous)")
    .addOption(options.json())
    .action(async (flags) => {
      const settings = await settingsFrom(flags, "rollback");
      checkWritable(settings);
      const json = flags.json === true;
      const lock = await adapters.locker.acquire(settings.lockPath);
      try {
        const store = new StateStore(settings.stateDir, adapters.files);
        const { record, resolved } = await generationSource(store, flags.to ?? null);
        if (!json) {
          out.stdout(
            `rollback to generation ${record.generation} (${record.revision}, applied ${record.applied})\n`,
          );
        }
        const report = await applyRevision({
          source: { resolved },
          read: readOptionsOf(settings),
          retry: null,
          dirs: settings.dirs,
          store,
          files: adapters.files,
          systemd: adapters.systemd,
          generator: adapters.generator,
          adopt: false,
          verifyTimeoutMs: settings.verifyTimeoutSeconds * 1000,
          verifySettleMs: settings.verifySettleSeconds * 1000,
          keepGenerations: settings.keepGenerations,
          // A kept secret comes back as its age file: the host decrypts it again.
          secrets: { identity: settings.ageIdentity },
          pullTimeoutSeconds: settings.pullTimeoutSeconds,
          onStep: (phase, step) => {
            if (!json) out.stdout(stepLine(phase, step));
          },
        });
        // Only a rollback that converged holds the host there; a failed one was rolled
        // back to what was applied, which the agent may keep tracking.
        let paused = (await store.readState()).paused;
        if (report.exitCode === 0) {
          const before = await store.readState();
          const policy = {
            source: { repository: before.repository, ref: before.ref },
            retry: null,
          };
          const after = nextState(nextState(before, { kind: "resumed" }, policy), {
            kind: "paused",
            at: new Date().toISOString(),
            by: operator(),
            reason: `rollback to ${record.revision}`,
          }, policy);
          await store.writeState(after);
          paused = after.paused;
        }
        const target = {
          generation: record.generation,
          revision: record.revision,
          applied: record.applied,
        };
        if (json) {
          out.stdout(applyJson(report, { rolled_back_to: target, paused: pauseJson(paused) }));
        } else {
          out.stdout(applySummary(report));
          out.stdout(
            paused !== null && report.exitCode === 0
              ? `${pauseLine(paused)}: core-ops resume returns to tracking the ref\n`
              : "the rollback failed: the agent was not paused\n",
          );
        }
        if (report.exitCode !== 0) throw new RunFailed(report.exitCode);
      } finally {
        await lock.release();
      }
    });
}
