/**
 * Runs the core-ops CLI as a real process under the test permission set, so
 * exit codes, stdout and stderr are what an operator would see.
 *
 * @module
 */
import { coreOpsArgs } from "../../tools/launch.ts";
import { testPermissions } from "../../tools/permissions.ts";

/** What a CLI run left behind. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link cli}. */
export interface CliOptions {
  /** Extra environment; the run starts from a minimal one so host settings cannot leak in. */
  env?: Record<string, string>;
  /** Dirs the run may write (added to the production write set). */
  writable?: string[];
  cwd?: string;
}

let emptyConfig: string | undefined;

/** Runs `core-ops <args>`; resolves to its exit code and output. */
export async function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  emptyConfig ??= await Deno.makeTempFile({ prefix: "core-ops-test-agent-", suffix: ".toml" });
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    // An empty agent.toml: the host's /etc/core-ops/agent.toml must not change test results.
    CORE_OPS_CONFIG: emptyConfig,
    NO_COLOR: "1",
    ...options.env,
  };
  const denoDir = Deno.env.get("DENO_DIR");
  if (denoDir) env.DENO_DIR = denoDir;
  const out = await new Deno.Command(Deno.execPath(), {
    args: coreOpsArgs(testPermissions(options.writable ?? []), args),
    env,
    clearEnv: true,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}
