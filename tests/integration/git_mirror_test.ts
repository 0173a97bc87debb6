/**
 * The agent's git mirror against real remotes: file:// and plain paths, git
 * http-backend on 127.0.0.1 (with and without credentials), a closed port and
 * a server that never answers.
 */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { fetchIntoMirror, type FetchRequest } from "../../src/host/mirror.ts";
import { readGitTree } from "../../src/host/gittree.ts";
import { closedPort, serveGitHttp, serveSilence } from "../helpers/git_servers.ts";
import { git } from "../helpers/repo.ts";

/** A work repo and the bare remote it pushes to. */
async function remote() {
  const root = await Deno.makeTempDir({ prefix: "core-ops-git-" });
  const work = `${root}/work`;
  const bare = `${root}/srv/r.git`;
  await Deno.mkdir(work);
  await git(root, "init", "--quiet", "--bare", bare);
  await git(work, "init", "--quiet", "--initial-branch=main");
  const commit = async (files: Record<string, string>, message = "change") => {
    for (const [path, content] of Object.entries(files)) {
      await Deno.mkdir(`${work}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(`${work}/${path}`, content);
    }
    await git(work, "add", "-A");
    await git(work, "commit", "--quiet", "-m", message);
    await git(work, "push", "--quiet", "--force", bare, "HEAD:refs/heads/main");
    return await git(work, "rev-parse", "HEAD");
  };
  return { root, work, bare, srv: `${root}/srv`, commit, state: `${root}/state` };
}

function request(url: string, rev: string, stateDir: string, timeoutSeconds = 30): FetchRequest {
  return { url, rev, stateDir, timeoutSeconds, sshKey: null };
}

function expectError(code: number, pattern: RegExp, not?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CoreOpsError, String(error));
    const text = error.diagnostics.map((d) => `${d.message}\n${d.hint ?? ""}`).join("\n");
    assert.equal(error.exitCode, code, text);
    assert.match(text, pattern);
    if (not !== undefined) assert.ok(!text.includes(not), `${not} leaked into: ${text}`);
    return true;
  };
}

Deno.test("file:// remote: one bare mirror, created once, follows the ref as it moves", async () => {
  const r = await remote();
  const first = await r.commit({ "a.txt": "1\n" });
  const got = await fetchIntoMirror(request(`file://${r.bare}`, "main", r.state));
  assert.equal(got.commit, first);
  assert.equal(got.mirror, `${r.state}/mirror.git`);
  assert.equal(await git(got.mirror, "rev-parse", "--is-bare-repository"), "true");
  assert.ok((await Deno.stat(`${got.mirror}/shallow`)).isFile, "fetched shallow");
  const inode = (await Deno.stat(got.mirror)).ino;

  const second = await r.commit({ "a.txt": "2\n" });
  const moved = await fetchIntoMirror(request(`file://${r.bare}`, "main", r.state));
  assert.equal(moved.commit, second);
  assert.equal((await Deno.stat(got.mirror)).ino, inode, "the mirror is reused, not re-cloned");
  // Only the private tracked ref is kept; no remote config, no FETCH_HEAD.
  assert.equal(
    await git(got.mirror, "for-each-ref", "--format=%(refname)"),
    "refs/core-ops/tracked",
  );
  assert.doesNotMatch(await Deno.readTextFile(`${got.mirror}/config`), /remote|url/);
  await assert.rejects(Deno.stat(`${got.mirror}/FETCH_HEAD`), Deno.errors.NotFound);

  // A plain path works the same; so does an unchanged ref (no-op fetch).
  assert.equal((await fetchIntoMirror(request(r.bare, "main", r.state))).commit, second);
});

Deno.test("force-push, tags (lightweight, annotated, moved) and full commit ids", async () => {
  const r = await remote();
  const old = await r.commit({ "a.txt": "1\n" });
  const url = `file://${r.bare}`;
  assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, old);

  // Rewrite history: an unrelated root commit force-pushed over main.
  await git(r.work, "checkout", "--quiet", "--orphan", "rewrite");
  const rewritten = await r.commit({ "b.txt": "new history\n" }, "rewrite");
  assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, rewritten);
  // And back again: main reset to the old commit the mirror already holds.
  await git(r.work, "push", "--quiet", "--force", r.bare, `${old}:refs/heads/main`);
  assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, old);
  await git(r.work, "push", "--quiet", "--force", r.bare, `${rewritten}:refs/heads/main`);
  assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, rewritten);

  await git(r.work, "tag", "light", old);
  await git(r.work, "tag", "-a", "-m", "release", "v1", old);
  await git(r.work, "push", "--quiet", r.bare, "light", "v1");
  assert.equal((await fetchIntoMirror(request(url, "light", r.state))).commit, old);
  assert.equal((await fetchIntoMirror(request(url, "v1", r.state))).commit, old);
  assert.equal((await fetchIntoMirror(request(url, "refs/tags/v1", r.state))).commit, old);
  // The tag is moved: the mirror follows.
  await git(r.work, "tag", "-f", "-a", "-m", "re-release", "v1", rewritten);
  await git(r.work, "push", "--quiet", "--force", r.bare, "v1");
  assert.equal((await fetchIntoMirror(request(url, "v1", r.state))).commit, rewritten);

  // A full commit id that is no branch tip (reachable from the tag "light").
  assert.equal((await fetchIntoMirror(request(url, old, r.state))).commit, old);
});

