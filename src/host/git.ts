/**
 * Git, run as a program: provenance of a local checkout, and fetching one
 * revision of a remote repository.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";

/** Provenance when the work tree has uncommitted changes. */
export const STATELESS_DIRTY = "(stateless+dirty)";
/** Provenance when the source is not a git checkout, or git cannot tell. */
export const STATELESS = "(stateless)";

interface GitResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

async function git(args: string[], cwd?: string): Promise<GitResult> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Never prompt for credentials on an unattended host.
      env: { GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "/bin/false", LC_ALL: "C" },
    }).output();
    const decoder = new TextDecoder();
    return {
      ok: out.success,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: false, stdout: "", stderr: "git not found" };
    }
    throw error;
  }
}

/**
 * The revision a local checkout represents: its HEAD commit, `(stateless+dirty)`
 * when the part of the work tree at `path` has changes (untracked files count:
 * they would be deployed), or `(stateless)` when git cannot tell. A failing
 * probe is never reported as "dirty".
 */
export async function provenance(path: string): Promise<string> {
  const head = await git(["-C", path, "rev-parse", "--verify", "HEAD^{commit}"]);
  if (!head.ok) return STATELESS;
  const status = await git([
    "-C",
    path,
    "status",
    "--porcelain",
    "--untracked-files=normal",
    "--",
    ".",
  ]);
  if (!status.ok) return STATELESS;
  return status.stdout.trim() === "" ? head.stdout.trim() : STATELESS_DIRTY;
}

/** Removes credentials from a repository URL before it is shown or stored. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}

/**
 * Fetches `rev` (branch, tag or commit) of `url` into a new work tree at `dir`
 * and returns the commit it resolved to. Unreachable remotes are exit 75.
 */
export async function fetchRevision(url: string, rev: string, dir: string): Promise<string> {
  const init = await git(["init", "--quiet", dir]);
  if (!init.ok) throw gitFailure("git init", init);
  const fetched = await git([
    "-C",
    dir,
    "fetch",
    "--quiet",
    "--depth=1",
    "--no-tags",
    "--",
    url,
    rev,
  ]);
  if (!fetched.ok) {
    throw new CoreOpsError(Exit.tempFail, "transient", [{
      message: `cannot fetch ${rev} from ${redactUrl(url)}: ${
        fetched.stderr.trim().split("\n").at(-1)
      }`,
      hint: "check the repository URL, the ref and the network; the next run retries",
    }]);
  }
  const checkout = await git(["-C", dir, "checkout", "--quiet", "--detach", "FETCH_HEAD"]);
  if (!checkout.ok) throw gitFailure("git checkout", checkout);
  const head = await git(["-C", dir, "rev-parse", "HEAD"]);
  if (!head.ok) throw gitFailure("git rev-parse", head);
  return head.stdout.trim();
}

function gitFailure(what: string, result: GitResult): CoreOpsError {
  return new CoreOpsError(Exit.software, "internal", [{
    message: `${what} failed: ${result.stderr.trim()}`,
  }]);
}
