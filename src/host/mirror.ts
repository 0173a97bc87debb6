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
import { parseRev } from "./revspec.ts";

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
  /** What git takes for a commit: branch, tag, full ref, full or short id, `main~1` … */
  rev: string;
  /** Where the rev came from, for hints: `--rev`, `CORE_OPS_REV (environment)`, … */
  revFrom?: string;
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

/** Where every branch and tag goes when an abbreviated id must be found among them. */
const ALL_REFS = "refs/core-ops/all";
/** git's "whole history" depth (its INFINITE_DEPTH): unshallows, and is fine on a full mirror. */
const FULL_HISTORY = "--depth=2147483647";

/**
 * See {@link GitMirror.fetch}. A branch, tag or full id is one shallow fetch
 * of that ref; a walk from one (`main~2`) fetches just deep enough for it; an
 * abbreviated id fetches every branch and tag with their history, once, to
 * find it among them. A rev git would not take is 64 and never reaches the
 * remote; one that names nothing in the fetched history is 66.
 */
export async function fetchIntoMirror(request: FetchRequest): Promise<Fetched> {
  const { url, rev } = request;
  const from = request.revFrom ?? "--rev, CORE_OPS_REV or rev in agent.toml";
  const spec = parseRev(rev);
  if (spec.kind === "malformed") {
    throw new CoreOpsError(Exit.usage, "usage", [{
      message: `"${rev}" (${from}) is not something git takes for a commit: ${spec.why}`,
      hint: "give a branch, a tag, a full or abbreviated commit id, or e.g. main~1",
    }]);
  }
  const kind = repoUrlKind(url);
  const mirror = mirrorPath(request.stateDir);
  await ensureMirror(mirror);
  const env: Record<string, string> = {};
  if (kind === "ssh") env.GIT_SSH_COMMAND = sshCommand(request.sshKey, request.timeoutSeconds);
  const fetch = async (options: string[], refspecs: string[], shown: string) => {
    // The forced refspecs follow moved refs, force-pushes and re-pointed tags.
    const fetched = await git([
      "--git-dir",
      mirror,
      ...SAFE_CONFIG,
      "fetch",
      "--quiet",
      "--no-tags",
      "--no-write-fetch-head",
      "--no-recurse-submodules",
      ...options,
      "--",
      url,
      ...refspecs,
    ], { env, timeoutMs: request.timeoutSeconds * 1000 });
    if (!fetched.ok) throw fetchFailure(url, shown, fetched, request.timeoutSeconds, from);
  };
  const base = spec.kind === "relative" ? spec.base : spec;
  const walk = spec.kind === "relative" ? spec.walk : "";
  let start: string;
  if (base.kind === "abbrev") {
    await fetch(
      ["--prune", FULL_HISTORY],
      [`+refs/heads/*:${ALL_REFS}/heads/*`, `+refs/tags/*:${ALL_REFS}/tags/*`],
      rev,
    );
    start = await abbreviated(mirror, base.prefix, rev, url, from);
  } else {
    if (base.kind === "name" && walk === "") {
      // Most ticks find the ref where the last one left it: one round trip that lists the
      // ref (no pack is made, sent or indexed) instead of a fetch, which re-sends a shallow
      // commit even when the mirror has it (bench/, issue 15).
      const [tracked, remote] = await Promise.all([
        revParse(mirror, `${TRACKED_REF}^{commit}`),
        remoteCommit(url, base.name, env, request.timeoutSeconds, from),
      ]);
      if (tracked !== null && tracked === remote) return { commit: tracked, mirror };
    }
    // A full commit id is fetched as itself (protocol v2 serves any reachable
    // commit); a name the way `git fetch` resolves it (refs/<rev>,
    // refs/tags/<rev>, refs/heads/<rev>, …).
    const depth = spec.kind === "relative" ? spec.depth + 1 : 1;
    const name = base.kind === "commit" ? base.id : base.name;
    await fetch([`--depth=${depth}`], [`+${name}:${TRACKED_REF}`], name);
    start = TRACKED_REF;
  }
  const resolved = await revParse(mirror, `${start}${walk}^{commit}`);
  if (resolved === null) {
    if (walk !== "") {
      throw new CoreOpsError(Exit.noInput, "source", [{
        message: `${rev} (${from}) names no commit in the history of ${redactUrl(url)}`,
        hint: "the history is shorter, or that commit has fewer parents; git log shows it",
      }]);
    }
    throw new CoreOpsError(Exit.dataErr, "validation", [{
      message: `${rev} of ${redactUrl(url)} is not a commit (e.g. a tag of a tree or blob)`,
      hint: "track a branch, a tag of a commit, or a commit",
    }]);
  }
  if (start !== TRACKED_REF || walk !== "") {
    // The commit the rev named is what the mirror keeps as the tracked one.
    const pinned = await git([
      "--git-dir",
      mirror,
      ...SAFE_CONFIG,
      "update-ref",
      TRACKED_REF,
      resolved,
    ]);
    if (!pinned.ok) throw gitFailure("git update-ref", pinned);
  }
  return { commit: resolved, mirror };
}

