/** `core-ops plan` end to end on real directories and real git repositories. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";
import {
  baseRepo,
  commitAll,
  type Files,
  git,
  manifestOf,
  sha256,
  writeFiles,
  writeRepo,
} from "../helpers/repo.ts";

async function targets(): Promise<{ root: string; flags: string[] }> {
  const root = await Deno.makeTempDir({ prefix: "core-ops-test-target-" });
  return {
    root,
    flags: [
      "--quadlet-dir",
      `${root}/q`,
      "--systemd-unit-dir",
      `${root}/s`,
      "--config-dir",
      `${root}/etc`,
      "--state-dir",
      `${root}/state`,
    ],
  };
}

Deno.test("plan --json has the contract's fields, in execution order", async () => {
  const repo = await writeRepo(baseRepo());
  const t = await targets();
  const r = await cli(["plan", "--source-repo", repo, "--host", "h1", "--json", ...t.flags]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), [
    "revision",
    "host",
    "services",
    "artifacts",
    "actions",
    "warnings",
    "drift",
    "units",
    "naming",
  ]);
  assert.equal(doc.revision, "(stateless)");
  assert.equal(doc.host, "h1");
  assert.deepEqual(doc.artifacts[2], {
    service: "web",
    kind: "container",
    source: "services/web/quadlet/web.container",
    destination: `${t.root}/q/web.container`,
    unit: "web.service",
    sha256: sha256(baseRepo()["services/web/quadlet/web.container"]),
    scope: "system",
  });
  assert.equal(doc.artifacts.find((a: { kind: string }) => a.kind === "config").unit, null);
  assert.deepEqual(doc.actions.at(-1), { op: "start", target: "echo.socket", reason: "new" });
  assert.equal(doc.actions.filter((a: { op: string }) => a.op === "reload").length, 1);
  assert.deepEqual(doc.drift, []);
  assert.ok("web.service" in doc.units);
  // A template has no state of its own; systemctl would refuse to show it.
  assert.ok(!("echo@.service" in doc.units));
});

Deno.test("plan --json is byte-identical across runs and across file creation order", async () => {
  const files = baseRepo();
  const reversed: Files = Object.fromEntries(Object.entries(files).reverse());
  const a = await writeRepo(files);
  const b = await writeRepo(reversed);
  const t = await targets();
  const first = await cli(["plan", a, "--host", "h1", "--json", ...t.flags]);
  const second = await cli(["plan", a, "--host", "h1", "--json", ...t.flags]);
  const other = await cli(["plan", b, "--host", "h1", "--json", ...t.flags]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, second.stdout);
  assert.equal(first.stdout, other.stdout);
});

Deno.test("plan changes nothing on the host and creates no target dirs", async () => {
  const repo = await writeRepo(baseRepo());
  const t = await targets();
  const r = await cli(["plan", repo, "--host", "h1", ...t.flags]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(t.root)), []);
});

Deno.test("human plan: a header, actions grouped by operation, warnings", async () => {
  const files = baseRepo();
  files["services/web/quadlet/notes.md"] = "x";
  const repo = await writeRepo(files);
  const t = await targets();
  const r = await cli(["plan", repo, "--host", "h1", ...t.flags]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "plan for host h1, revision (stateless): 2 services, 8 files");
  assert.ok(lines.includes("write (8)"));
  assert.ok(lines.includes("reload (1)"));
  assert.ok(lines.includes("start (4)"));
  assert.ok(lines.includes("warnings (1)"));
  assert.ok(r.stdout.includes("services/web/quadlet/notes.md: unknown file kind"));
});

Deno.test("an unowned file at a destination is a conflict (65) unless --adopt", async () => {
  const repo = await writeRepo(baseRepo());
  const t = await targets();
  await writeFiles(t.root, { "q/web.container": "[Container]\nImage=mine\n" });
  const r = await cli(["plan", repo, "--host", "h1", ...t.flags]);
  assert.equal(r.code, 65);
  assert.ok(
    r.stderr.includes(`${t.root}/q/web.container exists and is not owned by core-ops`),
    r.stderr,
  );
  assert.match(r.stderr, /--adopt/);
  const adopted = await cli(["plan", repo, "--host", "h1", "--adopt", "--json", ...t.flags]);
  assert.equal(adopted.code, 0, adopted.stderr);
  const doc = JSON.parse(adopted.stdout);
  assert.deepEqual(
    doc.actions.find((a: { target: string }) => a.target.endsWith("/q/web.container")).reason,
    "adopt",
  );
});

Deno.test("with a manifest and matching files, plan reports drift and nothing else to write", async () => {
  const repo = await writeRepo(baseRepo());
  const t = await targets();
  const first = JSON.parse(
    (await cli(["plan", repo, "--host", "h1", "--json", ...t.flags])).stdout,
  );
  // Lay the host out as apply would have: every file in place and owned.
  const files: Files = {};
  for (const a of first.artifacts) {
    files[a.destination.slice(t.root.length + 1)] = baseRepo()[a.source];
  }
  await writeFiles(t.root, files);
  const manifest = manifestOf<string>(first.artifacts);
  await writeFiles(t.root, { "state/manifest.json": JSON.stringify(manifest) });
  await Deno.writeTextFile(join(t.root, "etc/web/unrelated.txt"), "edited by hand\n");
  const r = await cli(["plan", repo, "--host", "h1", "--json", ...t.flags]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.drift, [{
    path: `${t.root}/etc/web/unrelated.txt`,
    unit: null,
    expected: sha256("not mounted\n"),
    actual: sha256("edited by hand\n"),
  }]);
  assert.deepEqual(doc.actions, [{
    op: "write",
    target: `${t.root}/etc/web/unrelated.txt`,
    reason: "drift",
  }]);
});

Deno.test("a corrupt manifest is an error with a recovery hint, never a silent reset", async () => {
  const repo = await writeRepo(baseRepo());
  const t = await targets();
  await writeFiles(t.root, { "state/manifest.json": "{not json" });
  const r = await cli(["plan", repo, "--host", "h1", ...t.flags]);
  assert.equal(r.code, 65);
  assert.ok(
    r.stderr.includes(`${t.root}/state/manifest.json: ownership manifest is corrupt`),
    r.stderr,
  );
  assert.match(r.stderr, /hint: /);
});

Deno.test("provenance: a clean checkout is its commit", async () => {
  const repo = await writeRepo(baseRepo());
  const sha = await commitAll(repo);
  const r = await cli(["plan", repo, "--host", "h1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).revision, sha);
});

Deno.test("provenance: modified or untracked files make it (stateless+dirty)", async () => {
  const repo = await writeRepo(baseRepo());
  await commitAll(repo);
  await Deno.writeTextFile(join(repo, "services/web/config/app.conf"), "changed\n");
  let r = await cli(["plan", repo, "--host", "h1", "--json"]);
  assert.equal(JSON.parse(r.stdout).revision, "(stateless+dirty)");
  await git(repo, "checkout", "--", ".");
  await Deno.writeTextFile(join(repo, "services/web/config/new.conf"), "new\n");
  r = await cli(["plan", repo, "--host", "h1", "--json"]);
  assert.equal(JSON.parse(r.stdout).revision, "(stateless+dirty)");
});

Deno.test("provenance: not a git repository is (stateless)", async () => {
  const repo = await writeRepo(baseRepo());
  const r = await cli(["plan", repo, "--host", "h1", "--json"]);
  assert.equal(JSON.parse(r.stdout).revision, "(stateless)");
});

Deno.test("provenance: a failing git probe is (stateless), never dirty", async () => {
  const repo = await writeRepo(baseRepo());
  await commitAll(repo);
  await Deno.writeTextFile(join(repo, "services/web/config/app.conf"), "changed\n");
  // A broken .git: git cannot tell anything about this tree.
  await Deno.remove(join(repo, ".git"), { recursive: true });
  await Deno.writeTextFile(join(repo, ".git"), "gitdir: /nonexistent\n");
  let r = await cli(["plan", repo, "--host", "h1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).revision, "(stateless)");
  // No git at all on PATH.
  const clean = await writeRepo(baseRepo());
  await commitAll(clean);
  r = await cli(["plan", clean, "--host", "h1", "--json"], { env: { PATH: "/nonexistent" } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).revision, "(stateless)");
});

Deno.test("--repo URL --rev REF fetches that revision (file://)", async () => {
  const repo = await writeRepo(baseRepo());
  const first = await commitAll(repo);
  await Deno.writeTextFile(join(repo, "services/web/config/app.conf"), "v2\n");
  await git(repo, "commit", "--quiet", "-am", "v2");
  await git(repo, "tag", "v1", first);
  const head = await git(repo, "rev-parse", "HEAD");
  for (const [rev, expected] of [["main", head], ["v1", first], [first, first]]) {
    const r = await cli([
      "plan",
      "--repo",
      `file://${repo}`,
      "--rev",
      rev,
      "--host",
      "h1",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).revision, expected, `rev ${rev}`);
  }
  const app = (rev: string) =>
    cli(["plan", "--repo", `file://${repo}`, "--rev", rev, "--host", "h1", "--json"]).then((r) =>
      JSON.parse(r.stdout).artifacts.find((a: { source: string }) => a.source.endsWith("app.conf"))
        .sha256
    );
  assert.equal(await app("v1"), sha256("greeting=hello\n"));
  assert.equal(await app("main"), sha256("v2\n"));
});

Deno.test("an unreachable repository exits 75", async () => {
  const r = await cli([
    "plan",
    "--repo",
    "file:///nonexistent/repo.git",
    "--rev",
    "main",
    "--host",
    "h1",
  ]);
  assert.equal(r.code, 75, r.stderr);
  assert.match(r.stderr, /cannot fetch main from file:\/\/\/nonexistent\/repo\.git/);
});

const GENERATOR_PRESENT = [
  "/usr/libexec/podman/quadlet",
  "/usr/lib/systemd/system-generators/podman-system-generator",
].some((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

Deno.test({
  name: "off-host, --podman-version picks the template naming, and the plan says which",
  ignore: GENERATOR_PRESENT, // on a host the generator names the units
  async fn() {
    const repo = await writeRepo({
      "services/a/quadlet/cache@.volume": "[Volume]\n",
      "services/a/quadlet/web@.container": "[Container]\nImage=x\nVolume=cache@%i.volume:/c\n",
    });
    const t = await targets();
    const unitOf = (doc: { artifacts: { source: string; unit: string }[] }) =>
      doc.artifacts.find((a) => a.source.endsWith("cache@.volume"))?.unit;

    const newest = await cli(["plan", repo, "--json", ...t.flags]);
    assert.equal(newest.code, 0, newest.stderr);
    const newestDoc = JSON.parse(newest.stdout);
    assert.equal(unitOf(newestDoc), "cache-volume@.service");
    assert.deepEqual(newestDoc.naming, {
      by: "built-in",
      podman_version: null,
      templates: "podman>=5.7",
    });

    const old = await cli(["plan", repo, "--json", "--podman-version", "5.4.2", ...t.flags]);
    assert.equal(old.code, 0, old.stderr);
    const oldDoc = JSON.parse(old.stdout);
    assert.equal(unitOf(oldDoc), "cache@-volume.service");
    assert.deepEqual(oldDoc.naming, {
      by: "built-in",
      podman_version: "5.4.2",
      templates: "podman<5.7",
    });

    const text = await cli(["plan", repo, "--podman-version", "5.4.2", ...t.flags]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout.split("\n")[1], /as Podman 5\.4\.2 names them .*foo@-volume\.service/);
    const validate = await cli(["validate", repo, "--podman-version", "5.7.0"]);
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, /as Podman 5\.7\.0 names them .*foo-volume@\.service/);
  },
});

Deno.test("--podman-version that is not a version is a usage error (64) on plan and validate", async () => {
  const repo = await writeRepo(baseRepo());
  const t = await targets();
  for (const args of [["plan", ...t.flags], ["validate"]]) {
    const r = await cli([...args, repo, "--host", "h1", "--podman-version", "latest"]);
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /--podman-version "latest" is not a Podman version/);
  }
});

Deno.test("a dependency cycle is refused (65) by plan and validate, naming units and files", async () => {
  const repo = await writeRepo({
    "services/a/quadlet/a.container": "[Unit]\nAfter=b.container\n[Container]\nImage=x\n",
    "services/a/quadlet/b.container": "[Unit]\nRequires=a.service\n[Container]\nImage=x\n",
  });
  const t = await targets();
  for (const args of [["plan", ...t.flags], ["validate"]]) {
    const r = await cli([...args, repo]);
    assert.equal(r.code, 65, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /dependency cycle: (a|b)\.service → (b|a)\.service → \1\.service/);
    assert.match(r.stderr, /services\/a\/quadlet\/a\.container/);
    assert.match(r.stderr, /services\/a\/quadlet\/b\.container/);
  }
});

Deno.test("one reading of a revision: a gitlink is refused (65) by plan, validate and apply --repo", async () => {
  const repo = await writeRepo(baseRepo());
  const t = await targets();
  try {
    const first = await commitAll(repo);
    await git(
      repo,
      "update-index",
      "--add",
      "--cacheinfo",
      `160000,${first},services/web/config/vendor`,
    );
    await git(repo, "commit", "--quiet", "-m", "a submodule");
    const source = ["--repo", `file://${repo}`, "--rev", "main", "--host", "h1"];
    for (const command of ["plan", "validate", "apply"]) {
      // validate reads no state dir: it takes the target dirs only.
      const flags = command === "validate" ? t.flags.slice(0, -2) : t.flags;
      const r = await cli([command, ...source, ...flags]);
      assert.equal(r.code, 65, `${command}: ${r.stderr}`);
      assert.match(r.stderr, /services\/web\/config\/vendor/, command);
      assert.match(r.stderr, /gitlink \(submodule\)/, command);
    }
    // Nothing was written by the refused apply.
    assert.equal(await Deno.stat(`${t.root}/q`).then(() => true, () => false), false);
  } finally {
    await Deno.remove(repo, { recursive: true });
    await Deno.remove(t.root, { recursive: true });
  }
});
