/**
 * The persistent bare mirror a run fetches into (the state dir's
 * `mirror.git`, or a temporary one for `plan` and `validate`): fetch the
 * tracked ref shallowly, resolve it to a commit, and say why a fetch failed
 * in the terms an operator acts on (exit 75 temporary, 66 missing, 65 bad).
 *
 * Nothing from the remote runs here: no hooks, only the file, http(s) and ssh
 * transports, and credentials in a URL never reach a message, the mirror's
 * config or FETCH_HEAD (the URL is given on the command line each time).
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import { git, type GitResult, SAFE_CONFIG } from "./git.ts";
import { redactText, redactUrl, repoUrlKind, sshCommand } from "./remote.ts";

/** The agent's persistent bare mirror in the state dir. */
export function mirrorPath(stateDir: string): string {
  return `${stateDir}/mirror.git`;
}

/** The private ref the tracked revision is fetched into; nothing else is kept. */
export const TRACKED_REF = "refs/core-ops/tracked";

/** What {@link GitMirror.fetch} needs. */
export interface FetchRequest {
  /** Repository URL; may carry credentials, which never leave this module. */
  url: string;
  /** Branch, tag, full ref or full commit id. */
  rev: string;
  /** The mirror lives in `<stateDir>/mirror.git`. */
  stateDir: string;
  timeoutSeconds: number;
  sshKey: string | null;
}

/** The outcome of a fetch. */
export interface Fetched {
  /** Full commit id the ref resolved to. */
  commit: string;
  /** The bare mirror holding it. */
  mirror: string;
}

/** The agent's view of Git, faked in unit tests. */
export interface GitMirror {
  /**
   * Fetches `rev` into the mirror (creating it on first use) and resolves it
   * to a commit. Exit 75 for an unreachable remote, 66 for a repository or
   * ref the remote does not have or will not give, 64 for an unsupported URL.
   */
  fetch(request: FetchRequest): Promise<Fetched>;
}

/** The real mirror, running git. */
export const gitMirror: GitMirror = { fetch: fetchIntoMirror };

const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** See {@link GitMirror.fetch}. */
export async function fetchIntoMirror(request: FetchRequest): Promise<Fetched> {
  const { url, rev } = request;
  const kind = repoUrlKind(url);
  const mirror = mirrorPath(request.stateDir);
  await ensureMirror(mirror);
  const env: Record<string, string> = {};
  if (kind === "ssh") env.GIT_SSH_COMMAND = sshCommand(request.sshKey, request.timeoutSeconds);
  // A full commit id is fetched as itself (protocol v2 serves any reachable
  // commit); anything else is a ref name git resolves the way `git fetch`
  // does (refs/<rev>, refs/tags/<rev>, refs/heads/<rev>, …). The forced
  // refspec follows moved refs, force-pushes and re-pointed tags.
  const fetched = await git([
    "--git-dir",
    mirror,
    ...SAFE_CONFIG,
    "fetch",
    "--quiet",
    "--no-tags",
    "--no-write-fetch-head",
    "--no-recurse-submodules",
    "--depth=1",
    "--",
    url,
    `+${rev}:${TRACKED_REF}`,
  ], { env, timeoutMs: request.timeoutSeconds * 1000 });
  if (!fetched.ok) throw fetchFailure(url, rev, fetched, request.timeoutSeconds);
  const resolved = await git([
    "--git-dir",
    mirror,
    ...SAFE_CONFIG,
    "rev-parse",
    "--verify",
    "--end-of-options",
    `${TRACKED_REF}^{commit}`,
  ]);
  if (!resolved.ok) {
    throw new CoreOpsError(Exit.dataErr, "validation", [{
      message: `${rev} of ${redactUrl(url)} is not a commit (e.g. a tag of a tree or blob)`,
      hint: "track a branch, a tag of a commit, or a commit",
    }]);
  }
  return { commit: resolved.stdout.trim(), mirror };
}

