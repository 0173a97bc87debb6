/**
 * Secrets through the real CLI (SPEC §6), as an operator runs `validate` and
 * `plan`: the age header checked off-host, "not decrypted" said without an
 * identity, `(secret)` in `--diff`, every refusal's exit code — and the
 * planted plaintext in no output. (`apply` needs systemd: the e2e suite.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";
import { encrypt, encryptArmored, newIdentity } from "../helpers/age.ts";
import { writeRepo } from "../helpers/repo.ts";

const PLANTED = "PLANTED-otter-velvet-5309";
const id = await newIdentity();
const stranger = await newIdentity();

const WEB = "[Container]\nImage=localhost/busybox:latest\n" +
  "Volume=/etc/web/db-password:/run/secrets/db-password:ro\n[Install]\nWantedBy=multi-user.target\n";

interface Setup {
  repo: string;
  root: string;
  identity: string;
  flags: string[];
}

async function setup(secret: Uint8Array | string, identityMode = 0o400): Promise<Setup> {
  const repo = await writeRepo({
    "services/web/quadlet/web.container": WEB,
    "services/web/config/app.conf": "greeting=hello\n",
  });
  await Deno.mkdir(join(repo, "services/web/secrets"));
  const path = join(repo, "services/web/secrets/db-password.age");
  if (typeof secret === "string") await Deno.writeTextFile(path, secret);
  else await Deno.writeFile(path, secret);
  const root = await Deno.makeTempDir({ prefix: "core-ops-secrets-" });
  const identity = join(root, "age.key");
  await Deno.writeTextFile(identity, `# test host\n${id.identity}\n`);
  await Deno.chmod(identity, identityMode);
  const flags = [
    "--quadlet-dir",
    `${root}/q`,
    "--systemd-unit-dir",
    `${root}/s`,
    "--config-dir",
    `${root}/etc`,
    "--state-dir",
    `${root}/state`,
  ];
  return { repo, root, identity, flags };
}

async function cleanup(t: Setup): Promise<void> {
  await Deno.remove(t.repo, { recursive: true });
  await Deno.remove(t.root, { recursive: true });
}

function assertNoPlaintext(...outputs: string[]): void {
  for (const out of outputs) assert.ok(!out.includes(PLANTED), `plaintext in:\n${out}`);
}

Deno.test("validate checks the age header and says the secret was not decrypted", async () => {
  const t = await setup(await encrypt(PLANTED, id.recipient));
  try {
    const r = await cli(["validate", t.repo, ...t.flags.slice(0, 6)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /secrets: 1 age files, headers checked, not decrypted/);
    assertNoPlaintext(r.stdout, r.stderr);
  } finally {
    await cleanup(t);
  }
});

Deno.test("plan without the identity plans from the age file and says so", async () => {
  const t = await setup(await encryptArmored(PLANTED, id.recipient));
  try {
    const missing = join(t.root, "nowhere.key");
    const r = await cli(["plan", t.repo, ...t.flags, "--age-identity", missing, "--diff"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /1 secret not decrypted \(age identity .*nowhere\.key \(setting age-identity\) does not exist/,
    );
    assert.match(r.stdout, /\(secret\)/);
    const j = await cli(["plan", t.repo, ...t.flags, "--age-identity", missing, "--json"]);
    const doc = JSON.parse(j.stdout);
    const secret = doc.artifacts.find((a: { source: string }) => a.source.endsWith(".age"));
    assert.deepEqual(secret.secret, { decrypted: false });
    assert.equal(secret.destination, `${t.root}/etc/web/db-password`);
    assertNoPlaintext(r.stdout, r.stderr, j.stdout, j.stderr);
  } finally {
    await cleanup(t);
  }
});

Deno.test("plan with the identity decrypts in memory: --diff shows (secret), --json no plaintext", async () => {
  const t = await setup(await encrypt(PLANTED, id.recipient));
  try {
    const id = ["--age-identity", t.identity];
    const r = await cli(["plan", t.repo, ...t.flags, ...id, "--diff"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\+\+\+ b.*\/etc\/web\/db-password\n\(secret\)\n/);
    assert.match(r.stdout, /greeting=hello/, "config content is shown: the diff is real");
    assert.doesNotMatch(r.stdout, /not decrypted/);
    const j = await cli(["plan", t.repo, ...t.flags, ...id, "--json"]);
    const doc = JSON.parse(j.stdout);
    const secret = doc.artifacts.find((a: { source: string }) => a.source.endsWith(".age"));
    assert.deepEqual(secret.secret, { decrypted: true });
    assertNoPlaintext(r.stdout, r.stderr, j.stdout, j.stderr);
    // plan writes nothing: not even the digest key.
    assert.equal(await Deno.stat(`${t.root}/state`).then(() => true, () => false), false);
  } finally {
    await cleanup(t);
  }
});

Deno.test("plan with an identity readable by others does not use it, and says why", async () => {
  const t = await setup(await encrypt(PLANTED, id.recipient), 0o644);
  try {
    const r = await cli(["plan", t.repo, ...t.flags, "--age-identity", t.identity]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /not decrypted \(age identity .* is readable by group or others \(mode 0644\)/,
    );
  } finally {
    await cleanup(t);
  }
});

Deno.test("a secret for other recipients: plan with the identity exits 65 naming the file", async () => {
  const t = await setup(await encrypt(PLANTED, stranger.recipient));
  try {
    const r = await cli(["plan", t.repo, ...t.flags, "--age-identity", t.identity]);
    assert.equal(r.code, 65, r.stderr);
    assert.match(
      r.stderr,
      /services\/web\/secrets\/db-password\.age: secret encrypted for other recipients/,
    );
    assertNoPlaintext(r.stdout, r.stderr);
  } finally {
    await cleanup(t);
  }
});

Deno.test("a plain file, a corrupt age file or armor with trailing garbage in secrets/: 65 naming it", async () => {
  const armored = await encryptArmored(PLANTED, id.recipient);
  const binary = await encrypt(PLANTED, id.recipient);
  for (
    const [content, message] of [
      [`password=${PLANTED}\n`, /db-password\.age: not a valid age file: not an age file/],
      [armored + "garbage\n", /db-password\.age: not a valid age file: malformed ASCII armor/],
      [binary.subarray(0, binary.length - 40), /db-password\.age: /],
    ] as const
  ) {
    const t = await setup(content);
    try {
      for (const command of ["validate", "plan"]) {
        const r = await cli([command, t.repo, ...t.flags, "--age-identity", t.identity].slice(
          0,
          command === "validate" ? 8 : undefined,
        ));
        assert.equal(r.code, 65, `${command}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assertNoPlaintext(r.stdout, r.stderr);
      }
    } finally {
      await cleanup(t);
    }
  }
});
