/**
 * `core-ops validate`: the layout rules, then Podman's own generator over the
 * candidate quadlet set. Changes nothing on the host.
 *
 * @module
 */
import { podmanGenerator, type QuadletGenerator } from "../host/quadlet.ts";
import { describeNaming } from "../plan/naming.ts";
import { bringUpOrder, describeUnits } from "../plan/units.ts";
import { nameUnits, templateNaming } from "../apply/naming.ts";
import { options, settingsFrom, sourceCommand } from "./options.ts";
import { loadSource } from "./source.ts";
import type { Output } from "./program.ts";

/** Builds the `validate` command. */
export function validateCommand(out: Output, generator: QuadletGenerator = podmanGenerator) {
  return sourceCommand("validate")
    .description("check the layout and run the quadlet generator's dry-run")
    .addOption(options.podmanVersion())
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      templateNaming(flags.podmanVersion); // a bad flag is a usage error before any work
      const settings = await settingsFrom(common);
      const loaded = await loadSource(common, settings);
      const { desired, naming, dryRun: result } = await nameUnits(
        loaded.desired,
        settings.dirs.quadletDir,
        generator,
        flags.podmanVersion,
      );
      const revision = loaded.revision;
      // A dependency cycle is invalid desired state too: refuse it here, not first in apply.
      bringUpOrder(describeUnits(desired.artifacts));
      for (const w of desired.warnings) {
        out.stderr(`warning: ${w.file ? `${w.file}: ` : ""}${w.message}\n`);
      }
      const host = desired.host === null ? "" : `host ${desired.host}, `;
      const summary =
        `${host}revision ${revision}: ${desired.services.length} services, ${desired.artifacts.length} files`;
      out.stdout(`layout ok: ${summary}\n`);
      out.stdout(
        result.status === "ok"
          ? `generator ok: ${result.generator} accepted ${result.units.length} units\n`
          : `generator skipped: ${result.reason}\n`,
      );
      out.stdout(`${describeNaming(naming)}\n`);
    });
}
