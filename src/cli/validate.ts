/**
 * `core-ops validate`: the layout rules, then Podman's own generator over the
 * candidate quadlet set. Changes nothing on the host.
 *
 * @module
 */
import type { QuadletGenerator } from "../plan/dryrun.ts";
import { podmanGenerator } from "../run/generator.ts";
import { describeNaming } from "../plan/naming.ts";
import { templateNaming } from "../run/naming.ts";
import { validateRevision } from "../run/run.ts";
import { options, settingsFrom, sourceCommand } from "./options.ts";
import { readOptionsOf, sourceOf } from "./source.ts";
import type { Output } from "./output.ts";

/** Builds the `validate` command. */
export function validateCommand(out: Output, generator: QuadletGenerator = podmanGenerator) {
  return sourceCommand("validate")
    .description("check the layout and run the quadlet generator's dry-run")
    .addOption(options.podmanVersion())
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      templateNaming(flags.podmanVersion); // a bad flag is a usage error before any work
      const settings = await settingsFrom(common, "validate");
      const { revision, named } = await validateRevision({
        source: sourceOf(common, settings, "temp"),
        read: readOptionsOf(settings),
        generator,
        podmanVersion: flags.podmanVersion,
      });
      const { desired, naming, dryRun: result } = named;
      for (const w of desired.warnings) {
        out.stderr(`warning: ${w.file ? `${w.file}: ` : ""}${w.message}\n`);
      }
      const host = desired.host === null ? "" : `host ${desired.host}, `;
      const summary =
        `${host}revision ${revision}: ${desired.services.length} services, ${desired.artifacts.length} files`;
      out.stdout(`layout ok: ${summary}\n`);
      const secrets = desired.artifacts.filter((a) => a.secret !== undefined).length;
      if (secrets > 0) {
        out.stdout(`secrets: ${secrets} age files, headers checked, not decrypted\n`);
      }
      out.stdout(
        result.status === "ok"
          ? `generator ok: ${result.generator} accepted ${result.units.length} units\n`
          : `generator skipped: ${result.reason}\n`,
      );
      out.stdout(`${describeNaming(naming)}\n`);
    });
}
