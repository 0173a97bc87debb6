/** The run lock against real flock(2): other processes, flock(1), and a SIGKILLed holder. */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { acquireRunLock } from "../../src/host/lock.ts";

const HOLDER = new URL("../helpers/hold_lock.ts", import.meta.url).pathname;

async function tempLockPath(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "core-ops-lock-" });
  return `${dir}/run/core-ops/lock`;
}

/** Starts hold_lock.ts and waits until it holds the lock. */
async function startHolder(path: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-read", "--allow-write", HOLDER, path],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  assert.equal(first.value?.trim(), "locked");
  return { child, reader };
}

/** Runs hold_lock.ts expecting it to be refused; returns its exit code and output. */
async function tryFromAnotherProcess(path: string): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-read", "--allow-write", HOLDER, path],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, out: new TextDecoder().decode(out.stdout) };
}

function assertHeld(error: unknown): boolean {
  assert.ok(error instanceof CoreOpsError, String(error));
  assert.equal(error.exitCode, 75);
  assert.equal(error.failureClass, "transient");
  assert.match(error.message, /another core-ops run holds the run lock/);
  return true;
}

Deno.test("the lock creates its dir 0755, records the holder's pid, and is exclusive", async () => {
  const path = await tempLockPath();
  const lock = await acquireRunLock(path);
  const dirMode = (await Deno.stat(path.replace(/\/lock$/, ""))).mode! & 0o777;
  assert.equal(dirMode.toString(8), "755");
  assert.equal(await Deno.readTextFile(path), `${Deno.pid}\n`);
  // flock belongs to the open file: a second open in the same process is refused too.
  await assert.rejects(acquireRunLock(path), assertHeld);
  const other = await tryFromAnotherProcess(path);
  assert.equal(other.code, 75);
  assert.match(
    other.out,
    new RegExp(`holds the run lock \\(the lock file names pid ${Deno.pid}\\)`),
  );
  await lock.release();
  await lock.release();
  assert.equal(await Deno.readTextFile(path), "", "release clears the pid");
  const again = await acquireRunLock(path);
  await again.release();
});

Deno.test("a second process is refused at once while another holds the lock", async () => {
  const path = await tempLockPath();
  const { child, reader } = await startHolder(path);
  const started = performance.now();
  await assert.rejects(acquireRunLock(path), (e) => {
    assertHeld(e);
    assert.match((e as Error).message, new RegExp(`names pid ${child.pid}\\)`));
    return true;
  });
  assert.ok(performance.now() - started < 1000, "refusal must not wait");
  await child.stdin.close();
  assert.equal((await child.status).code, 0);
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  (await acquireRunLock(path)).release();
});

Deno.test("a holder killed with SIGKILL never blocks the next run", async () => {
  const path = await tempLockPath();
  const { child, reader } = await startHolder(path);
  child.kill("SIGKILL");
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  // Its pid is still in the file, but the kernel dropped its flock.
  assert.equal(await Deno.readTextFile(path), `${child.pid}\n`);
  const lock = await acquireRunLock(path);
  assert.equal(await Deno.readTextFile(path), `${Deno.pid}\n`);
  await lock.release();
});

Deno.test("the lock interoperates with flock(1) both ways", async () => {
  const path = await tempLockPath();
  await acquireRunLock(path).then((l) => l.release()); // creates the dir and file
  // flock(1) holding the lock: core-ops is refused, and names no stale pid.
  // tee echoes a line only once flock(1) holds the lock and has started it.
  const holder = new Deno.Command("flock", {
    args: ["--exclusive", path, "tee"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = holder.stdin.getWriter();
  await writer.write(new TextEncoder().encode("ready\n"));
  const stdout = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const chunk = await stdout.read();
    assert.ok(!chunk.done, `flock(1) ended early: ${seen}`);
    seen += chunk.value;
  }
  await assert.rejects(acquireRunLock(path), (e) => {
    assertHeld(e);
    assert.doesNotMatch((e as Error).message, /pid/);
    return true;
  });
  await writer.close();
  assert.equal((await holder.status).code, 0);
  stdout.releaseLock();
  await holder.stdout.cancel().catch(() => {});

  // core-ops holding the lock: flock(1) -n fails with its conflict exit code.
  const lock = await acquireRunLock(path);
  const probe = await new Deno.Command("flock", {
    args: ["--nonblock", "--conflict-exit-code", "42", path, "true"],
  }).output();
  assert.equal(probe.code, 42);
  await lock.release();
  const free = await new Deno.Command("flock", { args: ["--nonblock", path, "true"] }).output();
  assert.equal(free.code, 0);
});
