/**
 * Issue 19's triggers on the real host (SPEC §8): the shipped
 * core-ops-trigger.path starts the shipped core-ops.service when
 * `core-ops trigger` sets /run/core-ops/trigger, so a push converges the host
 * in one run with no timer tick (the timer is held far away); a burst of
 * triggers during a run gives exactly one more run. The shipped webhook
 * (core-ops-webhook.socket + core-ops-webhook@.service) does the same for a
 * signed push, and nothing for a bad signature, another ref or an oversized
 * body; requests are raw bytes over bash's /dev/tcp inside the guest.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { JournalEntry, Scenario, ScenarioContext } from "../lib/scenario.ts";
import { publish, runEvents, setUpAgent } from "./agent.ts";
import { webService } from "./fixtures.ts";
import { waitFor } from "./service.ts";
import { exposure, MAX_EXPOSURE, shippedUnit } from "./units.ts";

const UNITS_DIR = new URL("../../../systemd/", import.meta.url).pathname;
export const TRIGGER = "/run/core-ops/trigger";

/** The agent set up as in agent.ts plus the shipped core-ops-trigger.path, started. */
export async function setUpTriggeredAgent(
  t: ScenarioContext,
  files: Parameters<typeof publish>[1],
  settings: Record<string, string | number | boolean> = {},
): Promise<string> {
  const sha = await setUpAgent(t, files, undefined, settings);
  await t.writeFile(
    "/etc/systemd/system/core-ops-trigger.path",
    await Deno.readTextFile(`${UNITS_DIR}core-ops-trigger.path`),
  );
  await t.ok(["systemctl", "daemon-reload"]);
  await t.ok(["systemctl", "start", "core-ops-trigger.path"]);
  await t.assertUnit("core-ops-trigger.path", { ActiveState: "active", SubState: "waiting" });
  return sha;
}

/** Waits until the run events number `count` and core-ops.service is idle again. */
export async function eventsAfter(t: ScenarioContext, count: number): Promise<JournalEntry[]> {
  return await waitFor(120_000, `${count} run event(s)`, async () => {
    const events = await runEvents(t);
    if (events.length < count) return undefined;
    const state = (await t.unit("core-ops.service", ["ActiveState"])).ActiveState;
    return state === "activating" ? undefined : events;
  });
}

/** Asserts nothing more runs for a while: no new event, the trigger gone, the path waiting. */
export async function assertQuiet(t: ScenarioContext, count: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 5_000));
  const events = await runEvents(t);
  assert.equal(events.length, count, JSON.stringify(events.map((e) => e.MESSAGE)));
  assert.equal(await t.exists(TRIGGER), false, "the trigger is still set");
  await t.assertUnit("core-ops-trigger.path", { ActiveState: "active", SubState: "waiting" });
  await t.assertUnit("core-ops.service", { ActiveState: "inactive" });
}

/** The trigger scenarios. */
export const triggerScenarios: Scenario[] = [
  {
    name:
      "trigger: `core-ops trigger` after a push converges in one run; a burst during a run gives exactly one more",
    async run(t) {
      await setUpTriggeredAgent(t, webService(), { "verify-settle": 3 });
      // No timer tick and no trigger yet: nothing ran.
      assert.equal((await runEvents(t)).length, 0);

      const first = (await t.ok(["git", "-C", "/srv/git/core-ops.git", "rev-parse", "main"]))
        .stdout.trim();
      await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      let events = await eventsAfter(t, 1);
      assert.equal(events[0].CORE_OPS_STATUS, "success", JSON.stringify(events[0]));
      assert.equal(events[0].CORE_OPS_REVISION, first);
      await assertQuiet(t, 1);
      await t.assertUnit("web.service", { ActiveState: "active" });

      // A push, then one trigger: the host converges to it in exactly one run.
      const second = await publish(t, webService("Environment=E2E_REVISION=2\n"));
      await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      events = await eventsAfter(t, 2);
      assert.equal(events[1].CORE_OPS_STATUS, "success", JSON.stringify(events[1]));
      assert.equal(events[1].CORE_OPS_REVISION, second);
      await assertQuiet(t, 2);
      const env = await t.podman(["inspect", "--format", "{{.Config.Env}}", "systemd-web"]);
      assert.match(env.stdout, /E2E_REVISION=2/);

      // A push and a trigger start a run (it restarts web and settles 3 s); five
      // more triggers while it runs, after it cleared the first: one more run.
      const third = await publish(t, webService("Environment=E2E_REVISION=3\n"));
      await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      await waitFor(30_000, "the run to take the trigger", async () => {
        const state = (await t.unit("core-ops.service", ["ActiveState"])).ActiveState;
        return state === "activating" && !(await t.exists(TRIGGER)) ? true : undefined;
      });
      for (let i = 0; i < 5; i++) await t.ok(["/usr/local/bin/core-ops", "trigger"]);
      const running = (await t.unit("core-ops.service", ["ActiveState"])).ActiveState;
      assert.equal(
        running,
        "activating",
        "the run ended before the burst: the test proves nothing",
      );
      events = await eventsAfter(t, 4);
      assert.equal(events[2].CORE_OPS_STATUS, "success", JSON.stringify(events[2]));
      assert.equal(events[2].CORE_OPS_REVISION, third);
      assert.equal(events[3].CORE_OPS_STATUS, "noop", JSON.stringify(events[3]));
      assert.equal(events[3].CORE_OPS_REVISION, third);
      await assertQuiet(t, 4);
    },
  },
];

