/**
 * `core-ops plan`: what apply would do, changing nothing on the host.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import { observeFiles, realFiles } from "../host/files.ts";
import { systemctl, type UnitStates } from "../host/systemctl.ts";
import { pathsOfInterest, plan, unitsOfInterest } from "../plan/planner.ts";
import { planJson, planText } from "../plan/render.ts";
import { readManifest } from "../state/manifest.ts";
import { diffText, loadSource, options, settingsFrom, sourceCommand } from "./options.ts";
import type { Output } from "./program.ts";

/** Builds the `plan` command. */
export function planCommand(out: Output, units: UnitStates = systemctl) {
  return sourceCommand("plan")
    .description("show what apply would change (no host change, no root needed)")
    .addOption(options.json())
    .addOption(options.diff())
    .addOption(options.stateDir())
    .addOption(options.lockPath())
    .option("--adopt", "plan to take ownership of unowned files at destinations")
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      // resolve → load → plan → render
      const settings = await settingsFrom(common);
      const loaded = await loadSource(common, settings);
      const manifest = await readManifest(settings.stateDir);
      const [files, states] = await Promise.all([
        observeFiles(pathsOfInterest(loaded.desired, manifest)),
        units.show(unitsOfInterest(loaded.desired, manifest)),
      ]);
      const result = plan({
        desired: loaded.desired,
        manifest,
        observed: { files, units: states },
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
      const report = { revision: loaded.revision, desired: loaded.desired, plan: result, states };
      out.stdout(flags.json ? planJson(report) : planText(report));
      if (flags.diff && !flags.json) {
        out.stdout(await diffText(result.actions, loaded.desired.artifacts, realFiles));
      }
    });
}
