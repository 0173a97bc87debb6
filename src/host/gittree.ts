/**
 * Reads a commit of a (bare) git repository into a {@link RepoTree} straight
 * from its objects, with the same entries {@link readRepoTree} records for a
 * checkout of that commit: the agent judges and deploys the desired tree from
 * its mirror without a work tree that a hostile commit could shape.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../errors.ts";
import { git } from "./git.ts";
import {
  compare,
  inGitDir,
  MAX_DEPTH,
  MAX_FILE_SIZE,
  PAYLOAD_ROOTS,
  type RepoTree,
  type TreeEntry,
  TreeWalk,
} from "../tree.ts";

/** Longest symbolic link target read; Linux refuses longer ones (PATH_MAX). */
const MAX_LINK_TARGET = 4096;
/** Links followed while resolving one path, as the kernel's ELOOP limit. */
const MAX_LINK_HOPS = 40;
/**
 * Largest `ls-tree` listing read (about 400,000 paths): the whole commit is
 * listed, drafts included, and a hostile one must not exhaust memory.
 */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

/** One object of the commit's tree, by path. */
interface GitNode {
  kind: "tree" | "file" | "link" | "gitlink" | "other";
  oid: string;
  size: number;
}

/**
 * Options before every subcommand. ls-tree and cat-file --batch run no hooks,
 * filters or textconv; these also pin what the repository's own config could
 * make git run or contact (fsmonitor, hooks, pager, transports).
 */
function gitArgs(gitDir: string, args: string[]): string[] {
  return [
    "--no-pager",
    "--no-replace-objects",
    "--git-dir",
    gitDir,
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "protocol.allow=never",
    ...args,
  ];
}

/**
 * Reads `commit` of the repository at `gitDir`. Throws exit 66 when git
 * cannot read it (no such repository, commit or object). A listing over
 * `maxListingBytes` (default 64 MiB) is a truncated tree, which the loader refuses.
 */
export async function readGitTree(
  gitDir: string,
  commit: string,
  { maxListingBytes = MAX_LISTING_BYTES }: { maxListingBytes?: number } = {},
): Promise<RepoTree> {
  if (commit.startsWith("-") || commit === "") {
    throw readError(gitDir, `invalid revision "${commit}"`);
  }
  const listing = await runGit(
    gitDir,
    [
      "ls-tree",
      "-r",
      "-t",
      "-z",
      "-l",
      "--full-tree",
      "--end-of-options",
      commit,
    ],
    undefined,
    maxListingBytes,
  );
  // Far more paths than any layout may hold: refused as over the caps, unread.
  if (listing === null) return { entries: [], truncated: true };
  const nodes = parseLsTree(listing);
  const children = new Map<string, string[]>([["", []]]);
  for (const path of nodes.keys()) {
    const slash = path.lastIndexOf("/");
    const parent = slash < 0 ? "" : path.slice(0, slash);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent)!.push(path.slice(slash + 1));
  }
  for (const names of children.values()) names.sort(compare);

  // Every link's target, read up front: resolving a path may pass through any of them.
  const links = [...nodes.values()].filter((n) => n.kind === "link" && n.size <= MAX_LINK_TARGET);
  const targetBlobs = await catFiles(gitDir, links.map((n) => n.oid));
  const decoder = new TextDecoder();
  const targetOf = (node: GitNode): string | null => {
    const blob = targetBlobs.get(node.oid);
    return blob === undefined ? null : decoder.decode(blob);
  };

  const walked = new TreeWalk();
  const entries = walked.entries;
  /** Entries whose content is still to be read, by blob id. */
  const pending: { entry: Extract<TreeEntry, { type: "file" }>; oid: string }[] = [];

  const walk = (dirReal: string, rel: string, depth: number, stack: Set<string>) => {
    for (const name of children.get(dirReal) ?? []) {
      const path = walked.enter(rel, name, depth);
      if (path === null) {
        if (walked.stopped) return;
        continue;
      }
      const inPayload = depth > 0 || PAYLOAD_ROOTS.has(name);
      let real = dirReal === "" ? name : `${dirReal}/${name}`;
      let node = nodes.get(real)!;
      if (node.kind === "gitlink") {
        entries.push({ type: "refused", path, problem: "gitlink" });
        continue;
      }
      if (node.kind === "link") {
        const target = targetOf(node) ?? "";
        const resolved = resolve(real, nodes, targetOf);
        if ("problem" in resolved) {
          entries.push({ type: "badlink", path, target, problem: resolved.problem });
          continue;
        }
        real = resolved.real;
        if (real === "") {
          // A link to the repository root: always a directory above itself.
          entries.push({ type: "badlink", path, target, problem: "cycle" });
          continue;
        }
        node = nodes.get(real)!;
        if (node.kind === "tree" && stack.has(real)) {
          entries.push({ type: "badlink", path, target, problem: "cycle" });
          continue;
        }
      }
      if (node.kind === "tree") {
        if (depth + 1 >= MAX_DEPTH) {
          entries.push({ type: "refused", path, problem: "depth" });
          continue;
        }
        entries.push({ type: "dir", path });
        if (inPayload) walk(real, path, depth + 1, new Set([...stack, real]));
      } else if (node.kind === "file") {
        if (!walked.file()) return;
        // Git stores 0644 and 0755 only: every blob is world-readable once checked out.
        const entry = {
          type: "file" as const,
          path,
          size: node.size,
          content: null,
          worldReadable: true,
        };
        entries.push(entry);
        if (inPayload && node.size <= MAX_FILE_SIZE) {
          if (!walked.content(node.size)) return;
          pending.push({ entry, oid: node.oid });
        }
      } else {
        // A mode git itself would not write.
        entries.push({ type: "special", path });
      }
    }
  };
  walk("", "", 0, new Set([""]));

  // A tree the loader refuses as too big needs none of its content.
  if (walked.stopped) return walked.tree();
  const blobs = await catFiles(gitDir, pending.map((p) => p.oid));
  for (const { entry, oid } of pending) entry.content = blobs.get(oid)!;
  return walked.tree();
}

