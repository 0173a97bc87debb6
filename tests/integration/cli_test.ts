/** The CLI as a process: exit codes (sysexits), usage errors, settings errors. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { builtFrom as gitBuiltFrom } from "../../src/host/git.ts";
import { formatVersion, VERSION } from "../../src/version.ts";
import { cli } from "../helpers/cli.ts";
import { baseRepo, writeRepo } from "../helpers/repo.ts";

Deno.test("--version from the checkout prints the version and the checkout's commit, exits 0", async () => {
  const checkout = new URL("../..", import.meta.url).pathname;
  const r = await cli(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  // Not stamped: git says where the checkout is (tests/integration/version_test.ts checks that).
  assert.equal(r.stdout, `${formatVersion(await gitBuiltFrom(checkout))}\n`);
  assert.match(
    r.stdout,
    new RegExp(`^${VERSION.replaceAll(".", "\\.")} \\(commit [0-9a-f]{40}(, dirty)?\\)\n$`),
  );
});

for (
  const [name, args] of [
    ["an unknown option", ["plan", "--bogus"]],
    ["an unknown command", ["deploy"]],
    ["an option without its value", ["plan", "--host"]],
    ["too many arguments", ["plan", "a", "b"]],
    ["--source-repo with --repo", [
      "plan",
      "--source-repo",
      "/tmp",
      "--repo",
      "file:///tmp/x",
      "--rev",
      "main",
    ]],
    ["--rev with --source-repo", ["plan", "--source-repo", "/tmp", "--rev", "main"]],
    ["no source at all", ["plan"]],
    ["--repo without --rev", ["plan", "--repo", "file:///tmp/x"]],
    ["a relative --quadlet-dir", ["plan", "--source-repo", "/tmp", "--quadlet-dir", "rel"]],
  ] as const
) {
  Deno.test(`usage error exits 64: ${name}`, async () => {
    const r = await cli([...args]);
    assert.equal(r.code, 64, r.stderr);
    assert.notEqual(r.stderr.trim(), "");
    assert.equal(r.stdout, "");
  });
}

Deno.test("a bad environment setting exits 64 naming the variable", async () => {
  const repo = await writeRepo(baseRepo());
  const r = await cli(["plan", "--source-repo", repo, "--host", "h1"], {
    env: { CORE_OPS_STATE_DIR: "state" },
  });
  assert.equal(r.code, 64);
  assert.match(r.stderr, /CORE_OPS_STATE_DIR \(environment\)/);
});

Deno.test("agent.toml with an unknown key exits 64 naming the file and line", async () => {
  const dir = await Deno.makeTempDir();
  const toml = join(dir, "agent.toml");
  await Deno.writeTextFile(toml, 'host = "h1"\nstatedir = "/x"\n');
  const r = await cli(["plan", "--source-repo", dir], { env: { CORE_OPS_CONFIG: toml } });
  assert.equal(r.code, 64);
  assert.ok(r.stderr.includes(`${toml}:2: unknown setting "statedir"`), r.stderr);
});

Deno.test("agent.toml settings are used when no flag or variable is set", async () => {
  const repo = await writeRepo(baseRepo());
  const dir = await Deno.makeTempDir();
  const toml = join(dir, "agent.toml");
  await Deno.writeTextFile(
    toml,
    `host = "h2"\nstate-dir = "${dir}/state"\nquadlet-dir = "${dir}/q"\n`,
  );
  const r = await cli(["plan", "--source-repo", repo, "--json"], {
    env: { CORE_OPS_CONFIG: toml },
  });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.host, "h2");
  assert.deepEqual(doc.services, ["echo"]);
});

Deno.test("an explicit agent config that does not exist exits 66", async () => {
  const r = await cli(["plan", "--source-repo", "/tmp"], {
    env: { CORE_OPS_CONFIG: "/nonexistent/agent.toml" },
  });
  assert.equal(r.code, 66);
  assert.match(r.stderr, /\/nonexistent\/agent\.toml: agent config not found/);
});

Deno.test("a missing source path exits 66 naming it", async () => {
  const r = await cli(["validate", "--source-repo", "/nonexistent/repo"]);
  assert.equal(r.code, 66);
  assert.match(r.stderr, /\/nonexistent\/repo: source path does not exist/);
});

Deno.test("a source path that is a file exits 66", async () => {
  const file = await Deno.makeTempFile();
  const r = await cli(["validate", file]);
  assert.equal(r.code, 66);
  assert.match(r.stderr, /not a directory/);
});

Deno.test("the positional source is the same as --source-repo", async () => {
  const repo = await writeRepo(baseRepo());
  const a = await cli(["validate", repo, "--host", "h1"]);
  const b = await cli(["validate", "--source-repo", repo, "--host", "h1"]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

Deno.test("validate without Podman's generator says the dry-run was skipped", async () => {
  const generators = [
    "/usr/libexec/podman/quadlet",
    "/usr/lib/systemd/system-generators/podman-system-generator",
  ];
  const present = await Promise.all(
    generators.map((p) => Deno.stat(p).then(() => true, () => false)),
  );
  const repo = await writeRepo(baseRepo());
  const r = await cli(["validate", repo, "--host", "h1"]);
  assert.equal(r.code, 0, r.stderr);
  if (present.some(Boolean)) assert.match(r.stdout, /generator ok: /);
  else {assert.match(
      r.stdout,
      /generator skipped: Podman's quadlet generator is not installed here/,
    );}
});

Deno.test("--help prints usage on stdout and exits 0", async () => {
  const r = await cli(["plan", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: core-ops plan \[options\] \[source\]/);
});
