/**
 * Reliability on the real test host (issue 10): the agent SIGKILLed at every
 * pause point of a run and recovered by the next run; journald down; a full
 * quadlet dir; a remote that dies; corrupt state; least privilege of the
 * release flags; and credentials that never leak.
 *
 * The armed runs use the package's runtime and code under faultPermissions()
 * (lib/faults.ts); every other run is the release launcher, as on a host.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PAUSE_POINTS, PAUSE_VARIABLE, type PausePoint } from "../../../src/host/faults.ts";
import { MESSAGE_ID } from "../../../src/host/journal.ts";
import { PRODUCTION } from "../../../tools/permissions.ts";
import { faultCoreOpsArgv, startPaused } from "../lib/faults.ts";
import { PACKAGE_ENV, packagedDenoArgv } from "../lib/packaged.ts";
import { GUEST_CORE_OPS, GUEST_PACKAGE_DIR } from "../lib/guest.ts";
import { describe, type Files, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { container, REPO } from "./fixtures.ts";

const QUADLETS = "/etc/containers/systemd";
const STATE = "/var/lib/core-ops";
const HAND = `${QUADLETS}/hand.volume`;
const AGENT_TOML = "/etc/core-ops/agent.toml";

/** Revision A: web (REV=A) with two config files, and a second container `extra`. */
function revisionA(): Files {
  return {
    "services/web/quadlet/web.container": container("ContainerName=web\nEnvironment=REV=A\n"),
    "services/web/config/app.conf": "rev=A\n",
    "services/web/config/old.conf": "only in A\n",
    "services/extra/quadlet/extra.container": container("ContainerName=extra\n"),
  };
}

/**
 * Revision B changes files and units: web's unit changes (restart), `api` is
 * new (start), app.conf changes, old.conf and the whole `extra` service go
 * (stop, reset-failed, remove).
 */
function revisionB(): Files {
  return {
    "services/web/quadlet/web.container": container("ContainerName=web\nEnvironment=REV=B\n"),
    "services/web/config/app.conf": "rev=B\n",
    "services/api/quadlet/api.container": container("ContainerName=api\n"),
  };
}

/** agent.toml for the file:// remote at REPO; short settle so the matrix stays fast. */
function agentToml(extra = ""): string {
  return `repo = "file://${REPO}"\nrev = "main"\nverify-settle = 1\nverify-timeout = 60\n${extra}`;
}

async function agent(t: ScenarioContext, code: number, args: string[] = []) {
  const result = await t.coreOps(["agent", ...args]);
  assert.equal(result.code, code, describe(["core-ops", "agent", ...args], result));
  return result;
}

async function statusJson(t: ScenarioContext): Promise<Record<string, unknown>> {
  return await t.coreOpsJson(["status", "--json"]);
}

/** sha256 and mtime of a path, to prove it was not touched. */
async function fingerprint(t: ScenarioContext, path: string): Promise<string> {
  const sum = (await t.ok(["sha256sum", path])).stdout.split(" ")[0];
  const stat = (await t.ok(["stat", "-c", "%Y.%y %i %a", path])).stdout.trim();
  return `${sum} ${stat}`;
}

/** sha256 of every file under `dir`, sorted by path. */
async function sums(t: ScenarioContext, dir: string): Promise<string> {
  const out = (await t.ok(["find", dir, "-type", "f", "-exec", "sha256sum", "{}", "+"])).stdout;
  return out.split("\n").filter((l) => l !== "").sort().join("\n");
}

/** Converges revision A with the agent and places an unowned quadlet next to its files. */
async function convergeA(t: ScenarioContext, tomlExtra = ""): Promise<string> {
  const a = await t.writeRepo(REPO, revisionA());
  await t.writeFile(AGENT_TOML, agentToml(tomlExtra));
  await agent(t, 0);
  await t.writeFile(HAND, "[Volume]\nLabel=placed-by=hand\n");
  const status = await statusJson(t);
  assert.equal(status.last_applied_revision, a);
  return a;
}