/** Creates the bare mirror once; an existing one is reused as it is. */
async function ensureMirror(mirror: string): Promise<void> {
  try {
    if ((await Deno.stat(`${mirror}/HEAD`)).isFile) return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (await Deno.lstat(mirror).then(() => true, () => false)) {
    throw new CoreOpsError(Exit.software, "internal", [{
      message: "the git mirror has no HEAD: it is not a git repository",
      location: { file: mirror },
      hint: "remove it; the next run creates a new one",
    }]);
  }
  // Initialised beside its final path and renamed into place, so a run killed
  // half-way never leaves a half-made mirror that looks complete.
  await Deno.mkdir(mirror.slice(0, mirror.lastIndexOf("/")), { recursive: true, mode: 0o755 });
  const staging = `${mirror}.init-${Deno.pid}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  const init = await git(["init", "--quiet", "--bare", staging]);
  if (!init.ok) throw gitFailure("git init", init);
  await Deno.rename(staging, mirror);
}

/**
 * Turns a failed fetch into the error the operator needs. A remote that
 * answers but lacks the ref, or refuses the credentials or its host key, is
 * 66: retrying will not help. Everything else is transient (75), including a
 * repository path that is not there: a remote that is down, not yet mounted
 * or mid-migration looks the same, and a transient failure never counts
 * against a revision.
 */
export function fetchFailure(
  url: string,
  rev: string,
  result: { stderr: string; timedOut: boolean },
  timeoutSeconds: number,
): CoreOpsError {
  const shown = redactUrl(url);
  const said = redactText(result.stderr, url).trim().split("\n").filter((l) => l.trim() !== "")
    .find((l) => l.startsWith("fatal:")) ??
    redactText(result.stderr, url).trim().split("\n").at(-1) ??
    "";
  if (result.timedOut) {
    return new CoreOpsError(Exit.tempFail, "transient", [{
      message: `fetching ${rev} from ${shown} took longer than ${timeoutSeconds} s`,
      hint: "check the network and the remote, or raise fetch-timeout; the next run retries",
    }]);
  }
  const stderr = result.stderr;
  if (/couldn't find remote ref|no such remote ref|not our ref|unadvertised object/i.test(stderr)) {
    const abbreviated = /^[0-9a-f]{4,39}$/i.test(rev);
    return new CoreOpsError(Exit.noInput, "source", [{
      message: FULL_COMMIT.test(rev)
        ? `commit ${rev} is not in ${shown}`
        : `${shown} has no branch or tag "${rev}"`,
      hint: abbreviated
        ? "an abbreviated commit id cannot be fetched; give the full 40-character id"
        : "check rev (CORE_OPS_REV, --rev) against the remote's branches and tags",
    }]);
  }
  if (
    /Authentication failed|Permission denied \(|could not read (Username|Password)|terminal prompts disabled|requested URL returned error: 40[13]/i
      .test(stderr)
  ) {
    return new CoreOpsError(Exit.noInput, "source", [{
      message: `${shown} refused the credentials: ${said}`,
      hint: "check the credentials in the URL or the ssh-key setting",
    }]);
  }
  if (/Host key verification failed/i.test(stderr)) {
    return new CoreOpsError(Exit.noInput, "source", [{
      message: `the host key of ${shown} is not known: ${said}`,
      hint:
        "add the remote's host key to known_hosts next to ssh-key (or root's ~/.ssh/known_hosts)",
    }]);
  }
  if (/fsck error|fsck failed|bad object|object .* is corrupt/i.test(stderr)) {
    return new CoreOpsError(Exit.dataErr, "validation", [{
      message: `${shown} sent objects that fail git's consistency check: ${said}`,
    }]);
  }
  return new CoreOpsError(Exit.tempFail, "transient", [{
    message: `cannot fetch ${rev} from ${shown}: ${said}`,
    hint: "check the repository URL and the network; the next run retries",
  }]);
}

function gitFailure(what: string, result: GitResult): CoreOpsError {
  return new CoreOpsError(Exit.software, "internal", [{
    message: `${what} failed: ${result.stderr.trim()}`,
  }]);
}
