/**
 * `core-ops plan`: what apply would do, changing nothing on the host.
 *
 * @module
 */
import { planRevision } from "../run/run.ts";
import { type Files, realFiles } from "../host/files.ts";
import type { QuadletGenerator } from "../plan/dryrun.ts";
import { podmanGenerator } from "../run/generator.ts";
import { realSystemd, type Systemd } from "../host/systemd.ts";
import { planJson, planText } from "../report/plan_text.ts";
import { StateStore } from "../state/store.ts";
import { templateNaming } from "../run/naming.ts";
import { diffText, options, settingsFrom, sourceCommand } from "./options.ts";
import { readOptionsOf, sourceOf } from "./source.ts";
import type { Output } from "./output.ts";

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
      const settings = await settingsFrom(common, "plan");
      const planned = await planRevision({
        source: sourceOf(common, settings, "temp"),
        read: readOptionsOf(settings),
        dirs: settings.dirs,
        store: new StateStore(settings.stateDir, adapters.files),
        ...adapters,
        adopt: flags.adopt === true,
        podmanVersion: flags.podmanVersion,
        secrets: { identity: settings.ageIdentity },
      });
      const report = {
        revision: planned.revision,
        desired: planned.desired,
        plan: planned.plan,
        states: planned.states,
        naming: planned.naming,
      };
      out.stdout(flags.json ? planJson(report) : planText(report));
      if (flags.diff && !flags.json) {
        out.stdout(
          await diffText(planned.plan.actions, planned.desired.artifacts, adapters.files),
        );
      }
    });
}
