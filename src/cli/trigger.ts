/**
 * `core-ops trigger` (SPEC §8): asks for an agent run now. It only sets the
 * trigger file beside the run lock; `core-ops-trigger.path` starts
 * core-ops.service, and the agent clears the file when it takes the lock.
 * Any number of triggers before that run starts are one run.
 *
 * @module
 */
import { setTrigger, triggerPath } from "../host/trigger.ts";
import { CONFIG_ENV, DEFAULT_CONFIG_PATH } from "../settings/table.ts";
import { checkWritable, settingsCommand, settingsFrom } from "./options.ts";
import type { Output } from "./output.ts";

/** Builds the `trigger` command. */
export function triggerCommand(out: Output) {
  return settingsCommand("trigger")
    .description("ask for an agent run now (core-ops-trigger.path starts core-ops.service)")
    .option("--config <path>", `agent config [${CONFIG_ENV}, default ${DEFAULT_CONFIG_PATH}]`)
    .action(async (flags) => {
      const settings = await settingsFrom(flags, "trigger", flags.config);
      checkWritable(settings, undefined, ["lock-path"]);
      const path = triggerPath(settings.lockPath);
      await setTrigger(path);
      out.stdout(`core-ops: trigger set (${path}); core-ops-trigger.path starts the agent\n`);
    });
}
