/**
 * The agent's host adapters on the real host, under the release permission
 * flags: the audit event on systemd-journald (one entry per emit, every field
 * intact; stderr when journald is stopped), and the run lock with the git
 * mirror in the default state and lock dirs.
 *
 * core-ops has no command that uses them on its own yet (the agent will),
 * and a hidden CLI command only for tests would ship in the release. So the
 * adapters themselves run in the guest: small scripts importing the packaged
 * src/host/*.ts, run by the package's own deno with the release permission
 * flags (tools/permissions.ts) — the code, runtime and permissions the agent
 * will use.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GUEST_PACKAGE_DIR } from "../lib/guest.ts";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { type AuditEvent, decodeFieldValue, MESSAGE_ID } from "../../../src/host/journal.ts";
import { PRODUCTION } from "../../../tools/permissions.ts";
import { PACKAGE_ENV, packagedDenoArgv } from "../lib/packaged.ts";

const APP = `file://${GUEST_PACKAGE_DIR}/app/src`;

/** Reads an AuditEvent as JSON on stdin, emits it, prints where it went. */
const EMIT_SCRIPT = `import { journal } from "${APP}/host/journal.ts";
const event = JSON.parse(await new Response(Deno.stdin.readable).text());
console.log(await journal.emit(event));
`;

/**
 * Takes the run lock at its default path, fetches the repo given as argument
 * into the mirror in the default state dir, reads the commit's tree from the
 * mirror, prints the commit and the tree's files as JSON; a CoreOpsError becomes its exit code, as
 * at the CLI's edge.
 */
const FETCH_SCRIPT = `import { CoreOpsError } from "${APP}/errors.ts";
import { acquireRunLock } from "${APP}/host/lock.ts";
import { fetchIntoMirror } from "${APP}/host/mirror.ts";
import { readGitTree } from "${APP}/host/gittree.ts";
try {
  const lock = await acquireRunLock("/run/core-ops/lock");
  try {
    const fetched = await fetchIntoMirror({
      url: Deno.args[0], rev: "main", stateDir: "/var/lib/core-ops", timeoutSeconds: 30, sshKey: null,
    });
    const tree = await readGitTree(fetched.mirror, fetched.commit);
    const files = tree.entries.filter((e) => e.type === "file").map((e) => e.path);
    console.log(JSON.stringify({ commit: fetched.commit, files }));
  } finally {
    await lock.release();
  }
} catch (error) {
  if (!(error instanceof CoreOpsError)) throw error;
  console.error(error.message);
  Deno.exit(error.exitCode);
}
`;

/** Runs `script` (written to the guest) with the package's deno and the release flags. */
async function runScript(
  t: ScenarioContext,
  name: string,
  script: string,
  args: string[] = [],
  stdin?: string,
) {
  const path = `/root/${name}`;
  await t.writeFile(path, script);
  const argv = packagedDenoArgv(PRODUCTION, path, args);
  const result = await t.exec(argv, { stdin, env: { ...PACKAGE_ENV } });
  return { argv, result };
}

function event(runId: string): AuditEvent {
  return {
    message: "core-ops: revision 0123abc failed\nweb.service: did not become active",
    priority: 3,
    fields: {
      CORE_OPS_RUN_ID: runId,
      CORE_OPS_STATUS: "failure",
      CORE_OPS_REVISION: "0123abc",
      CORE_OPS_GENERATION: "7",
      CORE_OPS_PLAN_SUMMARY: "write 2, restart 1",
      CORE_OPS_FAILED_ARTIFACTS: "web.service\ndata-volume.service",
      CORE_OPS_FAILURE_CLASS: "verify",
      CORE_OPS_FAILURE_REASON: "web.service: ActiveState=failed  \n\tC:\\path \\n literal",
      CORE_OPS_DRIFT: "",
    },
  };
}

async function emit(t: ScenarioContext, e: AuditEvent) {
  const { argv, result } = await runScript(t, "emit-event.ts", EMIT_SCRIPT, [], JSON.stringify(e));
  assert.equal(result.code, 0, describe(argv, result));
  return result;
}

