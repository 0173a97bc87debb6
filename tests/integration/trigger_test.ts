/**
 * The trigger file (SPEC §8) on a real dir, `core-ops trigger`, and `core-ops webhook` as a real
 * process with its request on stdin.
 */
import assert from "node:assert/strict";
import { clearTrigger, setTrigger, triggerPath } from "../../src/host/trigger.ts";
import { cli } from "../helpers/cli.ts";
import { coreOpsArgs } from "../../tools/launch.ts";
import { testPermissions } from "../../tools/permissions.ts";

Deno.test("trigger: it sits beside the run lock", () => {
  assert.equal(triggerPath("/run/core-ops/lock"), "/run/core-ops/trigger");
  assert.equal(triggerPath("/tmp/x/y.lock"), "/tmp/x/trigger");
});

Deno.test("trigger: set is idempotent and creates its dir; clear of a missing one is fine", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = triggerPath(`${dir}/run/lock`);
    await setTrigger(path);
    await setTrigger(path);
    const stat = await Deno.stat(path);
    assert.ok(stat.isFile);
    assert.equal(stat.size, 0);
    assert.equal(stat.mode! & 0o777, 0o600);
    await clearTrigger(path);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    await clearTrigger(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trigger: `core-ops trigger` sets the file beside the lock and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await cli(["trigger", "--lock-path", `${dir}/run/lock`], { writable: [dir] });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /trigger set/);
    assert.ok((await Deno.stat(`${dir}/run/trigger`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trigger: outside the granted dirs it is refused with 77, naming --lock-path", async () => {
  // Not under /tmp, which the production set may write.
  const dir = await Deno.makeTempDir({ dir: "/var/tmp" });
  try {
    const result = await cli(["trigger", "--lock-path", `${dir}/run/lock`]);
    assert.equal(result.code, 77, result.stderr);
    assert.match(result.stderr, /--lock-path/);
    await assert.rejects(Deno.stat(`${dir}/run/trigger`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `core-ops webhook` as a real process with `request` on stdin. */
async function webhook(request: Uint8Array, env: Record<string, string>, writable: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: coreOpsArgs(testPermissions(writable), ["webhook"]),
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(request);
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("webhook: a real process answers a signed push on stdout, sets the trigger, logs no secret or body", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/secret`, "hunter2-webhook\n");
    await Deno.writeTextFile(`${dir}/agent.toml`, `rev = "main"\n`);
    const env = {
      CORE_OPS_CONFIG: `${dir}/agent.toml`,
      CORE_OPS_WEBHOOK_SECRET_FILE: `${dir}/secret`,
      CORE_OPS_LOCK_PATH: `${dir}/run/lock`,
    };
    const body = new TextEncoder().encode('{"ref":"refs/heads/main","marker":"BODY-MARKER"}');
    const head = `POST /hooks/core-ops HTTP/1.1\r\nContent-Length: ${body.length}\r\n` +
      // The secret is the file minus its trailing newline.
      `X-Gitlab-Token: hunter2-webhook\r\n\r\n`;
    const request = new Uint8Array([...new TextEncoder().encode(head), ...body]);
    const ok = await webhook(request, env, [dir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^HTTP\/1\.1 202 Accepted\r\n/);
    assert.ok((await Deno.stat(`${dir}/run/trigger`)).isFile);
    assert.match(ok.stderr, /^core-ops webhook: 202 /);
    for (const secret of ["hunter2", "BODY-MARKER"]) {
      assert.ok(!(ok.stdout + ok.stderr).includes(secret), secret);
    }

    await Deno.remove(`${dir}/run/trigger`);
    const bad = await webhook(
      new Uint8Array([...new TextEncoder().encode(head.replace("hunter2", "hunter3")), ...body]),
      env,
      [dir],
    );
    assert.equal(bad.code, 0, bad.stderr);
    assert.match(bad.stdout, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    await assert.rejects(Deno.stat(`${dir}/run/trigger`), Deno.errors.NotFound);

    // Without a secret nothing is served: 500 to the sender, the reason on stderr, exit 64.
    await Deno.writeTextFile(`${dir}/secret`, "\n");
    const empty = await webhook(request, env, [dir]);
    assert.equal(empty.code, 64, empty.stderr);
    assert.match(empty.stdout, /^HTTP\/1\.1 500 /);
    assert.match(empty.stderr, /webhook secret is empty/);
    await assert.rejects(Deno.stat(`${dir}/run/trigger`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
