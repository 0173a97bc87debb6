/**
 * `core-ops validate`: the layout rules, then Podman's own generator over the
 * candidate quadlet set. Changes nothing on the host.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import { podmanGenerator, type QuadletGenerator } from "../host/quadlet.ts";
import { isQuadletKind } from "../model.ts";
import { loadSource, settingsFrom, sourceCommand } from "./options.ts";
import type { Output } from "./program.ts";

/** Builds the `validate` command. */
export function validateCommand(out: Output, generator: QuadletGenerator = podmanGenerator) {
  return sourceCommand("validate")
    .description("check the layout and run the quadlet generator's dry-run")
    .action(async (source, flags) => {
      const common = { ...flags, sourceRepo: flags.sourceRepo ?? source };
      const settings = await settingsFrom(common);
      const { desired, revision } = await loadSource(common, settings);
      const quadlets = desired.artifacts.filter((a) =>
        isQuadletKind(a.kind) ||
        (a.kind === "dropin" && a.destination.startsWith(settings.dirs.quadletDir + "/"))
      );
      const result = await generator.dryRun(quadlets, settings.dirs.quadletDir);
      if (result.status === "rejected") {
        throw new CoreOpsError(Exit.dataErr, "validation", result.diagnostics);
      }
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
    });
}
