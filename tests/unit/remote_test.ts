/** Repository URLs (kinds, redaction, the ssh command) and the mirror's fetch failure classes. */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { fetchFailure } from "../../src/host/mirror.ts";
import {
  knownHostsPath,
  redactText,
  redactUrl,
  repoUrlKind,
  sshCommand,
} from "../../src/host/remote.ts";

Deno.test("repository URLs: file, http(s), ssh accepted; anything else is 64", () => {
  assert.equal(repoUrlKind("/srv/repo.git"), "file");
  assert.equal(repoUrlKind("file:///srv/repo.git"), "file");
  assert.equal(repoUrlKind("https://git.example/fleet.git"), "http");
  assert.equal(repoUrlKind("http://u:t@127.0.0.1:8080/r.git"), "http");
  assert.equal(repoUrlKind("ssh://git@git.example/fleet.git"), "ssh");
  assert.equal(repoUrlKind("git@git.example:fleet.git"), "ssh");
  for (
    const bad of ["ext::sh -c touch% /tmp/pwned", "git://git.example/r", "relative/path", "-u"]
  ) {
    assert.throws(() => repoUrlKind(bad), (e: unknown) => {
      assert.ok(e instanceof CoreOpsError);
      assert.equal(e.exitCode, 64);
      assert.match(e.message, /unsupported repository URL/);
      return true;
    }, bad);
  }
  assert.throws(
    () => repoUrlKind("gopher://u:s3cr3t@host/r"),
    (e: unknown) => e instanceof Error && !e.message.includes("s3cr3t"),
  );
});

Deno.test("credentials are removed from URLs and from any text quoting them", () => {
  assert.equal(redactUrl("https://u:tok@h/r.git"), "https://***@h/r.git");
  assert.equal(redactUrl("/srv/r.git"), "/srv/r.git");
  const url = "https://deploy:p%40ss%2Fword@git.example/r.git";
  const stderr = [
    "fatal: unable to access 'https://deploy:p%40ss%2Fword@git.example/r.git/': 403",
    "remote: bad password p@ss/word for deploy",
    "see also http://other:secret@elsewhere/",
  ].join("\n");
  const clean = redactText(stderr, url);
  for (const secret of ["p%40ss%2Fword", "p@ss/word", "other:secret"]) {
    assert.ok(!clean.includes(secret), `${secret} in ${clean}`);
  }
  assert.match(clean, /https:\/\/\*\*\*@git\.example\/r\.git/);
  assert.equal(redactText("no secrets here", "/srv/r.git"), "no secrets here");
});

Deno.test("ssh command: batch mode, strict host keys, the deploy key only, quoted", () => {
  assert.equal(
    sshCommand(null, 60),
    "'ssh' '-o' 'BatchMode=yes' '-o' 'StrictHostKeyChecking=yes' '-o' 'ConnectTimeout=60'",
  );
  const withKey = sshCommand("/etc/core-ops/it's key", 30);
  assert.match(withKey, /'-i' '\/etc\/core-ops\/it'\\''s key'/);
  assert.match(withKey, /'-o' 'IdentitiesOnly=yes'/);
  assert.match(withKey, /'-o' 'UserKnownHostsFile=\/etc\/core-ops\/known_hosts'/);
  assert.equal(knownHostsPath("/etc/core-ops/deploy_key"), "/etc/core-ops/known_hosts");
});

Deno.test("fetch failures: missing ref 66, auth and host key 66, the rest transient 75", () => {
  const url = "https://u:tok@h/r.git";
  const cases: [string, string, number, RegExp][] = [
    ["main", "fatal: couldn't find remote ref main\n", 66, /has no branch or tag "main"/],
    [
      "v9",
      "fatal: couldn't find remote ref v9\n",
      66,
      /check --rev, CORE_OPS_REV or rev in agent\.toml against/,
    ],
    ["a".repeat(40), "fatal: remote error: upload-pack: not our ref aaaa\n", 66, /commit a{40}/],
    [
      "main",
      "fatal: Authentication failed for 'https://h/r.git/'\n",
      66,
      /refused the credentials/,
    ],
    ["main", "Host key verification failed.\nfatal: Could not read\n", 66, /host key/],
    [
      "main",
      "fatal: unable to access 'https://u:tok@h/r.git/': Could not resolve host: h\n",
      75,
      /cannot fetch main from https:\/\/\*\*\*@h\/r\.git: fatal: unable to access 'https:\/\/\*\*\*@h/,
    ],
    ["main", "fatal: '/x' does not appear to be a git repository\n", 75, /cannot fetch/],
  ];
  for (const [rev, stderr, code, pattern] of cases) {
    const error = fetchFailure(url, rev, { stderr, timedOut: false }, 60);
    assert.equal(error.exitCode, code, stderr);
    const text = error.diagnostics.map((d) => `${d.message} ${d.hint ?? ""}`).join("\n");
    assert.match(text, pattern);
    assert.ok(!text.includes("tok"), text);
  }
  const late = fetchFailure(url, "main", { stderr: "", timedOut: true }, 7);
  assert.equal(late.exitCode, 75);
  assert.match(late.message, /took longer than 7 s/);
});
