/**
 * `core-ops webhook` (SPEC §8): serves the one HTTP request systemd hands it
 * on stdin/stdout (`core-ops-webhook.socket`, `Accept=yes`), and sets the
 * run trigger for an authentic push to the tracked ref. One line per request
 * goes to stderr (the unit's journal): the status and why, never the secret
 * or the body.
 *
 * @module
 */
import { CoreOpsError, Exit, noInput, usage } from "../errors.ts";
import { responseBytes } from "../host/http_request.ts";
import { stdioConnection, writeAll } from "../host/stdio_http.ts";
import { setTrigger, triggerPath } from "../host/trigger.ts";
import { serveWebhook } from "../run/webhook.ts";
import { CONFIG_ENV, DEFAULT_CONFIG_PATH } from "../settings/table.ts";
import { settingsCommand, settingsFrom } from "./options.ts";
import type { Output } from "./output.ts";

/** Builds the `webhook` command. */
export function webhookCommand(out: Output) {
  return settingsCommand("webhook")
    .description("serve one webhook request on stdin/stdout (core-ops-webhook@.service)")
    .option("--config <path>", `agent config [${CONFIG_ENV}, default ${DEFAULT_CONFIG_PATH}]`)
    .action(async (flags) => {
      let secret: Uint8Array;
      let rev: string;
      let trigger: string;
      try {
        const settings = await settingsFrom(flags, "webhook", flags.config);
        if (settings.rev === null) {
          throw usage("the webhook needs the tracked ref", "set rev in /etc/core-ops/agent.toml");
        }
        if (settings.webhookSecretFile === null) {
          throw usage(
            "the webhook needs a shared secret",
            "set webhook-secret-file in /etc/core-ops/agent.toml (a root-owned file, mode 0600)",
          );
        }
        secret = await readSecret(settings.webhookSecretFile);
        rev = settings.rev;
        trigger = triggerPath(settings.lockPath);
      } catch (error) {
        // The sender still gets an answer; the reason goes to the journal, not to it.
        await writeAll(stdioConnection, responseBytes(500, "the webhook is not configured"));
        throw error;
      }
      const answer = await serveWebhook(stdioConnection, secret, rev, () => setTrigger(trigger));
      out.stderr(`core-ops webhook: ${answer.status} ${answer.message}\n`);
    });
}

/** The secret: the file's content minus one trailing newline; never empty. */
async function readSecret(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    const why = error instanceof Error ? error.message : String(error);
    throw noInput(`cannot read the webhook secret (webhook-secret-file): ${why}`, path);
  }
  if (bytes.at(-1) === 0x0a) bytes = bytes.subarray(0, -1);
  if (bytes.length === 0) {
    throw new CoreOpsError(Exit.usage, "usage", [{
      message: "the webhook secret is empty: anyone could sign a request",
      location: { file: path },
      hint: "write a long random secret, e.g. `openssl rand -hex 32`",
    }]);
  }
  return bytes;
}
