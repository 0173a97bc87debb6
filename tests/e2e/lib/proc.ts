/**
 * Running host programs for the e2e harness. Every command is an argument
 * array handed to `Deno.Command`: no shell ever parses a string we built, so a
 * path with a space or a quote cannot change what runs.
 *
 * @module
 */

/** What a finished command left behind. */
export interface Result {
  /** Exit code; 128 + signal number when the process was killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run a command. */
export interface RunOptions {
  /** Extra environment variables, on top of the inherited (or cleared) environment. */
  env?: Record<string, string>;
  /** Start from an empty environment instead of the harness's own. */
  clearEnv?: boolean;
  cwd?: string;
  /** Bytes or text written to the command's standard input, which is then closed. */
  stdin?: string | Uint8Array;
  /** Terminate the command (SIGTERM) after this many milliseconds. */
  timeoutMs?: number;
}

const SIGNALS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGABRT: 6,
  SIGSEGV: 11,
};

/** Runs `cmd` with `args` to completion and collects its output as text. */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<Result> {
  const command = new Deno.Command(cmd, {
    args: [...args],
    env: opts.env,
    clearEnv: opts.clearEnv,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs),
  });
  const child = command.spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const bytes = typeof opts.stdin === "string"
      ? new TextEncoder().encode(opts.stdin)
      : opts.stdin;
    // A command that exits without reading its input must not fail the write.
    await writer.write(bytes).catch(() => {});
    await writer.close().catch(() => {});
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    code: out.signal ? 128 + (SIGNALS[out.signal] ?? 0) : out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** A command that was expected to succeed and did not. */
export class CommandError extends Error {
  constructor(readonly argv: readonly string[], readonly result: Result) {
    super(
      `command failed (exit ${result.code}): ${argv.join(" ")}\n` +
        tail("stdout", result.stdout) + tail("stderr", result.stderr),
    );
    this.name = "CommandError";
  }
}

function tail(label: string, text: string): string {
  if (text.trim() === "") return "";
  const lines = text.trimEnd().split("\n");
  const shown = lines.slice(-30).map((l) => `  | ${l}`).join("\n");
  return `--- ${label}${lines.length > 30 ? " (last 30 lines)" : ""}\n${shown}\n`;
}

/** Like {@link run}, but throws a {@link CommandError} unless the exit code is 0. */
export async function mustRun(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<Result> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) throw new CommandError([cmd, ...args], result);
  return result;
}

/**
 * Runs `producer | consumer` with both ends as argument arrays; the pipe is
 * plumbed here so that no shell is involved. Throws if either side fails.
 */
export async function mustPipe(
  producer: readonly string[],
  consumer: readonly string[],
): Promise<void> {
  const left = new Deno.Command(producer[0], {
    args: producer.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const right = new Deno.Command(consumer[0], {
    args: consumer.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const piping = left.stdout.pipeTo(right.stdin).catch(() => {});
  const leftErr = new Response(left.stderr).text();
  const [leftStatus, r] = await Promise.all([left.status, right.output(), piping]);
  const decoder = new TextDecoder();
  const failures: [readonly string[], number, string][] = [];
  if (!leftStatus.success) failures.push([producer, leftStatus.code, await leftErr]);
  if (!r.success) failures.push([consumer, r.code, decoder.decode(r.stderr)]);
  await leftErr;
  if (failures.length > 0) {
    const [argv, code, stderr] = failures[0];
    throw new CommandError(argv, { code, stdout: "", stderr });
  }
}

/** Seconds elapsed since `start` (a `performance.now()` reading). */
export function since(start: number): number {
  return (performance.now() - start) / 1000;
}
