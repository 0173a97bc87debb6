/**
 * The git tree reader against real repositories made in temp dirs: the same
 * entries as the checkout reader, and the refusals only a git tree can hold.
 */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { basename, join } from "node:path";
import { CoreOpsError } from "../../src/errors.ts";
import { readGitTree } from "../../src/host/gittree.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { readRepoTree } from "../../src/host/checkout.ts";
import { MAX_FILE_SIZE, type RepoTree } from "../../src/tree.ts";
import { baseRepo, commitAll, git, writeRepo } from "../helpers/repo.ts";

/** Runs git in `dir` with `input` on stdin; returns stdout, trimmed. */
async function gitInput(dir: string, input: Uint8Array, ...args: string[]): Promise<string> {
  const child = new Deno.Command("git", {
    args: ["-C", dir, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

/** Adds a path of raw bytes (any name git can hold) to the index, with `content`. */
async function addRawPath(dir: string, mode: string, path: Uint8Array, content: string) {
  const oid = await gitInput(
    dir,
    new TextEncoder().encode(content),
    "hash-object",
    "-w",
    "--stdin",
  );
  const record = new Uint8Array([
    ...new TextEncoder().encode(`${mode} ${oid}\t`),
    ...path,
    0,
  ]);
  await gitInput(dir, record, "update-index", "--add", "-z", "--index-info");
}

async function commitIndex(dir: string): Promise<string> {
  await git(dir, "commit", "--quiet", "-m", "more");
  return await git(dir, "rev-parse", "HEAD");
}

/** Loads `tree` for host h1; the CoreOpsError when refused. */
function refusal(tree: RepoTree): CoreOpsError {
  try {
    loadDesiredState(tree, { host: "h1", dirs: DIRS });
  } catch (error) {
    if (error instanceof CoreOpsError) return error;
    throw error;
  }
  assert.fail("expected the loader to refuse the tree");
}

Deno.test("a commit read from a bare mirror equals the checkout read from disk", async () => {
  const root = await writeRepo({
    ...baseRepo(),
    "LICENSE": "text\n",
    "_drafts/a": "x",
    "docs/a.md": "x",
    "services/web/config/.env": "A=1\n",
    "services/web/config/sub/deep.conf": "deep\n",
    "services/web/quadlet/.gitkeep": "",
  });
  // Links of every kind the checkout reader resolves, or records as bad.
  await Deno.symlink("app.conf", join(root, "services/web/config/alias.conf"));
  await Deno.symlink("sub", join(root, "services/web/config/subdir"));
  await Deno.symlink("../../echo/systemd", join(root, "services/web/config/units"));
  await Deno.symlink("/etc/passwd", join(root, "services/web/config/passwd"));
  // Climbing out to a file that exists (to nowhere would be "dangling" on disk).
  const outside = `${root}-outside`;
  await Deno.writeTextFile(outside, "x");
  await Deno.symlink(`../../../../${basename(outside)}`, join(root, "services/web/config/climb"));
  await Deno.symlink("nowhere", join(root, "services/web/config/gone"));
  await Deno.symlink("..", join(root, "services/web/config/loop"));
  await Deno.symlink("a-link", join(root, "services/web/config/b-link"));
  await Deno.symlink("b-link", join(root, "services/web/config/a-link"));
  await Deno.chmod(join(root, "services/echo/systemd/echo.socket"), 0o755);
  const commit = await commitAll(root);
  const bare = `${root}.git`;
  await git(root, "clone", "--quiet", "--bare", root, bare);
  try {
    const fromDisk = await readRepoTree(root);
    const fromGit = await readGitTree(bare, commit);
    assert.deepEqual(fromGit, fromDisk);
    // The comparison covers every kind of entry.
    const types = new Set(fromGit.entries.map((e) => e.type === "badlink" ? e.problem : e.type));
    assert.deepEqual([...types].sort(), ["cycle", "dangling", "dir", "file", "outside"]);
    const units = fromGit.entries.find((e) => e.path === "services/web/config/units/echo.socket");
    assert.ok(units?.type === "file" && units.content !== null);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(bare, { recursive: true });
    await Deno.remove(outside);
  }
});

Deno.test("git tree: a symlink blob out of the tree is refused with 65 naming it", async () => {
  const root = await writeRepo(baseRepo());
  try {
    await commitAll(root);
    await addRawPath(
      root,
      "120000",
      new TextEncoder().encode("services/web/config/shadow"),
      "/etc/shadow",
    );
    await addRawPath(
      root,
      "120000",
      new TextEncoder().encode("services/web/config/git-config"),
      "../../../.git/config",
    );
    const commit = await commitIndex(root);
    const tree = await readGitTree(join(root, ".git"), commit);
    const shadow = tree.entries.find((e) => e.path === "services/web/config/shadow");
    assert.deepEqual(shadow, {
      type: "badlink",
      path: "services/web/config/shadow",
      target: "/etc/shadow",
      problem: "outside",
    });
    const error = refusal(tree);
    assert.equal(error.exitCode, 65);
    assert.match(error.message, /points outside the repository/);
    assert.match(error.message, /points into \.git/);
    const files = error.diagnostics.map((d) => d.location?.file).sort();
    assert.deepEqual(files, ["services/web/config/git-config", "services/web/config/shadow"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git tree: a gitlink (submodule) is refused with 65 naming it", async () => {
  const root = await writeRepo(baseRepo());
  try {
    const first = await commitAll(root);
    await git(
      root,
      "update-index",
      "--add",
      "--cacheinfo",
      `160000,${first},services/web/config/vendor`,
    );
    const commit = await commitIndex(root);
    const tree = await readGitTree(join(root, ".git"), commit);
    assert.deepEqual(tree.entries.find((e) => e.path === "services/web/config/vendor"), {
      type: "refused",
      path: "services/web/config/vendor",
      problem: "gitlink",
    });
    const error = refusal(tree);
    assert.equal(error.exitCode, 65);
    assert.equal(error.diagnostics[0].location?.file, "services/web/config/vendor");
    assert.match(error.message, /gitlink \(submodule\)/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git tree: names that are not UTF-8 or hold a newline are refused, shown escaped", async () => {
  const root = await writeRepo(baseRepo());
  try {
    await commitAll(root);
    const prefix = new TextEncoder().encode("services/web/config/");
    await addRawPath(root, "100644", new Uint8Array([...prefix, 0x62, 0xff, 0x61, 0x64]), "x");
    await addRawPath(root, "100644", new Uint8Array([...prefix, 0xc3, 0x28, 0x2f, 0x61]), "x");
    await addRawPath(root, "100644", new TextEncoder().encode("services/web/config/a\nb"), "x");
    const commit = await commitIndex(root);
    const tree = await readGitTree(join(root, ".git"), commit);
    const error = refusal(tree);
    assert.equal(error.exitCode, 65);
    const shown = error.diagnostics.map((d) => `${d.location?.file}: ${d.message}`).sort();
    assert.deepEqual(shown, [
      "services/web/config/\\u{FFFD}(: name is not valid UTF-8 (or holds U+FFFD)",
      "services/web/config/a\\nb: name holds the newline (U+000A) character",
      "services/web/config/b\\u{FFFD}ad: name is not valid UTF-8 (or holds U+FFFD)",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git tree: a blob over the size cap is not read and is refused", async () => {
  const root = await writeRepo(baseRepo());
  try {
    await Deno.writeFile(
      join(root, "services/web/config/big.bin"),
      new Uint8Array(MAX_FILE_SIZE + 1),
    );
    const commit = await commitAll(root);
    const tree = await readGitTree(join(root, ".git"), commit);
    const big = tree.entries.find((e) => e.path === "services/web/config/big.bin");
    assert.ok(big?.type === "file" && big.content === null && big.size === MAX_FILE_SIZE + 1);
    const error = refusal(tree);
    assert.equal(error.exitCode, 65);
    assert.match(error.message, /larger than 1 MiB/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git tree: an unknown commit or repository is exit 66, an option-like rev is refused", async () => {
  const root = await writeRepo(baseRepo());
  try {
    await commitAll(root);
    for (
      const [dir, rev] of [
        [join(root, ".git"), "0".repeat(40)],
        [join(root, "nope"), "HEAD"],
        [join(root, ".git"), "--output=/tmp/x"],
      ]
    ) {
      await assert.rejects(
        () => readGitTree(dir, rev),
        (e: unknown) => e instanceof CoreOpsError && e.exitCode === 66,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git tree: a listing over its byte limit is a truncated tree, refused as over the caps", async () => {
  const root = await writeRepo(baseRepo());
  try {
    const commit = await commitAll(root);
    const full = await readGitTree(join(root, ".git"), commit);
    assert.equal(full.truncated, false);
    const cut = await readGitTree(join(root, ".git"), commit, { maxListingBytes: 200 });
    assert.deepEqual(cut, { entries: [], truncated: true });
    assert.match(refusal(cut).message, /more than 10000 files/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git tree: one 1 MiB blob at 300 paths (tiny in git) is over the total size cap, unread", async () => {
  const root = await writeRepo(baseRepo());
  try {
    await commitAll(root);
    const oid = await gitInput(root, new Uint8Array(MAX_FILE_SIZE), "hash-object", "-w", "--stdin");
    const records = Array.from(
      { length: 300 },
      (_, i) => `100644 ${oid}\tservices/web/config/zeros/${i}\0`,
    ).join("");
    await gitInput(
      root,
      new TextEncoder().encode(records),
      "update-index",
      "--add",
      "-z",
      "--index-info",
    );
    const commit = await commitIndex(root);
    const started = performance.now();
    const tree = await readGitTree(join(root, ".git"), commit);
    assert.equal(tree.truncated, true);
    assert.equal(tree.truncatedBy, "size");
    assert.ok(tree.entries.every((e) => e.type !== "file" || e.content === null));
    assert.ok(performance.now() - started < 5000);
    assert.match(refusal(tree).message, /more than 256 MiB of files/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("git tree: git runs without the caller's environment (GIT_DIR, object dirs)", async () => {
  const root = await writeRepo(baseRepo());
  const decoy = await writeRepo({ "services/decoy/config/x": "x" });
  try {
    const commit = await commitAll(root);
    await commitAll(decoy);
    const expected = await readGitTree(join(root, ".git"), commit);
    Deno.env.set("GIT_OBJECT_DIRECTORY", join(decoy, ".git/objects"));
    Deno.env.set("GIT_DIR", join(decoy, ".git"));
    const tree = await readGitTree(join(root, ".git"), commit);
    assert.deepEqual(tree, expected);
  } finally {
    Deno.env.delete("GIT_OBJECT_DIRECTORY");
    Deno.env.delete("GIT_DIR");
    await Deno.remove(root, { recursive: true });
    await Deno.remove(decoy, { recursive: true });
  }
});
