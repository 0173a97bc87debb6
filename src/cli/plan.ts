/**
 * `core-ops plan`: what apply would do, changing nothing on the host.
 *
 * @module
 */
import { prepare } from "../apply/prepare.ts";
import { type Files, realFiles } from "../host/files.ts";
import { podmanGenerator, type QuadletGenerator } from "../host/quadlet.ts";
import { realSystemd, type Systemd } from "../host/systemd.ts";
import { planJson, planText } from "../plan/render.ts";
import { StateStore } from "../state/store.ts";
import { templateNaming } from "../apply/naming.ts";
import { diffText, options, settingsFrom, sourceCommand } from "./options.ts";
import { loadSource } from "./source.ts";
import type { Output } from "./program.ts";

/** The host adapters `plan` reads through; tests pass fakes. */
export interface PlanAdapters {
  files: Files;
  systemd: Systemd;
  generator: QuadletGenerator;
}

const REAL: PlanAdapters = { files: realFiles, systemd: realSystemd, generator: podmanGenerator };

/** Builds the `plan` command. */
export function planCommand(out: Output, adapters: PlanAdapters = REAL) {
  return sourceCommand("plan")
    .description("show what apply would change (no host change, no root needed)")
    .addOption(options.json())
    .addOption(options.diff())
    .option("--adopt", "plan to take ownership of unowned files at destinations")
    .addOption(options.podmanVersion())
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      templateNaming(flags.podmanVersion); // a bad flag is a usage error before any work
      // resolve → load → name units (generator or built-in) → observe → plan → render
      const settings = await settingsFrom(common);
      const loaded = await loadSource(common, settings);
      const store = new StateStore(settings.stateDir, adapters.files);
      const state = await store.readState();
      const prepared = await prepare(
        loaded.desired,
        await store.readManifest(),
        state.in_progress?.pending ?? null,
        {
          dirs: settings.dirs,
          ...adapters,
          adopt: flags.adopt === true,
          podmanVersion: flags.podmanVersion,
          requireGenerator: false,
        },
      );
      const report = {
        revision: loaded.revision,
        desired: prepared.desired,
        plan: prepared.plan,
        states: prepared.states,
        naming: prepared.naming,
      };
      out.stdout(flags.json ? planJson(report) : planText(report));
      if (flags.diff && !flags.json) {
        out.stdout(
          await diffText(prepared.plan.actions, prepared.desired.artifacts, adapters.files),
        );
      }
    });
}
