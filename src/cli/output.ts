/**
 * Where the program writes: the process's stdout and stderr, or a test's
 * capture. Apart from program.ts so the commands need not import the program.
 *
 * @module
 */

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