async function pushB(t: ScenarioContext): Promise<string> {
  return await t.writeRepo(REPO, revisionB(), { replace: true, message: "revision B" });
}

/** The manifest's files, each checked against the bytes on disk. */
async function assertManifestMatchesDisk(t: ScenarioContext): Promise<string[]> {
  const manifest = JSON.parse(await t.readFile(`${STATE}/manifest.json`)) as {
    files: { path: string; sha256: string }[];
  };
  for (const f of manifest.files) {
    const sum = (await t.ok(["sha256sum", f.path])).stdout.split(" ")[0];
    assert.equal(sum, f.sha256, `${f.path} on disk differs from the manifest`);
  }
  return manifest.files.map((f) => f.path).sort();
}

/** Everything that says the host is at revision B, and nothing else of A is left. */
async function assertAtB(t: ScenarioContext, b: string, hand: string): Promise<void> {
  const status = await statusJson(t);
  assert.equal(status.status, "success", JSON.stringify(status));
  assert.equal(status.last_applied_revision, b);
  assert.equal(status.interrupted_run, null, "an interrupted run is left in state.json");
  assert.deepEqual(status.drift, []);
  assert.equal(status.failure, null);
  assert.deepEqual(
    await assertManifestMatchesDisk(t),
    [`${QUADLETS}/api.container`, `${QUADLETS}/web.container`, "/etc/web/app.conf"].sort(),
  );
  assert.equal(await t.readFile("/etc/web/app.conf"), "rev=B\n");
  assert.equal(await t.exists("/etc/web/old.conf"), false, "old.conf of A is still there");
  assert.equal(await t.exists(`${QUADLETS}/extra.container`), false);
  // No temp file of an atomic write is left next to the targets.
  const listing = (await t.ok(["ls", "-A", QUADLETS, "/etc/web"])).stdout;
  assert.doesNotMatch(listing, /\.tmp$/m, listing);
  await t.assertUnit("web.service", { ActiveState: "active" });
  await t.assertUnit("api.service", { ActiveState: "active" });
  const extra = await t.unit("extra.service", ["ActiveState"]);
  assert.notEqual(extra.ActiveState, "active", "extra.service of A still runs");
  // The running web container is B's, not A's left running.
  const env =
    (await t.podman(["inspect", "web", "--format", "{{range .Config.Env}}{{println .}}{{end}}"]))
      .stdout;
  assert.match(env, /^REV=B$/m, `web runs without B's environment:\n${env}`);
  assert.equal(await fingerprint(t, HAND), hand, "the hand-placed quadlet changed");
  // The run lock is free: a crashed run never wedges the next one.
  await t.ok(["flock", "--nonblock", "/run/core-ops/lock", "true"]);
}

function killScenario(point: PausePoint): Scenario {
  return {
    name: `faults: SIGKILL at ${point}; the next agent run converges to B`,
    timeoutMs: 6 * 60_000,
    async run(t) {
      await convergeA(t);
      const hand = await fingerprint(t, HAND);
      const b = await pushB(t);
      const paused = await startPaused(t, point, ["agent"]);
      await paused.kill();
      if (point !== "after-lock" && point !== "after-fetch") {
        // The killed run had started changing the host, and said so in state.json.
        const state = JSON.parse(await t.readFile(`${STATE}/state.json`));
        assert.equal(state.status, "in_progress", JSON.stringify(state));
        assert.equal(state.in_progress?.revision, b);
      }
      const recovered = await agent(t, 0);
      await assertAtB(t, b, hand);
      // Converged: one more run changes nothing.
      const again = await agent(t, 0);
      const last = (await statusJson(t)).last_run as { outcome: string };
      assert.equal(last.outcome, "noop", `${again.stdout}\n(recovery said:\n${recovered.stdout})`);
    },
  };
}

/** The package's deno with the release flags running a script (for least-privilege probes). */
async function releaseScript(t: ScenarioContext, script: string) {
  const path = "/root/probe.ts";
  await t.writeFile(path, script);
  const argv = packagedDenoArgv(PRODUCTION, path);
  return { argv, result: await t.exec(argv, { env: { ...PACKAGE_ENV } }) };
}

