/**
 * Operator control as real CLI processes (SPEC §10): pause and resume with
 * what status, status --json and explain last show; rollback's refusals;
 * explain by the repository file's name; --rev as git takes it (plan through
 * a temporary mirror); the original core-ops' removed variables.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";
import { baseRepo, commitAll, git, writeRepo } from "../helpers/repo.ts";

async function stateDir() {
  const dir = await Deno.makeTempDir({ prefix: "core-ops-operator-" });
  const flags = ["--state-dir", join(dir, "state"), "--lock-path", join(dir, "lock")];
  return { dir, state: join(dir, "state"), flags, writable: [dir] };
}

Deno.test("pause, pause again, status, explain last, resume, resume again", async () => {
  const s = await stateDir();
  const opts = { writable: s.writable, env: { SUDO_USER: "alice" } };
  const paused = await cli(["pause", "--reason", "incident 42", "--json", ...s.flags], opts);
  assert.equal(paused.code, 0, paused.stderr);
  const doc = JSON.parse(paused.stdout);
  assert.equal(doc.changed, true);
  assert.deepEqual(Object.keys(doc.paused).sort(), ["by", "reason", "revision", "since"]);
  assert.equal(doc.paused.by, "alice");
  assert.equal(doc.paused.reason, "incident 42");
  assert.equal(doc.paused.revision, null);

  const again = await cli(["pause", "--reason", "other", ...s.flags], opts);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^already paused: paused since .* by alice \(incident 42\)/);

  const status = await cli(["status", "--json", "--state-dir", s.state]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout).paused.reason, "incident 42", "the first pause stands");
  const text = await cli(["status", "--state-dir", s.state]);
  assert.match(text.stdout, /^PAUSED: {4}paused since .* by alice \(incident 42\)/m);
  const last = await cli(["explain", "last", "--state-dir", s.state]);
  assert.match(last.stdout, /^PAUSED: the agent is paused since/m);
  const lastJson = JSON.parse(
    (await cli(["explain", "last", "--json", "--state-dir", s.state]))
      .stdout,
  );
  assert.equal(lastJson.paused.by, "alice");

  const resumed = await cli(["resume", "--json", ...s.flags], opts);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(
    [JSON.parse(resumed.stdout).changed, JSON.parse(resumed.stdout).paused],
    [true, null],
  );
  const twice = await cli(["resume", ...s.flags], opts);
  assert.equal(twice.code, 0);
  assert.match(twice.stdout, /^not paused: .*nothing changed/);
  const after = JSON.parse((await cli(["status", "--json", "--state-dir", s.state])).stdout);
  assert.equal(after.paused, null);
  assert.deepEqual(after.generations, []);
});

Deno.test("pause: a bad --reason is 64; without a login the uid says who", async () => {
  const s = await stateDir();
  for (const reason of ["", "   ", "two\nlines", "x".repeat(501)]) {
    const r = await cli(["pause", "--reason", reason, ...s.flags], { writable: s.writable });
    assert.equal(r.code, 64, JSON.stringify(reason));
    assert.match(r.stderr, /--reason/);
  }
  const r = await cli(["pause", "--json", ...s.flags], { writable: s.writable });
  assert.equal(r.code, 0, r.stderr);
  assert.match(JSON.parse(r.stdout).paused.by, /^uid \d+$/);
  assert.equal(JSON.parse(r.stdout).paused.reason, null);
});

Deno.test("rollback: nothing kept is 66, a bad --to 64, an unknown generation 66 naming what is kept", async () => {
  const s = await stateDir();
  const run = (...args: string[]) =>
    cli(["rollback", ...args, ...s.flags, "--quadlet-dir", join(s.dir, "q")], {
      writable: s.writable,
    });
  const nothing = await run();
  assert.equal(nothing.code, 66, nothing.stderr);
  assert.match(nothing.stderr, /nothing to roll back to[^]*no generation is kept/);
  // Two kept generations, as apply leaves them.
  await Deno.mkdir(join(s.state, "generations"), { recursive: true });
  for (const [n, rev] of [[1, "a".repeat(40)], [2, "b".repeat(40)]] as const) {
    await Deno.writeTextFile(
      join(s.state, "generations", `${n}.json`),
      JSON.stringify({
        schema_version: 1,
        generation: n,
        revision: rev,
        applied: "2026-12-01T10:00:00.000Z",
        repository: null,
        ref: null,
        host: null,
        services: [],
        artifacts: [],
        warnings: [],
      }),
    );
  }
  const status = await cli(["status", "--state-dir", s.state]);
  assert.match(status.stdout, /^generations \(core-ops rollback --to N\):\n {2}2 {2}b{40} /m);
  const bad = await run("--to", "main~1");
  assert.equal(bad.code, 64, bad.stderr);
  assert.match(bad.stderr, /neither a generation number nor a commit id/);
  const unknown = await run("--to", "7", "--json");
  assert.equal(unknown.code, 66, unknown.stderr);
  assert.match(
    unknown.stderr,
    /generation 7 is not among the kept generations[^]*kept: 1 \(a{12}\), 2/,
  );
  assert.equal(unknown.stdout, "");
  const rev = await run("--to", "cccc");
  assert.equal(rev.code, 66);
  assert.match(rev.stderr, /revision cccc is not among the kept generations/);
});

Deno.test("explain by the repository file: its name or its path", async () => {
  const s = await stateDir();
  await Deno.mkdir(s.state, { recursive: true });
  const sha = "0".repeat(64);
  const file = (path: string, source: string, unit: string | null) => ({
    path,
    sha256: sha,
    service: "web",
    kind: unit === null ? "config" : "container",
    unit,
    revision: "r1",
    source,
  });
  await Deno.writeTextFile(
    join(s.state, "manifest.json"),
    JSON.stringify({
      schema_version: 1,
      files: [
        file("/q/web.container", "services/web/quadlet/web.container", "web.service"),
        file("/etc/web/app.conf", "services/web/config/app.conf", null),
      ],
    }),
  );
  for (const target of ["web.container", "services/web/quadlet/web.container"]) {
    const r = await cli(["explain", target, "--json", "--state-dir", s.state]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.kind, "source");
    assert.deepEqual(doc.files.map((f: { path: string }) => f.path), ["/q/web.container"]);
    assert.ok(["read", "systemd-unavailable"].includes(doc.live_state), doc.live_state);
    const text = await cli(["explain", target, "--state-dir", s.state]);
    assert.match(
      text.stdout,
      /^ {2}\/q\/web\.container {2}from services\/web\/quadlet\/web\.container @ r1$/m,
    );
    if (doc.live_state === "systemd-unavailable") {
      assert.match(text.stdout, /^live: unknown — systemd cannot be reached here/m);
    }
  }
  const none = await cli(["explain", "db.container", "--state-dir", s.state]);
  assert.equal(none.code, 64);
  assert.match(
    none.stderr,
    /a repository file \(web\.container, services\/web\/quadlet\/web\.container\)/,
  );
});

Deno.test("--rev as git takes it: HEAD~1, main~1, a short id; malformed 64, names nothing 66", async () => {
  const repo = await writeRepo(baseRepo());
  const first = await commitAll(repo);
  await Deno.writeTextFile(join(repo, "services/web/config/app.conf"), "greeting=bonjour\n");
  await git(repo, "commit", "--quiet", "-am", "second");
  const url = `file://${repo}`;
  const plan = (rev: string, env: Record<string, string> = {}) =>
    cli(["plan", "--repo", url, "--rev", rev, "--host", "h1", "--json"], { env });
  for (const rev of ["HEAD~1", "main~1", "main^", first.slice(0, 8)]) {
    const r = await plan(rev);
    assert.equal(r.code, 0, `${rev}: ${r.stderr}`);
    assert.equal(JSON.parse(r.stdout).revision, first, rev);
  }
  const cases: [string, number, RegExp][] = [
    ["main..HEAD", 64, /"main\.\.HEAD" \(--rev\) is not something git takes for a commit/],
    ["main@{1}", 64, /reflog/],
    ["main~5", 66, /main~5 \(--rev\) names no commit in the history/],
    ["nope", 66, /has no branch or tag "nope"[^]*check --rev against/],
    ["feedbeef", 66, /feedbeef \(--rev\) names no commit of any branch or tag/],
  ];
  for (const [rev, code, pattern] of cases) {
    const r = await plan(rev);
    assert.equal(r.code, code, `${rev}: ${r.stderr}`);
    assert.match(r.stderr, pattern, rev);
  }
  // The hint names the variable when the rev came from the environment.
  const fromEnv = await cli(["plan", "--repo", url, "--host", "h1"], {
    env: { CORE_OPS_REV: "main~9" },
  });
  assert.equal(fromEnv.code, 66, fromEnv.stderr);
  assert.match(fromEnv.stderr, /main~9 \(CORE_OPS_REV\) names no commit/);
});

Deno.test("the original core-ops' removed variables: a warning naming the replacement", async () => {
  const r = await cli(["status", "--json", "--state-dir", "/nonexistent/state"], {
    env: { CORE_OPS_STATE_FILE: "/var/lib/core-ops/status.json", CORE_OPS_AUDIT_DIR: "/var/log" },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: CORE_OPS_STATE_FILE is no longer read .*state-dir/);
  assert.match(r.stderr, /warning: CORE_OPS_AUDIT_DIR is no longer read .*journald/);
  JSON.parse(r.stdout);
});
