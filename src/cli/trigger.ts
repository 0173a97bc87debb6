/**
 * `core-ops trigger` (SPEC §8): asks for an agent run now. It only sets the
 * trigger file beside the run lock; `core-ops-trigger.path` starts
 * core-ops.service, and the agent clears the file when it takes the lock.
 * Any number of triggers before that run starts are one run.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { setTrigger, triggerPath } from "../host/trigger.ts";
import { checkWritable, options, settingsFrom } from "./options.ts";
import type { Output } from "./output.ts";

/** Builds the `trigger` command. */
export function triggerCommand(out: Output) {
  return new Command("trigger")
    .description("ask for an agent run now (core-ops-trigger.path starts core-ops.service)")
    .option("--config <path>", "agent config (default /etc/core-ops/agent.toml)")
    .addOption(options.lockPath())
    .action(async (flags) => {
      const settings = await settingsFrom(flags, flags.config);
      checkWritable(settings, undefined, ["lock-path"]);
      const path = triggerPath(settings.lockPath);
      await setTrigger(path);
      out.stdout(`core-ops: trigger set (${path}); core-ops-trigger.path starts the agent\n`);
    });
}
