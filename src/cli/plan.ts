/**
 * `core-ops plan`: what apply would do, changing nothing on the host.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import { observeFiles, realFiles } from "../host/files.ts";
import { systemctl, type UnitStates } from "../host/systemctl.ts";
import { podmanGenerator, type QuadletGenerator } from "../host/quadlet.ts";
import { pathsOfInterest, plan, templatesOfInterest, unitsOfInterest } from "../plan/planner.ts";
import { planJson, planText } from "../plan/render.ts";
import { readManifest } from "../state/manifest.ts";
import { nameUnits, templateNaming } from "./naming.ts";
import { diffText, loadSource, options, settingsFrom, sourceCommand } from "./options.ts";
import type { Output } from "./program.ts";

/** Builds the `plan` command. */
export function planCommand(
  out: Output,
  units: UnitStates = systemctl,
  generator: QuadletGenerator = podmanGenerator,
) {
  return sourceCommand("plan")
    .description("show what apply would change (no host change, no root needed)")
    .addOption(options.json())
    .addOption(options.diff())
    .addOption(options.stateDir())
    .addOption(options.lockPath())
    .option("--adopt", "plan to take ownership of unowned files at destinations")
    .addOption(options.podmanVersion())
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      templateNaming(flags.podmanVersion); // a bad flag is a usage error before any work
      // resolve → load → name units (generator or built-in) → observe → plan → render
      const settings = await settingsFrom(common);
      const loaded = await loadSource(common, settings);
      const { desired, naming } = await nameUnits(
        loaded.desired,
        settings.dirs.quadletDir,
        generator,
        flags.podmanVersion,
      );
      const manifest = await readManifest(settings.stateDir);
      const [files, states, instances] = await Promise.all([
        observeFiles(pathsOfInterest(desired, manifest)),
        units.show(unitsOfInterest(desired, manifest)),
        units.instances(templatesOfInterest(desired, manifest)),
      ]);
      const result = plan({
        desired,
        manifest,
        observed: { files, units: states, instances },
        adopt: flags.adopt === true,
      });
      if (result.conflicts.length > 0) {
        throw new CoreOpsError(
          Exit.dataErr,
          "plan",
          result.conflicts.map((c) => ({
            message: `${c.path} exists and is not owned by core-ops (source ${c.source})`,
            location: { file: c.path },
            hint: "move it away, or pass --adopt to take ownership of it",
          })),
        );
      }
      const report = { revision: loaded.revision, desired, plan: result, states, naming };
      out.stdout(flags.json ? planJson(report) : planText(report));
      if (flags.diff && !flags.json) {
        out.stdout(await diffText(result.actions, desired.artifacts, realFiles));
      }
    });
}