/**
 * Parses `ls-tree -r -t -z -l` output. A path that is not valid UTF-8 is
 * kept with U+FFFD in it (the loader refuses it); what lies below it is dropped.
 */
function parseLsTree(output: Uint8Array): Map<string, GitNode> {
  const nodes = new Map<string, GitNode>();
  const strict = new TextDecoder("utf-8", { fatal: true });
  const lossy = new TextDecoder();
  const undecodable: string[] = [];
  let start = 0;
  while (start < output.length) {
    let end = output.indexOf(0, start);
    if (end < 0) end = output.length;
    const record = output.subarray(start, end);
    start = end + 1;
    const tab = record.indexOf(0x09);
    if (tab < 0) continue;
    const [mode, , oid, size] = lossy.decode(record.subarray(0, tab)).trim().split(/ +/);
    const rawPath = record.subarray(tab + 1);
    let path: string;
    try {
      path = strict.decode(rawPath);
    } catch {
      path = lossy.decode(rawPath);
      // Keep the name readable in messages, and make sure the loader sees U+FFFD.
      if (!path.includes("\ufffd")) path += "\ufffd";
    }
    if (undecodable.some((bad) => path.startsWith(bad + "/"))) continue;
    if (path.includes("\ufffd")) {
      undecodable.push(path);
      // Recorded as a file: the walk turns the name into a refusal before looking at it.
      nodes.set(path, { kind: "other", oid, size: 0 });
      continue;
    }
    nodes.set(path, {
      kind: mode === "040000"
        ? "tree"
        : mode === "120000"
        ? "link"
        : mode === "160000"
        ? "gitlink"
        : mode.startsWith("100")
        ? "file"
        : "other",
      oid,
      size: size === "-" ? 0 : Number(size),
    });
  }
  return nodes;
}

/**
 * Resolves the link at `path` inside the tree, as `realpath` would in a
 * checkout: the resolved path, or why it does not resolve inside the tree.
 */
function resolve(
  path: string,
  nodes: ReadonlyMap<string, GitNode>,
  targetOf: (node: GitNode) => string | null,
): { real: string } | { problem: "outside" | "dangling" | "git" } {
  const current = path.split("/").slice(0, -1);
  const first = targetOf(nodes.get(path)!);
  if (first === null) return { problem: "dangling" };
  if (first.startsWith("/")) return { problem: "outside" };
  const pending = first.split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (current.length === 0) return { problem: "outside" };
      current.pop();
      continue;
    }
    const candidate = [...current, part].join("/");
    if (inGitDir(candidate)) return { problem: "git" };
    const node = nodes.get(candidate);
    if (node === undefined) return { problem: "dangling" };
    if (node.kind === "link") {
      if (++hops > MAX_LINK_HOPS) return { problem: "dangling" };
      const target = targetOf(node);
      if (target === null) return { problem: "dangling" };
      if (target.startsWith("/")) return { problem: "outside" };
      pending.unshift(...target.split("/"));
      continue;
    }
    const last = pending.every((p) => p === "" || p === ".");
    // A file with more path after it, or a submodule: nothing to resolve into.
    if (node.kind !== "tree" && !(node.kind === "file" && last)) return { problem: "dangling" };
    current.push(part);
  }
  return { real: current.join("/") };
}

/** The contents of `oids` (deduplicated) through one `git cat-file --batch`. */
async function catFiles(gitDir: string, oids: string[]): Promise<Map<string, Uint8Array>> {
  const unique = [...new Set(oids)];
  const blobs = new Map<string, Uint8Array>();
  if (unique.length === 0) return blobs;
  const output = await runGit(gitDir, ["cat-file", "--batch"], unique.join("\n") + "\n");
  if (output === null) throw readError(gitDir, "git cat-file: output over its limit");
  const decoder = new TextDecoder();
  let at = 0;
  for (const oid of unique) {
    const newline = output.indexOf(0x0a, at);
    if (newline < 0) throw readError(gitDir, `git cat-file: no answer for ${oid}`);
    const header = decoder.decode(output.subarray(at, newline)).split(" ");
    if (header[0] !== oid || header.length !== 3) {
      throw readError(gitDir, `git cat-file: object ${oid} is ${header.slice(1).join(" ")}`);
    }
    const size = Number(header[2]);
    blobs.set(oid, output.slice(newline + 1, newline + 1 + size));
    at = newline + 1 + size + 1;
  }
  return blobs;
}

/**
 * Runs git on `gitDir` through the one git runner, isolated from the caller's
 * environment: its stdout, `null` once stdout passes `limit` bytes (git is
 * then stopped), or exit 66 with git's first line of complaint.
 */
async function runGit(
  gitDir: string,
  args: string[],
  input?: string,
  limit = Infinity,
): Promise<Uint8Array | null> {
  const result = await git(gitArgs(gitDir, args), { isolated: true, input, limitBytes: limit });
  if (result.overLimit) return null;
  if (!result.ok) {
    const message = result.stderr.trim().split("\n")[0] || `exit status ${result.code}`;
    throw readError(gitDir, `git ${args[0]}: ${message}`);
  }
  return result.bytes;
}

function readError(gitDir: string, message: string): CoreOpsError {
  return new CoreOpsError(Exit.noInput, "source", [{
    message: `cannot read the repository: ${message}`,
    location: { file: gitDir },
  }]);
}
