/** The adapter fakes fail like the real adapters, so pipeline tests built on them mean something. */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import {
  FakeGitMirror,
  FakeLocker,
  FakeSignatureVerifier,
  RecordingEventSink,
} from "../helpers/agent_fakes.ts";

const exitCode = (code: number) => (e: unknown) => e instanceof CoreOpsError && e.exitCode === code;

Deno.test("FakeLocker: a held lock refuses with 75 until released", async () => {
  const locker = new FakeLocker();
  const lock = await locker.acquire("/run/core-ops/lock");
  await assert.rejects(locker.acquire("/run/core-ops/lock"), exitCode(75));
  await lock.release();
  await (await locker.acquire("/run/core-ops/lock")).release();
  assert.deepEqual(locker.log, [
    "acquired /run/core-ops/lock",
    "refused /run/core-ops/lock",
    "released /run/core-ops/lock",
    "acquired /run/core-ops/lock",
    "released /run/core-ops/lock",
  ]);
});

Deno.test("FakeGitMirror: known refs resolve, unknown ones are 66, failNext throws once", async () => {
  const git = new FakeGitMirror();
  git.refs.set("main", "c1");
  const request = {
    url: "file:///r",
    rev: "main",
    stateDir: "/s",
    timeoutSeconds: 1,
    sshKey: null,
  };
  assert.deepEqual(await git.fetch(request), { commit: "c1", mirror: "/s/mirror.git" });
  await assert.rejects(git.fetch({ ...request, rev: "nope" }), exitCode(66));
  git.failNext = new CoreOpsError(75, "transient", [{ message: "unreachable" }]);
  await assert.rejects(git.fetch(request), exitCode(75));
  assert.equal((await git.fetch(request)).commit, "c1");
});

Deno.test("FakeSignatureVerifier and RecordingEventSink record and fail", async () => {
  const verifier = new FakeSignatureVerifier();
  verifier.signed.set("c1", { principal: "ops@x", fingerprint: "SHA256:x" });
  assert.equal((await verifier.verify("/m", "c1", "/a")).principal, "ops@x");
  await assert.rejects(verifier.verify("/m", "c2", "/a"), exitCode(65));
  assert.deepEqual(verifier.verified, ["c1", "c2"]);

  const sink = new RecordingEventSink();
  assert.equal(await sink.emit({ message: "m", fields: { CORE_OPS_STATUS: "noop" } }), "journal");
  sink.journald = false;
  assert.equal(await sink.emit({ message: "m", fields: {} }), "stderr");
  assert.equal(sink.events.length, 2);
});
