/**
 * The audit event adapter on a real systemd-journald: one entry per emit with
 * every field intact, and the stderr fallback when journald is stopped.
 *
 * core-ops has no command that emits an event on its own yet (the agent
 * will), and a hidden CLI command only for tests would ship in the release.
 * So the adapter itself runs in the guest: a small script importing the
 * packaged src/host/journal.ts, run by the package's own deno with the
 * release permission flags (tools/permissions.ts) — the same code, runtime
 * and permissions the agent will use.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GUEST_PACKAGE_DIR } from "../lib/guest.ts";
import { describe, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { type AuditEvent, decodeFieldValue, MESSAGE_ID } from "../../../src/host/journal.ts";
import { PRODUCTION, toFlags } from "../../../tools/permissions.ts";

const SCRIPT = "/root/emit-event.ts";

/** Reads an AuditEvent as JSON on stdin, emits it, prints where it went. */
const SCRIPT_SOURCE =
  `import { journal } from "file://${GUEST_PACKAGE_DIR}/app/src/host/journal.ts";
const event = JSON.parse(await new Response(Deno.stdin.readable).text());
console.log(await journal.emit(event));
`;

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
  await t.writeFile(SCRIPT, SCRIPT_SOURCE);
  const args = [
    `${GUEST_PACKAGE_DIR}/bin/deno`,
    "run",
    "--quiet",
    "--cached-only",
    "--no-remote",
    `--config=${GUEST_PACKAGE_DIR}/app/deno.json`,
    ...toFlags(PRODUCTION),
    SCRIPT,
  ];
  const result = await t.exec(args, {
    stdin: JSON.stringify(e),
    env: {
      DENO_DIR: `${GUEST_PACKAGE_DIR}/deno-dir`,
      DENO_NO_PACKAGE_JSON: "1",
      DENO_NO_UPDATE_CHECK: "1",
    },
  });
  assert.equal(result.code, 0, describe(args, result));
  return result;
}

/** The journald adapter against the guest's journald. */
export const journalScenarios: Scenario[] = [
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
      await t.ok([
        "systemctl",
        "stop",
        "systemd-journald.socket",
        "systemd-journald-dev-log.socket",
        "systemd-journald.service",
      ]);
      await t.assertUnit("systemd-journald.service", { ActiveState: "inactive" });
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
      await t.ok(["systemctl", "start", "systemd-journald.service"]);
      const entries = await t.journal([`CORE_OPS_RUN_ID=${runId}`]);
      assert.deepEqual(entries, []);
    },
  },
];
