/**
 * Podman's quadlet generator as a program: find it, tell which one is
 * installed, and run its dry-run over a set of files staged in a temp dir
 * that it reads through `QUADLET_UNIT_DIRS` — nothing on the host changes.
 * What the output means is judged by src/plan/dryrun.ts.
 *
 * @module
 */
import { dirname, join } from "../paths.ts";

/** Where Podman installs the generator: the plain binary first, the systemd generator link second. */
export const GENERATOR_PATHS = [
  "/usr/libexec/podman/quadlet",
  "/usr/lib/systemd/system-generators/podman-system-generator",
] as const;

/** A file to stage: its absolute host path inside the quadlet dir, and its bytes. */
export interface StagedFile {
  path: string;
  content: Uint8Array;
}

/** What one dry-run printed and how it ended. */
export interface GeneratorOutput {
  code: number;
  signal: string | null;
  /** With staged paths turned back into host paths. */
  stdout: string;
  /** With the staging dir stripped: files named relative to the quadlet dir. */
  stderr: string;
}

/** The generator as the run drives it; tests pass their own. */
export interface QuadletProcess {
  /** The installed generator's path, or `null` when Podman is not installed. */
  find(): Promise<string | null>;
  /** Path, size, mtime and inode of the installed generator, or `null`. */
  identity(): Promise<string | null>;
  /**
   * Stages `files` (host paths inside `quadletDir`) and dry-runs `generator`
   * over them; `user` runs it as the user generator (`-user`).
   */
  run(
    generator: string,
    quadletDir: string,
    files: readonly StagedFile[],
    user?: boolean,
  ): Promise<GeneratorOutput>;
}

/** The real generator found at one of {@link GENERATOR_PATHS}. */
export const quadletProcess: QuadletProcess = {
  find: () => Promise.resolve(foundGenerator()?.path ?? null),
  identity() {
    const found = foundGenerator();
    if (found === null) return Promise.resolve(null);
    const { path, info } = found;
    return Promise.resolve(`${path}:${info.size}:${info.mtime?.getTime() ?? 0}:${info.ino ?? 0}`);
  },
  run: runStaged,
};

/** Stages `files` (host paths inside `quadletDir`) in a temp dir and runs the generator over it. */
async function runStaged(
  generator: string,
  quadletDir: string,
  files: readonly StagedFile[],
  user = false,
): Promise<GeneratorOutput> {
  const staging = await Deno.makeTempDir({ prefix: "core-ops-quadlet-" });
  try {
    // Synchronous, each dir made once: hundreds of async file ops each pay a
    // thread-pool round trip on every run, changed or not (bench/, issue 11).
    const made = new Set<string>();
    for (const f of files) {
      const path = join(staging, f.path.slice(quadletDir.length + 1));
      const dir = dirname(path);
      if (!made.has(dir)) {
        Deno.mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      Deno.writeFileSync(path, f.content);
    }
    const output = await new Deno.Command(generator, {
      // The same binary is both generators: `-user` makes it read and write user units.
      args: [...(user ? ["-user"] : []), generator.endsWith("/quadlet") ? "-dryrun" : "--dryrun"],
      env: { QUADLET_UNIT_DIRS: staging },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      signal: output.signal,
      stdout: decoder.decode(output.stdout).replaceAll(staging + "/", quadletDir + "/"),
      stderr: decoder.decode(output.stderr).replaceAll(staging + "/", ""),
    };
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
}

/** The first of {@link GENERATOR_PATHS} that is a file, with its stat (one per path looked at). */
function foundGenerator(): { path: string; info: Deno.FileInfo } | null {
  // Synchronous: every agent tick keys its caches with the generator's identity.
  for (const path of GENERATOR_PATHS) {
    try {
      const info = Deno.statSync(path);
      if (info.isFile) return { path, info };
    } catch {
      // not installed at this path; try the next one
    }
  }
  return null;
}
