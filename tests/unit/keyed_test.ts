/**
 * The keyed digest of secrets (state/keyed.ts, SPEC §6): HMAC-SHA256 under a
 * random key of the state dir — never the plain sha256 a dictionary attack
 * could reverse — and the key's life in the state store; the identity file's
 * safety checks (host/identity.ts) on the real file system.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { CoreOpsError } from "../../src/errors.ts";
import { realFiles } from "../../src/host/files.ts";
import { sha256 } from "../../src/digest.ts";
import { readIdentityFile } from "../../src/host/identity.ts";
import {
  keyedDigest,
  newSecretKey,
  observeDigests,
  SECRET_KEY_BYTES,
} from "../../src/state/keyed.ts";
import { StateStore } from "../../src/state/store.ts";
import { FakeFiles } from "../helpers/fakes.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("keyedDigest is HMAC-SHA256 under the key: not the plain hash, different per key", () => {
  const key = newSecretKey();
  const other = newSecretKey();
  assert.equal(key.length, SECRET_KEY_BYTES);
  assert.notDeepEqual(key, other, "random keys");
  const digest = keyedDigest(key, text("hunter2"));
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.equal(digest, createHmac("sha256", key).update("hunter2").digest("hex"));
  assert.notEqual(digest, sha256(text("hunter2")));
  assert.notEqual(digest, keyedDigest(other, text("hunter2")));
  assert.equal(digest, keyedDigest(key, text("hunter2")), "deterministic under one key");
  assert.notEqual(digest, keyedDigest(key, text("hunter3")));
});

Deno.test("observeDigests: keyed for secret paths, sha256 for the rest, null where absent", async () => {
  const files = new FakeFiles();
  files.put("/etc/web/pw", "hunter2", 0o600);
  files.put("/etc/web/app.conf", "a=1\n");
  const key = newSecretKey();
  const digests = await observeDigests(files, ["/etc/web/pw", "/etc/web/app.conf", "/etc/gone"], {
    paths: new Set(["/etc/web/pw", "/etc/gone"]),
    key,
  });
  assert.deepEqual(Object.fromEntries(digests), {
    "/etc/web/pw": keyedDigest(key, text("hunter2")),
    "/etc/web/app.conf": sha256(text("a=1\n")),
    "/etc/gone": null,
  });
});

Deno.test("the state store's key: created 0600 once when asked, then the same; never when not", async () => {
  const files = new FakeFiles();
  const store = new StateStore("/var/lib/state", files);
  assert.equal(await store.secretKey(false), null);
  assert.equal(files.files.size, 0, "reading writes nothing");
  const key = await store.secretKey(true);
  assert.equal(key?.length, SECRET_KEY_BYTES);
  assert.equal(files.files.get("/var/lib/state/secret-key")?.mode, 0o600);
  assert.deepEqual(await new StateStore("/var/lib/state", files).secretKey(true), key);
  files.put("/var/lib/state/secret-key", "short", 0o600);
  await assert.rejects(
    () => store.secretKey(true),
    (e: unknown) => e instanceof CoreOpsError && e.blame === "host" && /damaged/.test(e.message),
  );
});

Deno.test("the identity file: root-owned 0400/0600 is read; missing is told apart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "age.key");
    assert.deepEqual(await readIdentityFile(path), { status: "missing" });
    await Deno.writeTextFile(path, "AGE-SECRET-KEY-1X\n", { mode: 0o600 });
    await Deno.chmod(path, 0o400);
    if (Deno.uid() !== 0) return; // ownership by root is only testable as root
    assert.deepEqual(await readIdentityFile(path), { status: "ok", text: "AGE-SECRET-KEY-1X\n" });
    await Deno.chmod(path, 0o600);
    assert.equal((await readIdentityFile(path)).status, "ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the identity file: group/world access, another owner or a directory are host faults naming setting, file and fix", async () => {
  if (Deno.uid() !== 0) return; // chown needs root
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "age.key");
    await Deno.writeTextFile(path, "AGE-SECRET-KEY-1SECRETCONTENT\n");
    for (
      const [setup, message] of [
        [() => Deno.chmod(path, 0o640), /is readable by group or others \(mode 0640\)/],
        [() => Deno.chmod(path, 0o604), /is readable by group or others \(mode 0604\)/],
        [() => Deno.chmod(path, 0o620), /is open to group or others \(mode 0620\)/],
        [async () => {
          await Deno.chmod(path, 0o400);
          await Deno.chown(path, 65534, 0);
        }, /is owned by uid 65534, not root/],
      ] as const
    ) {
      await setup();
      const error = await readIdentityFile(path).then(() => null, (e: unknown) => e);
      assert.ok(error instanceof CoreOpsError, String(message));
      assert.equal(error.blame, "host");
      assert.equal(error.exitCode, 1);
      assert.match(error.message, message);
      assert.match(error.message, /\(setting age-identity\)/);
      assert.ok(error.message.includes(path));
      assert.match(error.diagnostics[0].hint ?? "", /chmod 0400/);
      assert.ok(!error.message.includes("SECRETCONTENT"));
    }
    const error = await readIdentityFile(dir).then(() => null, (e: unknown) => e);
    assert.ok(error instanceof CoreOpsError && /not a regular file/.test(error.message));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The real files adapter opens its temp file with the mode (never wider), then chmods it.
Deno.test("a 0600 write ends 0600 even under umask 0", async () => {
  const dir = await Deno.makeTempDir();
  const old = Deno.umask(0);
  try {
    const path = join(dir, "pw");
    await realFiles.write(path, text("x"), 0o600);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    Deno.umask(old);
    await Deno.remove(dir, { recursive: true });
  }
});
