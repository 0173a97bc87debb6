/**
 * Git, run as a program: provenance of a local checkout; the agent's
 * persistent bare mirror (fetch the tracked ref, resolve it to a commit; the
 * tree is then read from the mirror by src/host/gittree.ts); and one-off
 * fetches for `plan --repo`.
 *
 * Nothing from the remote runs here: no hooks, only the file, http(s) and ssh
 * transports, and credentials in a URL never reach a message, the mirror's
 * config or FETCH_HEAD (the URL is given on the command line each time).
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";

/** Provenance when the work tree has uncommitted changes. */
export const STATELESS_DIRTY = "(stateless+dirty)";
/** Provenance when the source is not a git checkout, or git cannot tell. */
export const STATELESS = "(stateless)";

/** What one git invocation did. */
export interface GitResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** Set when the deadline passed and git was killed. */
  timedOut: boolean;
}

/** How to run one git invocation. */
export interface GitOptions {
  cwd?: string;
  /** Added to the environment (over the safe defaults). */
  env?: Record<string, string>;
  /** Kill git (and, through git's own cleanup, its transport helpers) after this long. */
  timeoutMs?: number;
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

/**
 * Runs git without a shell, never prompting, in the C locale (its messages are
 * matched). With `timeoutMs`, git runs under coreutils' `timeout`, which puts
 * git in a process group of its own and signals the whole group: git does not
 * take its transport helpers (git-remote-https, ssh) down when it is killed,
 * and a helper stuck on a silent server would outlive the run. Never throws
 * for a failing git.
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
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: {
        // Never prompt for credentials or host keys on an unattended host.
        GIT_TERMINAL_PROMPT: "0",
        GIT_ASKPASS: "/bin/false",
        SSH_ASKPASS: "/bin/false",
        LC_ALL: "C",
        // The environment is inherited (PATH, HOME for ~/.ssh, proxies: reading
        // it to filter would need more --allow-env), so the variables that
        // would inject git config or swap objects are emptied here.
        GIT_CONFIG_PARAMETERS: "",
        GIT_CONFIG_COUNT: "0",
        GIT_NO_REPLACE_OBJECTS: "1",
        GIT_NO_LAZY_FETCH: "1",
        ...opts.env,
      },
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: false, stdout: "", stderr: `${program} not found`, timedOut: false };
    }
    throw error;
  }
  const stdout = drain(child.stdout);
  const stderr = drain(child.stderr);
  // Backstop, should `timeout` itself not return: kill it well after its own deadline.
  let backstopFired = false;
  const backstop = limited
    ? setTimeout(() => {
      backstopFired = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, opts.timeoutMs! + KILL_GRACE_MS + BACKSTOP_MS)
    : undefined;
  const status = await child.status;
  clearTimeout(backstop);
  const settle = setTimeout(() => {
    stdout.cancel();
    stderr.cancel();
  }, DRAIN_MS);
  const [out, err] = await Promise.all([stdout.text, stderr.text]);
  clearTimeout(settle);
  // timeout(1) exits 124 when it stopped git with SIGTERM, 137 when it had to SIGKILL it.
  const timedOut = limited && (backstopFired || status.code === 124 || status.code === 137);
  return { ok: status.success, stdout: out, stderr: err, timedOut };
}

/** Reads a stream to its end, or until cancelled (then returns what it had). */
function drain(stream: ReadableStream<Uint8Array>): { text: Promise<string>; cancel(): void } {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  const text = (async () => {
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
    } catch {
      // Cancelled: keep what was read.
    }
    const decoder = new TextDecoder();
    return chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
  })();
  return { text, cancel: () => void reader.cancel().catch(() => {}) };
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

/** Removes credentials from a repository URL before it is shown or stored. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1***@");
}

/**
 * Removes the credentials of `url` from any text (git's stderr may quote the
 * URL, or parts of it, percent-decoded or not), and the userinfo of any other
 * URL in it.
 */
export function redactText(text: string, url: string): string {
  let out = text;
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*)@/i.exec(url)?.[1];
  if (userinfo !== undefined && userinfo !== "") {
    const secrets = new Set<string>([userinfo]);
    for (const part of userinfo.split(":")) if (part.length >= 3) secrets.add(part);
    for (const secret of [...secrets]) {
      try {
        secrets.add(decodeURIComponent(secret));
      } catch {
        // Not valid percent-encoding: the raw form is already covered.
      }
    }
    // Longest first, so a token is not left half-replaced by its user name.
    for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join("***");
    }
  }
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s'"]*@/gi, "$1***@");
}

/** The transports core-ops fetches over. */
export type RepoUrlKind = "file" | "http" | "ssh";

/**
 * Classifies a repository URL, or throws exit 64: `file://` URLs and absolute
 * paths, `http(s)://`, and `ssh://` or scp-like `user@host:path`.
 */
export function repoUrlKind(url: string): RepoUrlKind {
  if (url.startsWith("/") || /^file:\/\//i.test(url)) return "file";
  if (/^https?:\/\/[^/]/i.test(url)) return "http";
  if (/^ssh:\/\/[^/]/i.test(url)) return "ssh";
  if (
    /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]/.test(url) ||
    /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\//.test(url)
  ) {
    return "ssh";
  }
  throw new CoreOpsError(Exit.usage, "usage", [{
    message: `unsupported repository URL "${redactUrl(url)}"`,
    hint: "use file:///path, an absolute path, https://host/repo.git or ssh://user@host/repo.git",
  }]);
}

/** Quotes one word for the shell git runs `GIT_SSH_COMMAND` through. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The ssh command git uses for ssh remotes. Never interactive (BatchMode),
 * never trusting a new host key (StrictHostKeyChecking=yes). With a deploy
 * key, only that key is offered and host keys are looked up in `known_hosts`
 * in the key's directory, so the key and the hosts it may talk to are
 * provisioned together (e.g. both in /etc/core-ops by Ignition); without one,
 * ssh's own defaults (root's ~/.ssh) apply.
 */
export function sshCommand(sshKey: string | null, connectTimeoutSeconds: number): string {
  const words = [
    "ssh",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `ConnectTimeout=${connectTimeoutSeconds}`,
  ];
  if (sshKey !== null) {
    words.push(
      "-i",
      sshKey,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      `UserKnownHostsFile=${knownHostsPath(sshKey)}`,
    );
  }
  return words.map(shellQuote).join(" ");
}

/** The known_hosts file used with a deploy key: `known_hosts` next to the key. */
export function knownHostsPath(sshKey: string): string {
  return `${sshKey.slice(0, sshKey.lastIndexOf("/") + 1)}known_hosts`;
}

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
