/**
 * The run's resolve step (src/run/resolve.ts) against fake sources: a
 * checkout is read as it is, a remote is fetched into the mirror or a
 * temporary one that is always removed, and a refused signature names the
 * commit it refused.
 */
import assert from "node:assert/strict";
import { CoreOpsError, Exit } from "../../src/errors.ts";
import { resolve, type SourcePorts, type SourceSpec } from "../../src/run/resolve.ts";
import { memoryTree } from "../helpers/repo.ts";

function ports(log: string[], options: { signed?: boolean; fetchFails?: boolean } = {}) {
  const fake: SourcePorts = {
    provenance: (path) => Promise.resolve(`commit-of-${path}`),
    readCheckout: (path) => {
      log.push(`read ${path}`);
      return Promise.resolve(memoryTree({}));
    },
    fetch: (request) => {
      log.push(`fetch ${request.rev} into ${request.stateDir}`);
      if (options.fetchFails) {
        return Promise.reject(new CoreOpsError(Exit.tempFail, "transient", [{ message: "down" }]));
      }
      return Promise.resolve({ commit: "c0ffee", mirror: `${request.stateDir}/mirror.git` });
    },
    verifySignature: (mirror, commit) => {
      log.push(`verify ${commit} in ${mirror}`);
      return options.signed === false
        ? Promise.reject(new CoreOpsError(Exit.dataErr, "validation", [{ message: "unsigned" }]))
        : Promise.resolve();
    },
    readCommit: (mirror, commit) => {
      log.push(`read ${commit} from ${mirror}`);
      return Promise.resolve(memoryTree({}));
    },
    makeTempDir: () => {
      log.push("mktemp");
      return Promise.resolve("/tmp/x");
    },
    removeDir: (path) => {
      log.push(`rm ${path}`);
      return Promise.resolve();
    },
  };
  return fake;
}

const REMOTE: SourceSpec = {
  kind: "remote",
  url: "https://user:secret@git.example/infra.git",
  rev: "main",
  into: "temp",
  stateDir: "/var/lib/core-ops",
  fetchTimeoutSeconds: 60,
  sshKey: null,
  allowedSigners: null,
};

Deno.test("resolve: a checkout is read once, its provenance is the revision", async () => {
  const log: string[] = [];
  const r = await resolve({ kind: "checkout", path: "/src" }, ports(log));
  assert.equal(r.revision, "commit-of-/src");
  assert.equal(r.repository, "/src");
  await r.read();
  assert.deepEqual(log, ["read /src"]);
});

Deno.test("resolve: plan's temporary mirror is read from and removed; credentials never shown", async () => {
  const log: string[] = [];
  const r = await resolve(REMOTE, ports(log));
  assert.equal(r.revision, "c0ffee");
  assert.equal(r.repository, "https://***@git.example/infra.git");
  await r.read();
  await r.dispose();
  assert.deepEqual(log, [
    "mktemp",
    "fetch main into /tmp/x",
    "read c0ffee from /tmp/x/mirror.git",
    "rm /tmp/x",
  ]);
});

Deno.test("resolve: a failed fetch into a temporary mirror removes it too", async () => {
  const log: string[] = [];
  await assert.rejects(resolve(REMOTE, ports(log, { fetchFails: true })), CoreOpsError);
  assert.deepEqual(log, ["mktemp", "fetch main into /tmp/x", "rm /tmp/x"]);
});

Deno.test("resolve: apply's mirror is the state dir's and stays; a refused signature names its commit", async () => {
  const log: string[] = [];
  const spec: SourceSpec = { ...REMOTE, into: "mirror", allowedSigners: "/etc/core-ops/signers" };
  const r = await resolve(spec, ports(log));
  await r.dispose();
  assert.deepEqual(log, [
    "fetch main into /var/lib/core-ops",
    "verify c0ffee in /var/lib/core-ops/mirror.git",
  ]);
  await assert.rejects(
    resolve(spec, ports([], { signed: false })),
    (error: unknown) =>
      error instanceof CoreOpsError && error.revision === "c0ffee" && error.blame === "revision",
  );
});