const SECRET_FILE = "/etc/core-ops/webhook-secret";
const SECRET = "e2e-webhook-secret-7f3a";
const PORT = 9471;

/** The triggered agent plus the shipped webhook socket and service, listening. */
async function setUpWebhook(t: ScenarioContext): Promise<void> {
  await setUpTriggeredAgent(t, webService(), { "webhook-secret-file": SECRET_FILE });
  await t.writeFile(SECRET_FILE, { content: `${SECRET}\n`, mode: 0o600 });
  for (const unit of ["core-ops-webhook.socket", "core-ops-webhook@.service"] as const) {
    await t.writeFile(`/etc/systemd/system/${unit}`, await shippedUnit(unit));
  }
  await t.ok(["systemctl", "daemon-reload"]);
  await t.ok(["systemctl", "start", "core-ops-webhook.socket"]);
  await t.assertUnit("core-ops-webhook.socket", { ActiveState: "active", SubState: "listening" });
}

/**
 * Sends raw `request` to the webhook port from inside the guest; resolves to
 * the raw answer. The socket is restarted first: in this guest (systemd
 * 257.13 under nspawn on a cgroup-v1 host) systemd removes an `Accept=yes`
 * INET socket's cgroup shortly after a connection, then loops on
 * "(sd-accept) Failed to join unit cgroup" for every later one; a freshly
 * started socket serves. The service side is untouched.
 */
async function send(t: ScenarioContext, request: Uint8Array): Promise<string> {
  // Restarting often trips the socket's start limit: reset-failed resets it.
  await t.ok(["systemctl", "reset-failed", "core-ops-webhook.socket"]);
  await t.ok(["systemctl", "restart", "core-ops-webhook.socket"]);
  const result = await t.ok([
    "bash",
    "-c",
    `exec 3<>/dev/tcp/127.0.0.1/${PORT}; cat >&3; cat <&3`,
  ], { stdin: request, timeoutMs: 30_000 });
  return result.stdout;
}