/** The agent's adapters against the guest's journald, file system and git. */
export const adapterScenarios: Scenario[] = [
  {
    name: "journal: one event per emit, found by MESSAGE_ID with every field intact",
    async run(t) {
      const runId = crypto.randomUUID();
      const sent = event(runId);
      const result = await emit(t, sent);
      assert.equal(result.stdout.trim(), "journal");
      assert.equal(result.stderr, "", "nothing on stderr when journald took the event");

      const entries = await t.journal([`MESSAGE_ID=${MESSAGE_ID}`, `CORE_OPS_RUN_ID=${runId}`]);
      assert.equal(entries.length, 1, JSON.stringify(entries));
      const entry = entries[0];
      assert.equal(entry.SYSLOG_IDENTIFIER, "core-ops");
      assert.equal(entry.MESSAGE_ID, MESSAGE_ID);
      assert.equal(entry.PRIORITY, "3");
      assert.equal(entry.MESSAGE, sent.message);
      for (const [name, value] of Object.entries(sent.fields)) {
        assert.equal(typeof entry[name], "string", `${name} missing or binary`);
        assert.equal(decodeFieldValue(entry[name] as string), value, name);
      }
      // The SPEC's query for failed runs finds it.
      const failed = await t.journal([`MESSAGE_ID=${MESSAGE_ID}`, "CORE_OPS_STATUS=failure"]);
      assert.ok(failed.some((e) => e.CORE_OPS_RUN_ID === runId));
    },
  },
  {
    name: "journal: with journald stopped the event goes to stderr as one JSON line",
    async run(t) {
      await t.stopJournald();
      const runId = crypto.randomUUID();
      const sent = event(runId);
      const result = await emit(t, sent);
      assert.equal(result.stdout.trim(), "stderr");
      const lines = result.stderr.split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 1, result.stderr);
      const parsed = JSON.parse(lines[0]);
      assert.equal(parsed.MESSAGE_ID, MESSAGE_ID);
      assert.equal(parsed.SYSLOG_IDENTIFIER, "core-ops");
      assert.equal(parsed.MESSAGE, sent.message);
      for (const [name, value] of Object.entries(sent.fields)) assert.equal(parsed[name], value);

      // Nothing reached the journal while it was down.
      await t.startJournald();
      const entries = await t.journal([`CORE_OPS_RUN_ID=${runId}`]);
      assert.deepEqual(entries, []);
    },
  },
  {
    name: "adapters: run lock and git mirror in the default dirs under the release permissions",
    async run(t) {
      const head = await t.writeRepo("/srv/fleet", {
        "services/web/quadlet/web.container": "[Container]\nImage=localhost/x\n",
      });
      const fetch = async (url: string, code = 0) => {
        const { argv, result } = await runScript(t, "fetch.ts", FETCH_SCRIPT, [url]);
        assert.equal(result.code, code, describe(argv, result));
        return result;
      };
      const first = JSON.parse((await fetch("file:///srv/fleet")).stdout);
      assert.equal(first.commit, head);
      assert.deepEqual(first.files, ["services/web/quadlet/web.container"]);
      const bare = await t.ok([
        "git",
        "--git-dir=/var/lib/core-ops/mirror.git",
        "rev-parse",
        "--is-bare-repository",
      ]);
      assert.equal(bare.stdout.trim(), "true");
      assert.equal((await t.ok(["stat", "-c", "%a", "/run/core-ops"])).stdout.trim(), "755");

      // A second commit arrives through the same mirror, from a plain path.
      const next = await t.writeRepo("/srv/fleet", { "services/web/config/a.conf": "a=1\n" });
      assert.equal(JSON.parse((await fetch("/srv/fleet")).stdout).commit, next);

      // With the lock held by flock(1) (as a unit or script may), the run is refused: 75.
      await t.ok(["systemd-run", "--unit=hold-lock", "flock", "/run/core-ops/lock", "sleep", "60"]);
      let held = false;
      for (let i = 0; i < 50 && !held; i++) {
        const probe = await t.exec([
          "flock",
          "--nonblock",
          "--conflict-exit-code",
          "9",
          "/run/core-ops/lock",
          "true",
        ]);
        held = probe.code === 9;
        if (!held) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(held, "flock(1) never took the lock");
      const refused = await fetch("/srv/fleet", 75);
      assert.match(refused.stderr, /another core-ops run holds the run lock/);
      await t.ok(["systemctl", "stop", "hold-lock.service"]);
      assert.equal(JSON.parse((await fetch("/srv/fleet")).stdout).commit, next);
    },
  },
];