/**
 * An abbreviated id among every branch and tag just fetched: a branch or tag
 * of that name wins (as in git), else the one commit of their history it
 * abbreviates — 66 when none does, 64 when it is ambiguous.
 */
async function abbreviated(
  mirror: string,
  prefix: string,
  rev: string,
  url: string,
  from: string,
): Promise<string> {
  for (const ref of [`${ALL_REFS}/heads/${prefix}`, `${ALL_REFS}/tags/${prefix}`]) {
    if (await revParse(mirror, ref) !== null) return ref;
  }
  const found = await git([
    "--git-dir",
    mirror,
    ...SAFE_CONFIG,
    "rev-parse",
    "--verify",
    "--end-of-options",
    `${prefix}^{commit}`,
  ]);
  if (!found.ok && /ambiguous/i.test(found.stderr)) {
    throw new CoreOpsError(Exit.usage, "usage", [{
      message: `${rev} (${from}) is ambiguous: more than one object of ${
        redactUrl(url)
      } starts with it`,
      hint: "give more characters of the commit id",
    }]);
  }
  const commit = found.ok ? found.stdout.trim() : null;
  // Objects of earlier fetches stay in the mirror: only a commit of the remote's refs counts.
  const reachable = commit === null ? "" : (await git([
    "--git-dir",
    mirror,
    ...SAFE_CONFIG,
    "for-each-ref",
    "--count=1",
    `--contains=${commit}`,
    ALL_REFS,
  ])).stdout.trim();
  if (commit === null || reachable === "") {
    throw new CoreOpsError(Exit.noInput, "source", [{
      message: `${rev} (${from}) names no commit of any branch or tag of ${redactUrl(url)}`,
      hint: "check the id against git log of the repository",
    }]);
  }
  return commit;
}

/**
 * git's rules for the ref a short name stands for, most specific first (its
 * ref_rev_parse_rules): `git fetch` takes the remote ref that matches the
 * earliest rule.
 */
const NAME_RULES = [
  (n: string) => n,
  (n: string) => `refs/${n}`,
  (n: string) => `refs/tags/${n}`,
  (n: string) => `refs/heads/${n}`,
  (n: string) => `refs/remotes/${n}`,
  (n: string) => `refs/remotes/${n}/HEAD`,
];

/**
 * The commit `git fetch` would take for `name` from the remote's ref list
 * (`git ls-remote` lines: id, tab, ref; a tag's commit on its `^{}` line), or
 * `null` when no listed ref matches. Pure.
 */
export function commitOfName(listing: string, name: string): string | null {
  const ids = new Map<string, string>();
  for (const line of listing.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) ids.set(line.slice(tab + 1), line.slice(0, tab));
  }
  for (const rule of NAME_RULES) {
    const ref = rule(name);
    const id = ids.get(`${ref}^{}`) ?? ids.get(ref);
    if (id !== undefined) return FULL_COMMIT.test(id) ? id : null;
  }
  return null;
}

/** The commit the remote's ref `name` points at (see {@link commitOfName}), or `null`. */
async function remoteCommit(
  url: string,
  name: string,
  env: Record<string, string>,
  timeoutSeconds: number,
  from: string,
): Promise<string | null> {
  // The name as a pattern: git lists the refs it names or that end in /<name>; and the same
  // with ^{}, for the commit an annotated tag points at.
  const listed = await git([...SAFE_CONFIG, "ls-remote", "--", url, name, `${name}^{}`], {
    env,
    timeoutMs: timeoutSeconds * 1000,
  });
  if (!listed.ok) throw fetchFailure(url, name, listed, timeoutSeconds, from);
  return commitOfName(listed.stdout, name);
}

/** The commit `expr` names in the mirror, or `null`. */
async function revParse(mirror: string, expr: string): Promise<string | null> {
  const result = await git([
    "--git-dir",
    mirror,
    ...SAFE_CONFIG,
    "rev-parse",
    "--verify",
    "--quiet",
    "--end-of-options",
    expr,
  ]);
  return result.ok ? result.stdout.trim() : null;
}

/** Creates the bare mirror once; an existing one is reused as it is. */
async function ensureMirror(mirror: string): Promise<void> {
  try {
    // Synchronous: git starts sooner on every tick (no wait for the runtime's thread pool).
    if (Deno.statSync(`${mirror}/HEAD`).isFile) return;
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
  from = "--rev, CORE_OPS_REV or rev in agent.toml",
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
    return new CoreOpsError(Exit.noInput, "source", [{
      message: FULL_COMMIT.test(rev)
        ? `commit ${rev} is not in ${shown}`
        : `${shown} has no branch or tag "${rev}"`,
      hint: `check ${from} against the remote's branches and tags`,
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