/**
 * A smart-HTTP git server (git http-backend as CGI). Args: port, project root,
 * a file holding \`user:password\` for Basic auth (or \`-\` for none), and
 * \`die-mid-pack\` to send the first bytes of the pack and then exit, as a
 * remote that goes away in the middle of a fetch.
 */
const GIT_HTTP_SERVER = `const [port, root, authFile, mode] = Deno.args;
const expected = authFile === "-" ? null : "Basic " + btoa((await Deno.readTextFile(authFile)).trim());
Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() { console.log("listening"); } }, async (req) => {
  if (expected !== null && req.headers.get("authorization") !== expected) {
    return new Response("who are you\\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="git"' } });
  }
  const url = new URL(req.url);
  const body = new Uint8Array(await req.arrayBuffer());
  const child = new Deno.Command("git", {
    args: ["http-backend"],
    clearEnv: true,
    env: {
      GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: "1", PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1), REQUEST_METHOD: req.method, REMOTE_USER: "core",
      CONTENT_TYPE: req.headers.get("content-type") ?? "", CONTENT_LENGTH: String(body.length),
      HTTP_CONTENT_ENCODING: req.headers.get("content-encoding") ?? "",
      GIT_PROTOCOL: req.headers.get("git-protocol") ?? "", PATH: "/usr/bin:/bin",
    },
    stdin: "piped", stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(body);
  await writer.close();
  const out = new Uint8Array(await new Response(child.stdout).arrayBuffer());
  await child.status;
  let split = 0;
  while (split < out.length - 3 && !(out[split] === 13 && out[split + 1] === 10 && out[split + 2] === 13 && out[split + 3] === 10)) split++;
  const head = new TextDecoder().decode(out.slice(0, split));
  const headers = new Headers();
  let status = 200;
  for (const line of head.split("\\r\\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]);
    else headers.append(name, value);
  }
  const payload = out.slice(split + 4);
  const asks = new TextDecoder().decode(body);
  // The request for the pack itself (protocol v2 "command=fetch", or v0 "want"), not ls-refs.
  if (mode === "die-mid-pack" && (asks.includes("command=fetch") || asks.includes("0032want "))) {
    headers.delete("content-length");
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(payload.slice(0, 12));
        setTimeout(() => Deno.exit(0), 200);
      },
    });
    return new Response(stream, { status, headers });
  }
  return new Response(payload, { status, headers });
});
`;

