/**
 * The command-line program: parses arguments, dispatches to one command module
 * per subcommand, and maps every failure to its exit code.
 *
 * @module
 */
import { CoreOpsError, Exit, renderDiagnostics, RunFailed } from "../errors.ts";
import { removedVariableWarnings } from "../settings/removed.ts";
import { VERSION } from "../version.ts";
import { versionText } from "./version.ts";
import { type Output, processOutput } from "./output.ts";
import { type Command, Program } from "./args.ts";
import { mark } from "../trace.ts";

/**
 * Every subcommand, in the order help lists them. Each module is imported
 * only when its command runs: a timer tick pays start-up for one command, not
 * for all of them (bench/, issue 11). String-literal imports, so
 * `deno cache`/`deno compile` still see the whole graph.
 */
const COMMANDS: Record<string, (out: Output) => Promise<Command<unknown[], unknown>>> = {
  plan: async (out) => (await import("./plan.ts")).planCommand(out),
  apply: async (out) => (await import("./apply.ts")).applyCommand(out),
  agent: async (out) => (await import("./agent.ts")).agentCommand(out),
  status: async (out) => (await import("./status.ts")).statusCommand(out),
  explain: async (out) => (await import("./explain.ts")).explainCommand(out),
  validate: async (out) => (await import("./validate.ts")).validateCommand(out),
  pause: async (out) => (await import("./pause.ts")).pauseCommand(out),
  resume: async (out) => (await import("./pause.ts")).resumeCommand(out),
  rollback: async (out) => (await import("./rollback.ts")).rollbackCommand(out),
  trigger: async (out) => (await import("./trigger.ts")).triggerCommand(out),
  webhook: async (out) => (await import("./webhook.ts")).webhookCommand(out),
};

/**
 * The subcommands `args` needs: the one it names, none for a bare
 * `--version`, and all of them otherwise (help lists them, and an unknown
 * command is answered with suggestions among them).
 */
export function commandsFor(args: readonly string[]): string[] {
  // The root takes no options with values, so the first word is the command.
  const name = args.find((a) => !a.startsWith("-"));
  if (name !== undefined && Object.hasOwn(COMMANDS, name)) return [name];
  if (name === undefined && args.length > 0 && args.every((a) => a === "--version")) return [];
  return Object.keys(COMMANDS);
}

/** Runs core-ops with `args`; resolves to the process exit code. */
export async function run(args: string[], out: Output = processOutput): Promise<number> {
  // Settings of the original core-ops that are gone: said once per run, never silently ignored.
  for (const warning of removedVariableWarnings((name) => Deno.env.get(name))) {
    out.stderr(`core-ops: warning: ${warning}
`);
  }
  try {
    const commands = await Promise.all(commandsFor(args).map((name) => COMMANDS[name](out)));
    mark("command modules evaluated");
    // Only --version asks where the build came from (a checkout asks git).
    const version = args.includes("--version") ? await versionText() : VERSION;
    const program = new Program(
      "core-ops",
      "GitOps agent for Podman Quadlets",
      version,
      commands,
    );
    await program.parse(args, out);
    return Exit.ok;
  } catch (error) {
    return report(error, out);
  }
}

function report(error: unknown, out: Output): number {
  if (error instanceof CoreOpsError) {
    out.stderr(renderDiagnostics(error.diagnostics) + "\n");
    return error.exitCode;
  }
  if (error instanceof Deno.errors.NotCapable) {
    out.stderr(`core-ops: ${error.message}\n`);
    return Exit.noPerm;
  }
  if (error instanceof RunFailed) return error.exitCode; // reported in full already
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  out.stderr(`core-ops: internal error: ${message}\n`);
  return Exit.software;
}
