/**
 * The command-line program: parses arguments, dispatches to one command module
 * per subcommand, and maps every failure to its exit code.
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { CoreOpsError, Exit, renderDiagnostics } from "../errors.ts";
import { VERSION } from "../version.ts";
import { agentCommand } from "./agent.ts";
import { applyCommand, RunFailed } from "./apply.ts";
import { explainCommand } from "./explain.ts";
import { planCommand } from "./plan.ts";
import { statusCommand } from "./status.ts";
import { validateCommand } from "./validate.ts";

/** Where the program writes; injectable so tests can capture output. */
export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

const encoder = new TextEncoder();

/** Process stdout/stderr. */
export const processOutput: Output = {
  stdout: (text) => Deno.stdout.writeSync(encoder.encode(text)),
  stderr: (text) => Deno.stderr.writeSync(encoder.encode(text)),
};

/** Runs core-ops with `args`; resolves to the process exit code. */
export async function run(args: string[], out: Output = processOutput): Promise<number> {
  const program = new Command()
    .name("core-ops")
    .description("GitOps agent for Podman Quadlets")
    .version(VERSION, "--version")
    .exitOverride()
    .configureOutput({
      writeOut: out.stdout,
      writeErr: out.stderr,
    })
    .showSuggestionAfterError(true)
    .addCommand(planCommand(out))
    .addCommand(applyCommand(out))
    .addCommand(agentCommand(out))
    .addCommand(statusCommand(out))
    .addCommand(explainCommand(out))
    .addCommand(validateCommand(out));
  // Subcommands report usage errors through the same exception as the root.
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeOut: out.stdout, writeErr: out.stderr });
  }

  try {
    await program.parseAsync(args, { from: "user" });
    return Exit.ok;
  } catch (error) {
    return report(error, out);
  }
}

function report(error: unknown, out: Output): number {
  if (error instanceof CommanderError) {
    // --help and --version end parsing through an exception, with exit code 0.
    return error.exitCode === 0 ? Exit.ok : Exit.usage;
  }
  if (error instanceof RunFailed) return error.exitCode; // reported in full already
  if (error instanceof CoreOpsError) {
    out.stderr(renderDiagnostics(error.diagnostics) + "\n");
    return error.exitCode;
  }
  if (error instanceof Deno.errors.NotCapable) {
    out.stderr(`core-ops: ${error.message}\n`);
    return Exit.noPerm;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  out.stderr(`core-ops: internal error: ${message}\n`);
  return Exit.software;
}