async function startServer(t: ScenarioContext, unit: string, script: string, args: string[]) {
  const path = `/root/${unit}.ts`;
  await t.writeFile(path, script);
  await t.ok([
    "systemd-run",
    `--unit=${unit}`,
    "--collect",
    "--quiet",
    `--property=StandardOutput=file:/run/${unit}.out`,
    ...Object.entries(PACKAGE_ENV).map(([k, v]) => `--setenv=${k}=${v}`),
    `${GUEST_PACKAGE_DIR}/bin/deno`,
    "run",
    "--quiet",
    "--cached-only",
    "--no-remote",
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-run=git",
    path,
    ...args,
  ]);
  for (let i = 0; i < 150; i++) {
    if ((await t.exec(["cat", `/run/${unit}.out`])).stdout.includes("listening")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${unit} never started listening`);
}

/** Every place a secret could end up, as one text, with where each part came from. */
async function everythingWritten(t: ScenarioContext, outputs: string[]): Promise<string[]> {
  await t.exec(["journalctl", "--sync"]);
  const journal = (await t.ok(["journalctl", "--no-pager", "-o", "json"])).stdout;
  const stateDir = (await t.exec(["grep", "-r", "-a", "-l", "-F", "", STATE])).stdout;
  const files = stateDir.split("\n").filter((f) => f !== "");
  const parts = [`journal: ${journal}`, ...outputs.map((o, i) => `output ${i}: ${o}`)];
  for (const f of [...files, "/var/lib/core-ops/core-ops.prom"]) {
    const r = await t.exec(["cat", f]);
    parts.push(`${f}: ${r.stdout}`);
  }
  return parts;
}

function assertNoSecret(parts: string[], secrets: string[]) {
  for (const part of parts) {
    for (const secret of secrets) {
      const at = part.indexOf(secret);
      assert.equal(
        at,
        -1,
        `secret found in ${part.slice(0, part.indexOf(":"))}: …${
          part.slice(Math.max(0, at - 120), at + 60)
        }…`,
      );
    }
  }
}

/**
 * An error thrown half-way — from verification's polling, or from the state
 * store as it commits the run — is rolled back like any failed run, recorded
 * (no run left in progress), reported by one event, and never backs the
 * revision off: the next tick converges to B.
 */
function throwScenario(point: "mid-verify" | "manifest-write"): Scenario {
  return {
    name:
      `faults: an error thrown at ${point}: rolled back to A and recorded; the next run converges to B`,
    timeoutMs: 6 * 60_000,
    async run(t) {
      const a = await convergeA(t);
      const hand = await fingerprint(t, HAND);
      const b = await pushB(t);
      const argv = faultCoreOpsArgv(["agent"]);
      const thrown = await t.exec(argv, {
        env: { ...PACKAGE_ENV, [PAUSE_VARIABLE]: `throw:${point}` },
      });
      assert.match(thrown.stderr, new RegExp(`core-ops: fault at ${point}\n`), thrown.stderr);
      assert.equal(thrown.code, 70, describe(argv, thrown));
      // Rolled back: A's files and A's container.
      assert.equal(await t.readFile("/etc/web/app.conf"), "rev=A\n");
      assert.equal(await t.readFile("/etc/web/old.conf"), "only in A\n");
      assert.equal(await t.exists(`${QUADLETS}/api.container`), false);
      await t.assertUnit("web.service", { ActiveState: "active" });
      const env = (await t.podman([
        "inspect",
        "web",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
      ]))
        .stdout;
      assert.match(env, /^REV=A$/m, env);
      // Recorded: a failed run of B, nothing in progress, no backoff (a host fault).
      const state = JSON.parse(await t.readFile(`${STATE}/state.json`));
      assert.equal(state.status, "failed", JSON.stringify(state));
      assert.equal(state.in_progress, null);
      assert.equal(state.last_applied_revision, a);
      assert.equal(state.last_attempted_revision, b);
      assert.equal(state.retry, null);
      assert.match(state.failure.reason, new RegExp(`injected fault at ${point}`));
      assert.equal(state.failure.rollback, "ok", JSON.stringify(state.failure));
      // One event for the run, a failure that says why.
      const events = (await t.ok([
        "journalctl",
        "-o",
        "json",
        `MESSAGE_ID=${MESSAGE_ID}`,
        `CORE_OPS_RUN_ID=${state.last_run.id}`,
      ])).stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0].CORE_OPS_STATUS, "failure");
      assert.match(events[0].CORE_OPS_FAILURE_REASON, new RegExp(`injected fault at ${point}`));
      // The next tick is not held back, and converges.
      await agent(t, 0);
      await assertAtB(t, b, hand);
    },
  };
}

/** The fault matrix and the other host-side faults. */
export const faultScenarios: Scenario[] = [
  ...PAUSE_POINTS.map(killScenario),
  throwScenario("mid-verify"),
  throwScenario("manifest-write"),
  {
    name: "faults: journald stopped during a run: same outcome, the event on stderr",
    async run(t) {
      await convergeA(t);
      const b = await pushB(t);
      await t.stopJournald();
      const result = await agent(t, 0);
      const events = result.stderr.split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l));
      assert.equal(events.length, 1, result.stderr);
      assert.equal(events[0].MESSAGE_ID, MESSAGE_ID);
      assert.equal(events[0].CORE_OPS_STATUS, "success");
      assert.equal(events[0].CORE_OPS_REVISION, b);
      await t.startJournald();
      assert.equal((await statusJson(t)).last_applied_revision, b);
    },
  },
  {
    name: "faults: quadlet dir on a full 64k tmpfs: the write fails, rollback, exit 1",
    async run(t) {
      const a = await convergeA(t);
      // The same files on a tiny tmpfs over the quadlet dir, then filled up.
      await t.ok(["cp", "-a", QUADLETS, "/root/quadlets-before"]);
      await t.ok(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", QUADLETS]);
      await t.ok(["cp", "-a", "/root/quadlets-before/.", `${QUADLETS}/`]);
      await t.exec(["dd", "if=/dev/zero", `of=${QUADLETS}/filler`, "bs=1k", "count=1000"]);
      const before = await t.snapshot([QUADLETS]);
      const sumsBefore = await sums(t, QUADLETS);
      // B writes web.container and api.container into the full dir (bigger, so no room).
      const pad = `# ${"padding ".repeat(1000)}\n`;
      await t.writeRepo(REPO, {
        ...revisionA(),
        "services/web/quadlet/web.container": container(
          `ContainerName=web\nEnvironment=REV=B\n${pad}`,
        ),
      }, { replace: true });
      const result = await agent(t, 1);
      assert.match(result.stdout + result.stderr, /web\.container/);
      const status = await statusJson(t);
      assert.equal(status.status, "failed");
      assert.equal(status.last_applied_revision, a);
      assert.equal(status.interrupted_run, null);
      const failure = status.failure as { class: string; rollback: string; reason: string };
      assert.equal(failure.class, "apply", JSON.stringify(failure));
      assert.match(failure.reason, /space|ENOSPC|No space/i);
      assert.equal(failure.rollback, "ok", JSON.stringify(failure));
      // Nothing half-written: the same names, the same bytes, no temp files.
      assert.equal(
        await sums(t, QUADLETS),
        sumsBefore,
        "a file in the full quadlet dir changed",
      );
      assert.equal(
        (await t.snapshot([QUADLETS])).split("\n").map((l) => l.split(" ").slice(0, 3).join(" "))
          .join("\n"),
        before.split("\n").map((l) => l.split(" ").slice(0, 3).join(" ")).join("\n"),
      );
      await t.assertUnit("web.service", { ActiveState: "active" });
      const env = (await t.podman([
        "inspect",
        "web",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
      ]))
        .stdout;
      assert.match(env, /^REV=A$/m);
      // With room again (the original dir back), the revision applies when retried.
      await t.ok(["umount", QUADLETS]);
      await agent(t, 0, ["--retry-now"]);
      const envAfter = (await t.podman([
        "inspect",
        "web",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
      ])).stdout;
      assert.match(envAfter, /^REV=B$/m);
    },
  },
  {
    name: "faults: the git remote dies mid-fetch or its path is gone: 75, host unchanged",
    async run(t) {
      const a = await convergeA(t);
      await pushB(t);
      // A remote that advertises its refs, sends the first bytes of the pack and dies.
      await t.ok(["git", "clone", "-q", "--bare", REPO, "/srv/git/fleet.git"]);
      await startServer(t, "dying-git", GIT_HTTP_SERVER, [
        "8766",
        "/srv/git",
        "-",
        "die-mid-pack",
      ]);
      const url = "http://127.0.0.1:8766/fleet.git";
      await t.writeFile(AGENT_TOML, agentToml().replace(`file://${REPO}`, url));
      const died = await agent(t, 75);
      assert.match(died.stderr, new RegExp(`cannot fetch main from ${url}`));
      assert.match(died.stderr, /hung up|early EOF/, "the remote did not die mid-pack");
      const server = await t.unit("dying-git.service", ["ActiveState"]);
      assert.notEqual(server.ActiveState, "active", "the remote did not die");
      // Nothing listens any more: refused, also 75.
      const refused = await agent(t, 75);
      assert.match(refused.stderr, /cannot fetch main/);
      // A file remote whose path was removed.
      await t.ok(["mv", REPO, "/srv/moved-away"]);
      await t.writeFile(AGENT_TOML, agentToml());
      const gone = await agent(t, 75);
      assert.match(gone.stderr, new RegExp(`cannot fetch main from file://${REPO}`));
      const status = await statusJson(t);
      assert.equal(status.last_applied_revision, a);
      assert.equal((status.failure as { class: string }).class, "transient");
      // Transient failures never count against a revision: back at once when it returns.
      await t.ok(["mv", "/srv/moved-away", REPO]);
      await agent(t, 0);
    },
  },
  {
    name:
      "faults: state.json or manifest.json truncated or garbage: 65 naming the file; the documented recoveries work",
    async run(t) {
      await convergeA(t);
      const quadletsBefore = await t.snapshot([QUADLETS, "/etc/web"]);
      const cases: [string, string][] = [
        [`${STATE}/state.json`, "truncate"],
        [`${STATE}/state.json`, "garbage"],
        [`${STATE}/manifest.json`, "truncate"],
        [`${STATE}/manifest.json`, "garbage"],
      ];
      for (const [file, how] of cases) {
        await t.ok(["cp", "-a", file, `${file}.good`]);
        if (how === "truncate") {
          const size = Number((await t.ok(["stat", "-c", "%s", file])).stdout.trim());
          await t.ok(["truncate", "-s", String(Math.floor(size / 2)), file]);
        } else {
          await t.writeFile(file, { content: "\u0000\u00ffnot json at all\n", mode: 0o600 });
        }
        for (const args of [["agent"], ["status"]]) {
          const result = await t.coreOps(args);
          assert.equal(result.code, 65, describe(["core-ops", ...args], result));
          assert.ok(result.stderr.includes(file), `${how} ${file}: ${result.stderr}`);
          assert.match(result.stderr, /corrupt/i);
          assert.match(result.stderr, /restore it from a backup|move it aside/, result.stderr);
        }
        assert.equal(await t.snapshot([QUADLETS, "/etc/web"]), quadletsBefore);
        await t.ok(["mv", `${file}.good`, file]);
      }
      await agent(t, 0);

      // The documented recoveries, without a backup. state.json moved aside: a new
      // history starts and the manifest keeps ownership, so nothing is a conflict.
      const b = await pushB(t);
      await t.writeFile(`${STATE}/state.json`, { content: "{ garbage", mode: 0o600 });
      await t.ok(["mv", `${STATE}/state.json`, `${STATE}/state.json.corrupt`]);
      await agent(t, 0);
      let status = await statusJson(t);
      assert.equal(status.last_applied_revision, b);
      assert.deepEqual(status.drift, []);
      // manifest.json moved aside: every file is unowned until apply --adopt takes them back.
      await t.writeFile(`${STATE}/manifest.json`, { content: "[1,", mode: 0o600 });
      await t.ok(["mv", `${STATE}/manifest.json`, `${STATE}/manifest.json.corrupt`]);
      const conflict = await t.coreOps(["apply"]);
      assert.equal(conflict.code, 65, describe(["core-ops", "apply"], conflict));
      assert.match(conflict.stderr, /not owned by core-ops/);
      await t.ok([GUEST_CORE_OPS, "apply", "--adopt"]);
      await agent(t, 0);
      status = await statusJson(t);
      assert.equal(status.owned_files, 3);
      assert.deepEqual(status.drift, []);
    },
  },
  {
    name: "least privilege: the release flags cannot write elsewhere or run another program",
    async run(t) {
      await t.writeRepo(REPO, revisionA());
      const elsewhere = await t.coreOps([
        "apply",
        "--source-repo",
        REPO,
        "--quadlet-dir",
        "/srv/elsewhere",
      ]);
      assert.equal(elsewhere.code, 77, describe(["core-ops", "apply"], elsewhere));
      assert.match(elsewhere.stderr, /\/srv\/elsewhere/);
      assert.match(elsewhere.stderr, /--allow-write/);
      assert.match(elsewhere.stderr, /--quadlet-dir/);
      assert.equal(await t.exists("/srv/elsewhere"), false);
      // The release launcher cannot read the pause variable: an armed pause point is inert.
      await t.writeFile(AGENT_TOML, agentToml());
      const armed = await t.coreOps(["agent"], {
        env: { CORE_OPS_TEST_PAUSE_AT: "after-lock" },
        timeoutMs: 90_000,
      });
      assert.equal(armed.code, 0, describe(["core-ops", "agent"], armed));
      assert.doesNotMatch(armed.stderr, /paused at/);
      const { argv, result } = await releaseScript(
        t,
        `const tried = [];
for (const program of ["sh", "/bin/sh", "podman", "cat", "env"]) {
  try { await new Deno.Command(program, { args: ["-c", "true"] }).output(); tried.push(program + ": ran"); }
  catch (e) { tried.push(program + ": " + (e instanceof Deno.errors.NotCapable ? "denied" : String(e))); }
}
for (const path of ["/srv/x", "/root/x", "/usr/local/bin/x"]) {
  try { await Deno.writeTextFile(path, "x"); tried.push(path + ": written"); }
  catch (e) { tried.push(path + ": " + (e instanceof Deno.errors.NotCapable ? "denied" : String(e))); }
}
const git = await new Deno.Command("git", { args: ["--version"] }).output();
tried.push("git: " + (git.success ? "ran" : "failed"));
console.log(tried.join("\\n"));
`,
      );
      assert.equal(result.code, 0, describe(argv, result));
      assert.deepEqual(result.stdout.trim().split("\n"), [
        "sh: denied",
        "/bin/sh: denied",
        "podman: denied",
        "cat: denied",
        "env: denied",
        "/srv/x: denied",
        "/root/x: denied",
        "/usr/local/bin/x: denied",
        "git: ran",
      ]);
    },
  },
  {
    name: "secrets: URL credentials and the ssh key never reach state, journal, metrics or output",
    async run(t) {
      const token = `tok${crypto.randomUUID().replaceAll("-", "")}`;
      const keyMarker = `KEY${crypto.randomUUID().replaceAll("-", "")}`;
      await t.writeRepo(REPO, revisionA());
      await t.ok(["git", "clone", "-q", "--bare", REPO, "/srv/git/fleet.git"]);
      await t.writeFile("/root/git-auth", `core:${token}\n`);
      await startServer(t, "secret-git", GIT_HTTP_SERVER, [
        "8765",
        "/srv/git",
        "/root/git-auth",
        "serve",
      ]);
      await t.writeFile("/etc/core-ops/deploy_key", {
        content:
          `-----BEGIN OPENSSH PRIVATE KEY-----\n${keyMarker}\n-----END OPENSSH PRIVATE KEY-----\n`,
        mode: 0o600,
      });
      const toml = (url: string) =>
        agentToml(
          `ssh-key = "/etc/core-ops/deploy_key"\nmetrics-file = "/var/lib/core-ops/core-ops.prom"\n`,
        ).replace(`file://${REPO}`, url);
      const outputs: string[] = [];
      const run = async (url: string, code: number) => {
        await t.writeFile(AGENT_TOML, toml(url));
        for (const args of [["agent"], ["status"], ["status", "--json"], ["explain", "last"]]) {
          const r = await t.coreOps(args);
          if (args[0] === "agent") assert.equal(r.code, code, describe(args, r));
          outputs.push(r.stdout, r.stderr);
        }
      };
      // Failing: a closed port; the wrong password; then success with the right one.
      await run(`http://core:${token}@127.0.0.1:1/fleet.git`, 75);
      await run(`http://core:${token}x@127.0.0.1:8765/fleet.git`, 66);
      // An ssh remote that is down: ssh gets the key's path, its contents appear nowhere.
      await run(`ssh://core@127.0.0.1:1/fleet.git`, 75);
      await run(`http://core:${token}@127.0.0.1:8765/fleet.git`, 0);
      const status = await statusJson(t);
      assert.equal(status.repository, "http://***@127.0.0.1:8765/fleet.git");
      assert.equal(await t.readFile("/etc/web/app.conf"), "rev=A\n");
      const parts = await everythingWritten(t, outputs);
      assert.ok(parts.some((p) => p.includes("core_ops_last_run_success 1")), "no metrics file");
      assert.ok(parts.some((p) => p.includes("***@127.0.0.1")), "redacted URL shown nowhere");
      assertNoSecret(parts, [token, keyMarker, "core:tok"]);
    },
  },
];