Deno.test("a ref or commit the reachable remote lacks is 66 naming it and where rev came from", async () => {
  const r = await remote();
  await r.commit({ "a.txt": "1\n" });
  const url = `file://${r.bare}`;
  await assert.rejects(
    fetchIntoMirror({ ...request(url, "nonexist", r.state), revFrom: "CORE_OPS_REV" }),
    expectError(66, /has no branch or tag "nonexist"[^]*check CORE_OPS_REV against/),
  );
  await assert.rejects(
    fetchIntoMirror(request(url, "0123abcd", r.state)),
    expectError(
      66,
      /0123abcd \(--rev, CORE_OPS_REV or rev in agent\.toml\) names no commit of any branch or tag/,
    ),
  );
  await assert.rejects(
    fetchIntoMirror(request(url, "0".repeat(40), r.state)),
    expectError(66, /commit 0{40} is not in file:\/\//),
  );
});

Deno.test("unreachable remotes are transient (75); a silent server hits fetch-timeout", async () => {
  const r = await remote();
  await assert.rejects(
    fetchIntoMirror(request(`http://127.0.0.1:${closedPort()}/r.git`, "main", r.state)),
    expectError(75, /cannot fetch main from http:\/\/127\.0\.0\.1:\d+\/r\.git: .*connect/i),
  );
  await assert.rejects(
    fetchIntoMirror(request(`file://${r.root}/missing.git`, "main", r.state)),
    expectError(75, /cannot fetch main/),
  );
  const silent = serveSilence();
  try {
    const started = performance.now();
    await assert.rejects(
      fetchIntoMirror(request(`${silent.base}/r.git`, "main", r.state, 2)),
      expectError(75, /took longer than 2 s/),
    );
    const took = performance.now() - started;
    assert.ok(took >= 2000 && took < 8000, `timeout took ${took} ms`);
    // git took its transport helper down with it: nothing is left talking to the server.
    const left = await new Deno.Command("pgrep", { args: ["-a", "-f", silent.base] }).output();
    assert.equal(left.code, 1, new TextDecoder().decode(left.stdout));
  } finally {
    await silent.close();
  }
});

Deno.test("http(s) remote through git http-backend; credentials never leak", async () => {
  const r = await remote();
  const head = await r.commit({ "services/web/quadlet/web.container": "[Container]\n" });
  const open = serveGitHttp(r.srv);
  try {
    assert.equal(
      (await fetchIntoMirror(request(`${open.base}/r.git`, "main", `${r.state}-open`))).commit,
      head,
    );
  } finally {
    await open.close();
  }

  const token = "tok3nS3cr3tValue";
  const guarded = serveGitHttp(r.srv, `deploy:${token}`);
  try {
    const url = guarded.base.replace("://", `://deploy:${token}@`) + "/r.git";
    assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, head);
    await assert.rejects(
      fetchIntoMirror(request(url, "nonexist", r.state)),
      expectError(66, /http:\/\/\*\*\*@127\.0\.0\.1:\d+\/r\.git has no branch or tag/, token),
    );
    const wrong = guarded.base.replace("://", `://deploy:wrong-${token}@`) + "/r.git";
    await assert.rejects(
      fetchIntoMirror(request(wrong, "main", r.state)),
      expectError(66, /refused the credentials/, token),
    );
    assert.ok(guarded.refused > 0, "the server did demand credentials");
    // Nothing in the state dir holds the token (config, FETCH_HEAD, logs, packs).
    for await (const file of walk(r.state)) {
      const bytes = await Deno.readFile(file);
      assert.ok(!new TextDecoder().decode(bytes).includes(token), `token in ${file}`);
    }
  } finally {
    await guarded.close();
  }
  // Unreachable with credentials: still redacted.
  await assert.rejects(
    fetchIntoMirror(
      request(`http://deploy:${token}@127.0.0.1:${closedPort()}/r.git`, "main", r.state),
    ),
    expectError(75, /http:\/\/\*\*\*@127\.0\.0\.1/, token),
  );
});

