/** Signed revisions, verified by real git and ssh-keygen with keys made for the test. */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { fetchIntoMirror } from "../../src/host/mirror.ts";
import { verifyCommit } from "../../src/host/signature.ts";
import { git } from "../helpers/repo.ts";

async function keypair(dir: string, name: string): Promise<{ key: string; pub: string }> {
  const key = `${dir}/${name}`;
  const out = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return { key, pub: (await Deno.readTextFile(`${key}.pub`)).trim() };
}

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "core-ops-sig-" });
  const trusted = await keypair(dir, "trusted");
  const stranger = await keypair(dir, "stranger");
  const signers = `${dir}/allowed_signers`;
  await Deno.writeTextFile(signers, `ops@example.invalid namespaces="git" ${trusted.pub}\n`);
  const work = `${dir}/work`;
  await Deno.mkdir(work);
  await git(work, "init", "--quiet", "--initial-branch=main");
  let n = 0;
  const commit = async (key: string | null) => {
    await Deno.writeTextFile(`${work}/f.txt`, `${n++}\n`);
    await git(work, "add", "-A");
    const sign = key === null
      ? ["-c", "commit.gpgSign=false"]
      : ["-c", "gpg.format=ssh", "-c", `user.signingkey=${key}`, "-c", "commit.gpgSign=true"];
    await git(work, ...sign, "commit", "--quiet", "-m", `commit ${n}`);
    return await git(work, "rev-parse", "HEAD");
  };
  return { dir, work, signers, trusted, stranger, commit, gitDir: `${work}/.git` };
}

function refused(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof CoreOpsError, String(error));
    assert.equal(error.exitCode, 65, error.message);
    assert.equal(error.failureClass, "validation");
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("a commit signed by an allowed key passes and names the signer", async () => {
  const s = await setup();
  const commit = await s.commit(s.trusted.key);
  const verified = await verifyCommit(s.gitDir, commit, s.signers);
  assert.equal(verified.principal, "ops@example.invalid");
  assert.match(verified.fingerprint, /^SHA256:/);
});

Deno.test("unsigned, or signed by a key not in the file: exit 65 with a clear message", async () => {
  const s = await setup();
  const unsigned = await s.commit(null);
  await assert.rejects(
    verifyCommit(s.gitDir, unsigned, s.signers),
    refused(new RegExp(`commit ${unsigned} is not signed$`)),
  );
  const strange = await s.commit(s.stranger.key);
  await assert.rejects(
    verifyCommit(s.gitDir, strange, s.signers),
    refused(new RegExp(`commit ${strange} is not signed by a key in the allowed signers`)),
  );
  // The trusted key, but only allowed for another namespace: still refused.
  await Deno.writeTextFile(
    s.signers,
    `ops@example.invalid namespaces="file" ${s.trusted.pub}\n`,
  );
  const good = await s.commit(s.trusted.key);
  await assert.rejects(verifyCommit(s.gitDir, good, s.signers), refused(/not signed by a key/));
});

Deno.test("a missing allowed-signers file is 66 naming it", async () => {
  const s = await setup();
  const commit = await s.commit(s.trusted.key);
  await assert.rejects(verifyCommit(s.gitDir, commit, `${s.dir}/nope`), (e: unknown) => {
    assert.ok(e instanceof CoreOpsError);
    assert.equal(e.exitCode, 66);
    assert.equal(e.diagnostics[0].location?.file, `${s.dir}/nope`);
    return true;
  });
});

Deno.test("signatures verify in the shallow mirror the agent fetched into", async () => {
  const s = await setup();
  await s.commit(s.trusted.key);
  const head = await s.commit(s.trusted.key);
  const fetched = await fetchIntoMirror({
    url: s.work,
    rev: "main",
    stateDir: `${s.dir}/state`,
    timeoutSeconds: 30,
    sshKey: null,
  });
  assert.equal(fetched.commit, head);
  const verified = await verifyCommit(fetched.mirror, fetched.commit, s.signers);
  assert.equal(verified.principal, "ops@example.invalid");
  const unsigned = await s.commit(null);
  const next = await fetchIntoMirror({
    url: s.work,
    rev: "main",
    stateDir: `${s.dir}/state`,
    timeoutSeconds: 30,
    sshKey: null,
  });
  assert.equal(next.commit, unsigned);
  await assert.rejects(verifyCommit(next.mirror, next.commit, s.signers), refused(/not signed$/));
});
