/**
 * Secrets in the layout (SPEC §1, §6): `secrets/<rel>.age` of a service and
 * of a host overlay, judged by the pure loader without any identity — the
 * name, the age header (binary or armored), the destination claims and the
 * config-root rules — and the age file and identity syntax themselves.
 */
import assert from "node:assert/strict";
import { ageFileProblem, decryptAge, parseIdentities } from "../../src/source/age_file.ts";
import { encrypt, encryptArmored, newIdentity } from "../helpers/age.ts";
import { assertRefused, bytesTree, load, repo } from "../helpers/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

const id = await newIdentity();
const armored = await encryptArmored("s3cret-value", id.recipient);
const binary = await encrypt("s3cret-value", id.recipient);
const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("a service's and a host's secrets deploy to the config root, 0600, still encrypted", () => {
  const state = load(bytesTree(
    repo({
      "services/web/secrets/db-password.age": armored,
      "services/web/secrets/tls/key.pem.age": armored,
      "hosts/h1/web/secrets/api-token.age": armored,
      "services/web/secrets/README.md": "how to encrypt\n",
    }),
    { "services/web/secrets/bin.env.age": binary },
  ));
  const secrets = state.artifacts.filter((a) => a.secret !== undefined);
  assert.deepEqual(secrets.map((a) => `${a.kind} ${a.destination} ${a.mode.toString(8)}`), [
    "config /etc/web/api-token 600",
    "config /etc/web/bin.env 600",
    "config /etc/web/db-password 600",
    "config /etc/web/tls/key.pem 600",
  ]);
  assert.ok(secrets.every((a) => a.secret?.decrypted === false && a.unit === null));
  assert.equal(secrets.find((a) => a.destination.endsWith("api-token"))?.origin, "host");
});

Deno.test("a host's secret replaces the service's of the same name", () => {
  const state = load(memoryTree(repo({
    "services/web/secrets/db-password.age": armored,
    "hosts/h1/web/secrets/db-password.age": armored + "\n",
  })));
  const secrets = state.artifacts.filter((a) => a.secret !== undefined);
  assert.deepEqual(secrets.map((a) => a.source), ["hosts/h1/web/secrets/db-password.age"]);
});

Deno.test("a file in secrets/ without .age, or not an age file, is refused naming it", () => {
  for (
    const [path, content, message] of [
      ["services/web/secrets/db-password", armored, /not named <name>\.age/],
      ["services/web/secrets/.age", armored, /not named <name>\.age/],
      ["services/web/secrets/plain.age", "password=hunter2\n", /not an age file/],
      ["hosts/h1/web/secrets/plain.age", "password=hunter2\n", /not an age file/],
      ["services/web/secrets/garbage.age", armored + "trailing garbage\n", /malformed ASCII armor/],
      ["services/web/secrets/cut.age", armored.slice(0, 100), /malformed ASCII armor/],
    ] as const
  ) {
    const error = assertRefused(memoryTree(repo({ [path]: content })), path, message);
    assert.equal(error.exitCode, 65);
    assert.ok(!error.message.includes("hunter2"), "content is never quoted");
  }
});

Deno.test("a corrupt or truncated binary age file is refused naming it", () => {
  const header = binary.indexOf(0x0a, binary.indexOf(bytes("---")[0], 30));
  for (
    const [name, content, message] of [
      ["no-payload.age", binary.subarray(0, header + 1), /truncated age file: the payload/],
      ["no-mac.age", binary.subarray(0, 40), /truncated age file: its header never ends/],
      ["version.age", bytes("age-encryption.org/v2\n"), /does not start with/],
      ["empty.age", new Uint8Array(), /does not start with/],
    ] as const
  ) {
    const path = `services/web/secrets/${name}`;
    assertRefused(bytesTree(repo({}), { [path]: content }), path, message);
  }
});

Deno.test("a secret and a config file for one destination are two sources", () => {
  assertRefused(
    memoryTree(repo({
      "services/web/config/db-password": "x\n",
      "services/web/secrets/db-password.age": armored,
    })),
    "services/web/secrets/db-password.age",
    /two sources for one destination \/etc\/web\/db-password: services\/web\/config\/db-password and services\/web\/secrets\/db-password\.age/,
  );
  assertRefused(
    memoryTree(repo({
      "services/web/secrets/db-password.age": armored,
      "hosts/h1/web/config/db-password": "x\n",
    })),
    "services/web/secrets/db-password.age",
    /two sources for one destination/,
  );
});

Deno.test("secrets ask for their config root like config files do", () => {
  const files = repo({
    "services/web/config/app.conf": null,
    "services/web/config/unrelated.txt": null,
    "services/web/service.yaml": "config-root: ssh\n",
    "services/web/secrets/authorized_keys.age": armored,
  });
  assertRefused(memoryTree(files), "services/web/service.yaml:1:14", /system root denied/);
  assertRefused(memoryTree(files), "services/web/service.yaml:1:14", /not allowed on this host/, {
    configRoots: { allow: ["web"] },
  });
});

Deno.test("the size and name rules of config files apply to secrets", () => {
  assertRefused(
    memoryTree(repo({ "services/web/secrets/a\u202eb.age": armored })),
    "services/web/secrets/a\\u{202E}b.age",
    /bidi override/,
  );
  const big = new Uint8Array(1024 * 1024 + 1);
  assertRefused(
    bytesTree(repo({}), { "services/web/secrets/big.age": big }),
    "services/web/secrets/big.age",
    /over 1 MiB|larger than/,
  );
});

Deno.test("ageFileProblem accepts what age writes, binary and armored", () => {
  assert.equal(ageFileProblem(binary), null);
  assert.equal(ageFileProblem(bytes(armored)), null);
  assert.equal(ageFileProblem(bytes("\r\n" + armored.replaceAll("\n", "\r\n"))), null);
});

Deno.test("decryptAge: the plaintext with a matching identity; other recipients and corruption told apart", async () => {
  const other = await newIdentity();
  const opened = await decryptAge(binary, [other.identity, id.identity]);
  assert.ok(opened.ok);
  assert.equal(new TextDecoder().decode(opened.plaintext), "s3cret-value");
  const foreign = await decryptAge(binary, [other.identity]);
  assert.deepEqual(foreign.ok ? null : foreign.problem, "recipients");
  const flipped = binary.slice();
  flipped[flipped.length - 1] ^= 1;
  const corrupt = await decryptAge(flipped, [id.identity]);
  assert.deepEqual(corrupt.ok ? null : corrupt.problem, "corrupt");
  const cut = await decryptAge(binary.subarray(0, binary.length - 3), [id.identity]);
  assert.deepEqual(cut.ok ? null : cut.problem, "corrupt");
});

Deno.test("parseIdentities: age-keygen's format; a bad line is named by number only", async () => {
  const other = (await newIdentity()).identity;
  const text = `# created: 2026-01-01\n# public key: ${id.recipient}\n${id.identity}\n\n${other}\n`;
  assert.deepEqual(parseIdentities(text), { ok: true, identities: [id.identity, other] });
  assert.deepEqual(parseIdentities(`${id.identity}\nAGE-SECRET-KEY-1short\n`), {
    ok: false,
    line: 2,
  });
  assert.deepEqual(parseIdentities(`${id.recipient}\n`), { ok: false, line: 1 });
  assert.deepEqual(parseIdentities("\n# nothing\n"), { ok: true, identities: [] });
});
