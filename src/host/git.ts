/**
 * Git, run as a program: the one runner every git call of core-ops goes
 * through (the mirror fetch, the commit reader, the signature check, the
 * provenance of a checkout), so each runs without a shell, never prompting,
 * in the C locale, with the caller's git environment neutralised and with a
 * deadline that takes git's transport helpers down with it.
 *
 * @module
 */

import type { BuiltFrom } from "../version.ts";

/** Provenance when the work tree has uncommitted changes. */
export const STATELESS_DIRTY = "(stateless+dirty)";
/** Provenance when the source is not a git checkout, or git cannot tell. */
export const STATELESS = "(stateless)";

/** What one git invocation did. */
export interface GitResult {
  ok: boolean;
  /** Exit status (124/137 when the deadline killed it). */
  code: number;
  /** stdout as bytes (what `cat-file --batch` gives), and decoded as text. */
  bytes: Uint8Array;
  readonly stdout: string;
  stderr: string;
  /** Set when the deadline passed and git was killed. */
  timedOut: boolean;
  /** Set when stdout passed `limitBytes` and git was stopped (`bytes` is then incomplete). */
  overLimit: boolean;
}

/** How to run one git invocation. */
export interface GitOptions {
  cwd?: string;
  /** Added to the environment (over the safe defaults). */
  env?: Record<string, string>;
  /** Kill git (and, through git's own cleanup, its transport helpers) after this long. */
  timeoutMs?: number;
  /** Written to git's stdin while it answers (a `--batch` request). */
  input?: string;
  /** Stop git once its stdout passes this many bytes: a hostile object must not fill memory. */
  limitBytes?: number;
  /**
   * Run with nothing of the caller's environment (reading a repository's
   * objects needs none, and GIT_DIR, GIT_OBJECT_DIRECTORY or alternates must
   * not leak in); without it the environment is inherited — PATH, HOME for
   * ~/.ssh, proxies for a fetch — with git's own variables neutralised.
   */
  isolated?: boolean;
}

/**
 * Settings that keep a fetch from running anything the remote controls, or
 * anything the operator did not ask for: no hooks (a bare fetch runs the
 * reference-transaction hook), only the file, http(s) and ssh transports (no
 * `ext::`, no unauthenticated `git://`), objects checked on receipt, no
 * reflogs (they would keep the URL), no submodule recursion, and garbage
 * collection in the foreground so nothing outlives the run.
 */
export const SAFE_CONFIG = [
  "core.hooksPath=/dev/null",
  "protocol.allow=never",
  "protocol.file.allow=always",
  "protocol.http.allow=always",
  "protocol.https.allow=always",
  "protocol.ssh.allow=always",
  "transfer.fsckObjects=true",
  "core.logAllRefUpdates=false",
  "fetch.recurseSubmodules=false",
  "gc.autoDetach=false",
].flatMap((c) => ["-c", c]);

/** How long git gets after SIGTERM before its process group gets SIGKILL. */
const KILL_GRACE_MS = 2000;
/** How long after that `timeout` itself is killed, should it hang. */
const BACKSTOP_MS = 3000;
/** How long output is drained after git exits (a helper may still hold the pipe). */
const DRAIN_MS = 1000;

/** Never prompt for credentials or host keys on an unattended host; match git's words in C. */
const QUIET: Record<string, string> = {
  GIT_TERMINAL_PROMPT: "0",
  GIT_ASKPASS: "/bin/false",
  SSH_ASKPASS: "/bin/false",
  LC_ALL: "C",
  // A fetched `refs/replace/*` must not swap the objects judged; no lazy fetch from a promisor.
  GIT_NO_REPLACE_OBJECTS: "1",
  GIT_NO_LAZY_FETCH: "1",
};