async function hmacHex(secret: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new Uint8Array(body)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A GitHub-style push request for `ref`, signed with `secret`. */
async function push(ref: string, secret = SECRET, method = "POST"): Promise<Uint8Array> {
  const body = new TextEncoder().encode(
    JSON.stringify({ ref, before: "0".repeat(40), after: "1".repeat(40), marker: "BODY-MARKER" }),
  );
  const head =
    `${method} /hooks/core-ops HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n` +
    `X-GitHub-Event: push\r\nContent-Length: ${body.length}\r\n` +
    `X-Hub-Signature-256: sha256=${await hmacHex(secret, body)}\r\n\r\n`;
  return new Uint8Array([...new TextEncoder().encode(head), ...body]);
}

/** The status line of a raw answer. */
function status(answer: string): string {
  return answer.split("\r\n")[0];
}

/** The webhook scenarios. */
export const webhookScenarios: Scenario[] = [
  {
    name:
      "webhook: a signed push converges in one run; bad signature, another ref, GET and an oversized body trigger nothing",
    async run(t) {
      await setUpWebhook(t);
      const sha = (await t.ok(["git", "-C", "/srv/git/core-ops.git", "rev-parse", "main"]))
        .stdout.trim();

      // What must not trigger: each answered, no trigger set, no run.
      assert.equal(
        status(await send(t, await push("refs/heads/main", "wrong"))),
        "HTTP/1.1 401 Unauthorized",
      );
      const unsigned = new TextDecoder().decode(await push("refs/heads/main"))
        .replace(/X-Hub-Signature-256: .*\r\n/, "");
      assert.equal(
        status(await send(t, new TextEncoder().encode(unsigned))),
        "HTTP/1.1 401 Unauthorized",
      );
      assert.equal(
        status(await send(t, await push("refs/heads/feature"))),
        "HTTP/1.1 202 Accepted",
      );
      assert.equal(
        status(await send(t, await push("refs/heads/main", SECRET, "GET"))),
        "HTTP/1.1 405 Method Not Allowed",
      );
      const big = 1024 * 1024 + 1;
      const oversized = new TextEncoder().encode(
        `POST / HTTP/1.1\r\nContent-Length: ${big}\r\nX-Hub-Signature-256: sha256=${
          "0".repeat(64)
        }\r\n\r\n${"x".repeat(4096)}`,
      );
      assert.equal(status(await send(t, oversized)), "HTTP/1.1 413 Content Too Large");
      await new Promise((r) => setTimeout(r, 3_000));
      assert.equal(await t.exists(TRIGGER), false);
      assert.equal((await runEvents(t)).length, 0, "something started the agent");

      // A signed push to the tracked ref: 202, and the agent converges in exactly one run.
      const answer = await send(t, await push("refs/heads/main"));
      assert.equal(status(answer), "HTTP/1.1 202 Accepted", answer);
      const events = await eventsAfter(t, 1);
      assert.equal(events[0].CORE_OPS_STATUS, "success", JSON.stringify(events[0]));
      assert.equal(events[0].CORE_OPS_REVISION, sha);
      await assertQuiet(t, 1);
      await t.assertUnit("web.service", { ActiveState: "active" });

      // One log line per request, with its status; never the secret or the body.
      const lines =
        (await t.ok(["journalctl", "--no-pager", "-o", "cat", "-u", "core-ops-webhook@*"]))
          .stdout;
      for (const code of ["401", "401", "202", "405", "413", "202"]) {
        assert.match(lines, new RegExp(`core-ops webhook: ${code} `));
      }
      for (const secret of [SECRET, "BODY-MARKER"]) assert.ok(!lines.includes(secret), lines);
      // No failed instance is left behind.
      const failed = await t.exec([
        "systemctl",
        "list-units",
        "--failed",
        "--plain",
        "--no-legend",
        "core-ops-webhook@*",
      ]);
      assert.equal(failed.stdout.trim(), "", failed.stdout);
    },
  },
  {
    name: "webhook: the unit verifies clean, exposure ≤ 2.0, and it can write only /run/core-ops",
    async run(t) {
      await setUpWebhook(t);
      const units = ["core-ops-webhook.socket", "core-ops-webhook@.service"];
      const verify = await t.exec([
        "systemd-analyze",
        "verify",
        ...units.map((u) => `/etc/systemd/system/${u}`),
      ]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.equal(verify.stdout + verify.stderr, "");
      const level = await exposure(t, "core-ops-webhook@probe.service");
      assert.ok(
        level <= MAX_EXPOSURE,
        `core-ops-webhook@.service exposure ${level} > ${MAX_EXPOSURE}`,
      );

      // A probe with the shipped sandbox (only ExecStart replaced) answers the
      // connection with what it could write.
      await t.ok(["mkdir", "-p", "-m", "0700", "/run/core-ops"]);
      await t.ok(["touch", "/run/core-ops/lock"]);
      const probe = `#!/bin/bash
read -r _request
for path in /run/core-ops/trigger /run/core-ops/lock /etc/core-ops/x /etc/x /etc/containers/systemd/x \\
            /etc/systemd/system/x /var/lib/core-ops/x /var/cache/core-ops/x /usr/local/x /root/x; do
  if echo probe >>"$path" 2>/dev/null; then echo "WROTE $path"; else echo "DENIED $path"; fi
done
rm -f /run/core-ops/trigger
echo DONE
`;
      await t.writeFile("/usr/local/libexec/core-ops-webhook-probe", {
        content: probe,
        mode: 0o755,
      });
      const shipped = await shippedUnit("core-ops-webhook@.service");
      assert.match(shipped, /^ExecStart=\/usr\/local\/bin\/core-ops webhook$/m);
      await t.writeFile(
        "/etc/systemd/system/core-ops-webhook@.service",
        shipped.replace(/^ExecStart=.*$/m, "ExecStart=/usr/local/libexec/core-ops-webhook-probe"),
      );
      await t.ok(["systemctl", "daemon-reload"]);
      const answer = await send(t, new TextEncoder().encode("probe\n"));
      assert.match(answer, /^DONE$/m, answer);
      const wrote = answer.split("\n").filter((l) => l.startsWith("WROTE "));
      assert.deepEqual(wrote, ["WROTE /run/core-ops/trigger"], answer);
      for (
        const path of ["/etc/x", "/var/lib/core-ops/x", "/usr/local/x", "/root/x"]
      ) {
        assert.equal(await t.exists(path), false, path);
      }
    },
  },
];
