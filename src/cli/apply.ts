/**
 * `core-ops apply`: make this host match the source — the run pipeline, with
 * each step printed as it happens (or one JSON document with `--json`).
 *
 * @module
 */
import { RunFailed } from "../errors.ts";
import type { Settings } from "../settings.ts";
import { applyRevision } from "../run/run.ts";
import { applyJson, applySummary, stepLine } from "../report/run_text.ts";
import { StateStore } from "../state/store.ts";
import {
  checkWritable,
  type CommonFlags,
  diffText,
  options,
  settingsFrom,
  sourceCommand,
} from "./options.ts";
import { readOptionsOf, sourceOf } from "./source.ts";
import { type HostAdapters, REAL_HOST } from "./adapters.ts";
import type { Output } from "./output.ts";
import { pauseJson, pauseLine } from "./pause.ts";

/** The host adapters `apply` drives; tests pass fakes. */
export type ApplyAdapters = HostAdapters;

/** Builds the `apply` command. */
export function applyCommand(out: Output, adapters: ApplyAdapters = REAL_HOST) {
  return sourceCommand("apply")
    .description("make this host match the source: write, reload, restart, verify, roll back")
    .addOption(options.json())
    .addOption(options.diff())
    .option("--adopt", "take ownership of unowned files at destinations")
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      const settings = await settingsFrom(common, "apply");
      checkWritable(settings);
      const json = flags.json === true;
      // One run at a time per host: apply and the agent share the run lock.
      const lock = await adapters.locker.acquire(settings.lockPath);
      try {
        await apply(common, settings, json, flags);
      } finally {
        await lock.release();
      }
    });

  async function apply(
    common: CommonFlags,
    settings: Settings,
    json: boolean,
    flags: { adopt?: boolean; diff?: boolean },
  ) {
    const store = new StateStore(settings.stateDir, adapters.files);
    // A hand apply works while the agent is paused (SPEC §10), and says so.
    const paused = (await store.readState()).paused;
    if (paused !== null && !json) {
      out.stderr(
        `core-ops: note: the agent is ${pauseLine(paused)}; this apply runs anyway and the ` +
          "agent stays paused\n",
      );
    }
    const report = await applyRevision({
      source: sourceOf(common, settings, "mirror"),
      read: readOptionsOf(settings),
      retry: null,
      dirs: settings.dirs,
      store,
      keepGenerations: settings.keepGenerations,
      files: adapters.files,
      systemd: adapters.systemd,
      generator: adapters.generator,
      adopt: flags.adopt === true,
      secrets: { identity: settings.ageIdentity },
      verifyTimeoutMs: settings.verifyTimeoutSeconds * 1000,
      verifySettleMs: settings.verifySettleSeconds * 1000,
      pullTimeoutSeconds: settings.pullTimeoutSeconds,
      onPlan: async (revision, desired, plan) => {
        if (json) return;
        const host = desired.host === null ? "" : `host ${desired.host}, `;
        out.stdout(
          `apply for ${host}revision ${revision}: ${plan.actions.length} actions\n`,
        );
        if (flags.diff) {
          out.stdout(await diffText(plan.actions, desired.artifacts, adapters.files));
        }
      },
      onStep: (phase, step) => {
        if (!json) out.stdout(stepLine(phase, step));
      },
    });
    out.stdout(json ? applyJson(report, { paused: pauseJson(paused) }) : applySummary(report));
    if (report.exitCode !== 0) throw new RunFailed(report.exitCode);
  }
}