/** The whole environment of an isolated run: no system or global config either. */
const ISOLATED: Record<string, string> = {
  ...QUIET,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

/**
 * Over the inherited environment (reading it to filter would need more
 * --allow-env): the variables that would inject git config are emptied.
 */
const INHERITED: Record<string, string> = {
  ...QUIET,
  GIT_CONFIG_PARAMETERS: "",
  GIT_CONFIG_COUNT: "0",
};

/**
 * Runs git without a shell. With `timeoutMs`, git runs under coreutils'
 * `timeout`, which puts git in a process group of its own and signals the
 * whole group: git does not take its transport helpers (git-remote-https,
 * ssh) down when it is killed, and a helper stuck on a silent server would
 * outlive the run. Never throws for a failing git (`git` missing is a failed
 * result too).
 */
export async function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const limited = opts.timeoutMs !== undefined;
  const [program, argv] = limited
    ? [
      "timeout",
      [`--kill-after=${KILL_GRACE_MS / 1000}s`, `${opts.timeoutMs! / 1000}s`, "git", ...args],
    ]
    : ["git", args];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: argv,
      cwd: opts.cwd,
      stdin: opts.input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      clearEnv: opts.isolated === true,
      env: { ...(opts.isolated ? ISOLATED : INHERITED), ...opts.env },
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return failed(`${program} not found`);
    throw error;
  }
  const writing = opts.input === undefined ? Promise.resolve() : feed(child, opts.input);
  const stdout = drain(child.stdout, opts.limitBytes ?? Infinity, () => kill(child));
  const stderr = drain(child.stderr, Infinity, () => {});
  // Backstop, should `timeout` itself not return: kill it well after its own deadline.
  let backstopFired = false;
  const backstop = limited
    ? setTimeout(() => {
      backstopFired = true;
      kill(child);
    }, opts.timeoutMs! + KILL_GRACE_MS + BACKSTOP_MS)
    : undefined;
  const [status] = await Promise.all([child.status, writing]);
  clearTimeout(backstop);
  const settle = setTimeout(() => {
    stdout.cancel();
    stderr.cancel();
  }, DRAIN_MS);
  const [out, err] = await Promise.all([stdout.bytes, stderr.bytes]);
  clearTimeout(settle);
  // timeout(1) exits 124 when it stopped git with SIGTERM, 137 when it had to SIGKILL it.
  const timedOut = limited && (backstopFired || status.code === 124 || status.code === 137);
  return result(status.success && !out.over, status.code, out.bytes, decode(err.bytes), {
    timedOut,
    overLimit: out.over,
  });
}

function result(
  ok: boolean,
  code: number,
  bytes: Uint8Array,
  stderr: string,
  flags: { timedOut: boolean; overLimit: boolean },
): GitResult {
  let text: string | undefined;
  return {
    ok,
    code,
    bytes,
    get stdout() {
      return text ??= decode(bytes);
    },
    stderr,
    ...flags,
  };
}

function failed(stderr: string): GitResult {
  return result(false, 127, new Uint8Array(), stderr, { timedOut: false, overLimit: false });
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (error) {
    // git may have exited already.
    if (!(error instanceof TypeError)) throw error;
  }
}

/** Writes `input` while git answers: a large batch would fill both pipes and deadlock. */
async function feed(child: Deno.ChildProcess, input: string): Promise<void> {
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  } catch (error) {
    // git stopped reading (it failed, or was stopped over the limit): its status says why.
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}

/**
 * Reads a stream to its end, until cancelled (then returns what it had), or
 * until it passes `limit` bytes (then calls `over` and stops reading).
 */
function drain(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  over: () => void,
): { bytes: Promise<{ bytes: Uint8Array; over: boolean }>; cancel(): void } {
  const reader = stream.getReader();
  const bytes = (async () => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > limit) {
          over();
          await reader.cancel().catch(() => {});
          return { bytes: new Uint8Array(), over: true };
        }
        chunks.push(value);
      }
    } catch {
      // Cancelled: keep what was read.
    }
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return { bytes: out, over: false };
  })();
  return { bytes, cancel: () => void reader.cancel().catch(() => {}) };
}

/**
 * The revision a local checkout represents: its HEAD commit, `(stateless+dirty)`
 * when the part of the work tree at `path` has changes (untracked files count:
 * they would be deployed), or `(stateless)` when git cannot tell. A failing
 * probe is never reported as "dirty".
 */
export async function provenance(path: string): Promise<string> {
  // Both at once: two read-only questions, one process latency instead of two.
  const [head, status] = await Promise.all([
    git(["-C", path, "rev-parse", "--verify", "HEAD^{commit}"]),
    git(["-C", path, "status", "--porcelain", "--untracked-files=normal", "--", "."]),
  ]);
  if (!head.ok || !status.ok) return STATELESS;
  return status.stdout.trim() === "" ? head.stdout.trim() : STATELESS_DIRTY;
}

/**
 * Where the checkout at `dir` is, for a build's stamp: its HEAD commit and
 * whether its work tree has changes. A failing git (none installed, not a
 * repository) gives an unknown commit, never a guess.
 */
export async function builtFrom(dir: string): Promise<BuiltFrom> {
  const [head, status] = await Promise.all([
    git(["-C", dir, "rev-parse", "--verify", "HEAD^{commit}"]),
    git(["-C", dir, "status", "--porcelain", "--untracked-files=normal"]),
  ]);
  if (!head.ok || !status.ok) return { commit: null, dirty: false };
  return { commit: head.stdout.trim(), dirty: status.stdout.trim() !== "" };
}
