/**
 * `core-ops apply`: make this host match the source — the run pipeline, with
 * each step printed as it happens (or one JSON document with `--json`).
 *
 * @module
 */
import { Option } from "@commander-js/extra-typings";
import { z } from "zod";
import { usage } from "../errors.ts";
import { type Files, realFiles } from "../host/files.ts";
import { redactUrl } from "../host/git.ts";
import { podmanGenerator, type QuadletGenerator } from "../host/quadlet.ts";
import { realSystemd, type Systemd } from "../host/systemd.ts";
import { runPipeline } from "../apply/pipeline.ts";
import { applyJson, applySummary, stepLine } from "../apply/render.ts";
import { StateStore } from "../state/store.ts";
import { diffText, options, resolveSource, settingsFrom, sourceCommand } from "./options.ts";
import type { Output } from "./program.ts";

/** The host adapters `apply` drives; tests pass fakes. */
export interface ApplyAdapters {
  files: Files;
  systemd: Systemd;
  generator: QuadletGenerator;
}

const REAL: ApplyAdapters = { files: realFiles, systemd: realSystemd, generator: podmanGenerator };

const secondsSchema = z.coerce.number().finite().nonnegative().max(86_400);

/** Parses a duration flag in seconds; a bad value is a usage error naming the flag. */
export function seconds(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const parsed = secondsSchema.safeParse(value);
  if (!parsed.success) throw usage(`invalid ${flag}: "${value}" must be a number of seconds`);
  return Math.round(parsed.data * 1000);
}

/** Builds the `apply` command. */
export function applyCommand(out: Output, adapters: ApplyAdapters = REAL) {
  return sourceCommand("apply")
    .description("make this host match the source: write, reload, restart, verify, roll back")
    .addOption(options.json())
    .addOption(options.stateDir())
    .addOption(options.lockPath())
    .addOption(options.diff())
    .option("--adopt", "take ownership of unowned files at destinations")
    .addOption(
      new Option("--verify-timeout <seconds>", "how long units may take to settle (default 60)"),
    )
    .addOption(
      new Option("--verify-settle <seconds>", "how long a unit must stay up (default 3)"),
    )
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      const settings = await settingsFrom(common);
      const json = flags.json === true;
      const report = await runPipeline({
        resolve: () => resolveSource(common, settings),
        source: {
          repository: common.sourceRepo ?? (settings.repo ? redactUrl(settings.repo) : null),
          ref: common.sourceRepo ? null : settings.rev,
        },
        dirs: settings.dirs,
        store: new StateStore(settings.stateDir, adapters.files),
        ...adapters,
        adopt: flags.adopt === true,
        verifyTimeoutMs: seconds("--verify-timeout", flags.verifyTimeout, 60),
        verifySettleMs: seconds("--verify-settle", flags.verifySettle, 3),
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
      out.stdout(json ? applyJson(report) : applySummary(report));
      if (report.exitCode !== 0) throw new RunFailed(report.exitCode);
    });
}

/** A run that failed after it was reported in full: only the exit code is left to give. */
export class RunFailed extends Error {
  constructor(readonly exitCode: number) {
    super(`run failed (exit ${exitCode})`);
    this.name = "RunFailed";
  }
}
