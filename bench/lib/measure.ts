/**
 * Timing a child process: wall time taken here around the spawn, peak RSS
 * from GNU time (`/usr/bin/time -f %M`), which reads `ru_maxrss` of the
 * waited-for child from wait4(2). That is the high-water mark of resident
 * memory of the largest process in the tree (the launcher execs Deno, so the
 * Deno process is the one measured; git or systemctl children are smaller),
 * not a sum — and it includes everything up to exit, unlike a sample of
 * /proc/<pid>/status taken while it runs.
 *
 * @module
 */

/** GNU time, whose `-f %M` is peak RSS in KiB. */
export const GNU_TIME = "/usr/bin/time";

/** One measured run. */
export interface Sample {
  ms: number;
  rssMiB: number;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Makes sure GNU time is installed (Debian package `time`), installing it
 * when we are root; otherwise explains what is missing.
 */
export async function ensureGnuTime(): Promise<void> {
  const probe = await new Deno.Command(GNU_TIME, { args: ["-f", "%M", "true"], stderr: "piped" })
    .output().catch(() => undefined);
  if (probe?.success && /^\d+\s*$/.test(new TextDecoder().decode(probe.stderr))) return;
  if (Deno.uid() !== 0) {
    throw new Error(
      `${GNU_TIME} (GNU time) is missing: run \`apt-get install time\` or the bench as root`,
    );
  }
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (
    const args of [["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "time"]]
  ) {
    const out = await new Deno.Command("apt-get", { args, env, stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) {
      throw new Error(`apt-get ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
  }
}

/** Runs `argv` under GNU time; resolves to wall time, peak RSS, exit code and output. */
export async function measure(
  argv: readonly string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Sample> {
  const rssFile = await Deno.makeTempFile({ prefix: "core-ops-bench-rss-" });
  try {
    const started = performance.now();
    const out = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%M", "-o", rssFile, "--", ...argv],
      env: opts.env,
      cwd: opts.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - started;
    const decoder = new TextDecoder();
    return {
      ms,
      rssMiB: parseRss(await Deno.readTextFile(rssFile)),
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    await Deno.remove(rssFile);
  }
}

/** Peak RSS in MiB from GNU time's `%M` output (KiB; the last line, after any notes). */
export function parseRss(text: string): number {
  const last = text.trim().split("\n").at(-1) ?? "";
  if (!/^\d+$/.test(last)) throw new Error(`unexpected GNU time output: ${JSON.stringify(text)}`);
  return Number(last) / 1024;
}

/** Runs `once` `warmup + runs` times and keeps the last `runs` samples; every run must exit 0. */
export async function repeat(
  label: string,
  runs: number,
  once: () => Promise<Sample>,
  warmup = 1,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const sample = await once();
    if (sample.code !== 0) {
      throw new Error(
        `${label}: exited ${sample.code}\n--- stdout\n${sample.stdout.slice(-2000)}\n--- stderr\n${
          sample.stderr.slice(-4000)
        }`,
      );
    }
    if (i >= warmup) samples.push(sample);
  }
  return samples;
}