Deno.test("no hook in the mirror runs during a fetch", async () => {
  const r = await remote();
  await r.commit({ "a.txt": "1\n" });
  const url = `file://${r.bare}`;
  const first = await fetchIntoMirror(request(url, "main", r.state));
  const marker = `${r.root}/hook-ran`;
  for (const hook of ["reference-transaction", "post-checkout", "pre-auto-gc"]) {
    await Deno.writeTextFile(`${first.mirror}/hooks/${hook}`, `#!/bin/sh\ntouch ${marker}\n`, {
      mode: 0o755,
    });
  }
  await r.commit({ "a.txt": "2\n" });
  await fetchIntoMirror(request(url, "main", r.state));
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
});

Deno.test("the fetched commit's tree is read straight from the mirror, links resolved", async () => {
  const r = await remote();
  await Deno.mkdir(`${r.work}/services/web/config`, { recursive: true });
  await Deno.symlink("app.conf", `${r.work}/services/web/config/link.conf`);
  const head = await r.commit({ "services/web/config/app.conf": "x=1\n" });
  const fetched = await fetchIntoMirror(request(`file://${r.bare}`, "main", r.state));
  assert.equal(fetched.commit, head);
  const tree = await readGitTree(fetched.mirror, fetched.commit);
  const file = (path: string) => tree.entries.find((e) => e.path === path);
  const app = file("services/web/config/app.conf");
  assert.ok(app?.type === "file" && app.content !== null);
  assert.equal(new TextDecoder().decode(app.content), "x=1\n");
  const link = file("services/web/config/link.conf");
  assert.ok(link?.type === "file", `link resolved inside the repo: ${JSON.stringify(link)}`);
  assert.equal(new TextDecoder().decode(link.content!), "x=1\n");
  // Nothing was checked out: the mirror stays bare, with no index or work tree.
  await assert.rejects(Deno.stat(`${fetched.mirror}/index`), Deno.errors.NotFound);
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

Deno.test("git config injected through the environment does not reach the fetch", async () => {
  const r = await remote();
  const head = await r.commit({ "a.txt": "1\n" });
  const server = serveGitHttp(r.srv);
  // A proxy nothing listens on: honoured, it would make the fetch fail.
  const injected = {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.proxy",
    GIT_CONFIG_VALUE_0: `http://127.0.0.1:${closedPort()}`,
    GIT_CONFIG_PARAMETERS: `'http.proxy'='http://127.0.0.1:${closedPort()}'`,
  };
  try {
    for (const [name, value] of Object.entries(injected)) Deno.env.set(name, value);
    const fetched = await fetchIntoMirror(request(`${server.base}/r.git`, "main", r.state));
    assert.equal(fetched.commit, head);
  } finally {
    for (const name of Object.keys(injected)) Deno.env.delete(name);
    await server.close();
  }
});

Deno.test("--rev as git takes it: short ids, main~N, tag^, HEAD~1; malformed 64, nothing 66, never 75", async () => {
  const r = await remote();
  const c1 = await r.commit({ "a.txt": "1\n" });
  const c2 = await r.commit({ "a.txt": "2\n" });
  await git(r.work, "tag", "-a", "-m", "release", "v2", c2);
  await git(r.work, "push", "--quiet", r.bare, "v2");
  const c3 = await r.commit({ "a.txt": "3\n" });
  // A side branch whose history the main branch does not hold.
  await git(r.work, "checkout", "--quiet", "-b", "side", c1);
  const side = await r.commit({ "b.txt": "side\n" });
  await git(r.work, "push", "--quiet", r.bare, "HEAD:refs/heads/side");
  await git(r.work, "push", "--quiet", "--force", r.bare, `${c3}:refs/heads/main`);
  await git(r.bare, "symbolic-ref", "HEAD", "refs/heads/main");
  const url = `file://${r.bare}`;

  // The common case stays one shallow fetch of the branch.
  assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, c3);
  assert.equal(
    await git(`${r.state}/mirror.git`, "rev-list", "--count", "refs/core-ops/tracked"),
    "1",
  );
  const cases: [string, string][] = [
    ["main~1", c2],
    ["main~2", c1],
    ["main^", c2],
    ["main^^", c1],
    ["HEAD~1", c2],
    ["v2", c2],
    ["v2~1", c1],
    ["refs/heads/main~2", c1],
    [c2.slice(0, 7), c2],
    [side.slice(0, 10), side],
    [`${c3.slice(0, 8)}~2`, c1],
    [`${c3}~1`, c2],
    ["main", c3],
  ];
  for (const [rev, expected] of cases) {
    const got = await fetchIntoMirror(request(url, rev, r.state));
    assert.equal(got.commit, expected, rev);
    // The commit's tree is there to read.
    await readGitTree(got.mirror, got.commit);
  }
  // A fresh (temporary) mirror resolves them too.
  assert.equal((await fetchIntoMirror(request(url, "main~2", `${r.root}/fresh`))).commit, c1);

  const refused: [string, number, RegExp][] = [
    ["main~3", 66, /main~3 \(--rev\) names no commit in the history of file:/],
    ["main^2", 66, /names no commit/],
    ["main..side", 64, /"main\.\.side" \(--rev\) is not something git takes for a commit/],
    ["main@{1}", 64, /reflog/],
    ["~1", 64, /no branch, tag or commit before/],
    ["a:b", 64, /not something git takes/],
    ["feature/.hidden", 64, /starts with "\."/],
    ["nope~1", 66, /has no branch or tag "nope"[^]*check --rev/],
  ];
  for (const [rev, code, pattern] of refused) {
    await assert.rejects(
      fetchIntoMirror({ ...request(url, rev, r.state), revFrom: "--rev" }),
      expectError(code, pattern),
      rev,
    );
  }
});

Deno.test("a ref that did not move is answered by ls-remote: no pack asked for; a moved one is fetched", async () => {
  const r = await remote();
  const url = `file://${r.bare}`;
  const first = await r.commit({ "a.txt": "1\n" });
  await git(r.work, "tag", "-a", "-m", "release", "v1");
  await git(r.work, "push", "--quiet", r.bare, "v1");
  // The remote without its objects can still list its refs (packed, with the tag's commit),
  // but could make no pack.
  await git(r.bare, "pack-refs", "--all");
  const withoutObjects = async (body: () => Promise<void>) => {
    await Deno.rename(`${r.bare}/objects`, `${r.root}/objects`);
    await Deno.mkdir(`${r.bare}/objects`);
    try {
      await body();
    } finally {
      await Deno.remove(`${r.bare}/objects`, { recursive: true });
      await Deno.rename(`${r.root}/objects`, `${r.bare}/objects`);
    }
  };
  for (const rev of ["main", "v1"]) {
    assert.equal((await fetchIntoMirror(request(url, rev, r.state))).commit, first, rev);
    await withoutObjects(async () => {
      assert.equal((await fetchIntoMirror(request(url, rev, r.state))).commit, first, rev);
    });
  }
  // The branch moves: fetched (the remote's objects are needed again).
  const second = await r.commit({ "a.txt": "2\n" });
  await withoutObjects(async () => {
    await assert.rejects(fetchIntoMirror(request(url, "main", r.state)), CoreOpsError);
  });
  assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, second);
  // A tag and a branch of one name: git's choice, the tag — and then no fetch either.
  await git(r.work, "tag", "main", first);
  await git(r.work, "push", "--quiet", r.bare, "refs/tags/main");
  assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, first);
  await withoutObjects(async () => {
    assert.equal((await fetchIntoMirror(request(url, "main", r.state))).commit, first);
  });
});
