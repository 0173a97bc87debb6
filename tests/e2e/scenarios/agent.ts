/**
 * Issue 8's acceptance on the real host: the shipped core-ops.service and
 * core-ops.timer installed in /etc/systemd/system, /etc/core-ops/agent.toml
 * written, and the agent run by systemd itself (`systemctl start
 * core-ops.service`) against a bare repository in the guest, reached through
 * `file://` or smart HTTP (`git http-backend` on 127.0.0.1). Each run's exit
 * code is read back from systemd (`ExecMainStatus`), its audit event from
 * journald (`journalctl MESSAGE_ID=…`), its metrics through the real
 * `promtool` on the CI host.
 *
 * Scenarios that must see stderr or start agents side by side run
 * `core-ops agent` directly, as root outside the sandbox; everything else goes
 * through the unit.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeFieldValue, MESSAGE_ID } from "../../../src/host/journal.ts";
import { GUEST_CORE_OPS, GUEST_PACKAGE_DIR } from "../lib/guest.ts";
import { run } from "../lib/proc.ts";
import {
  describe,
  type Files,
  GIT_IDENTITY,
  type JournalEntry,
  type Scenario,
  type ScenarioContext,
} from "../lib/scenario.ts";
import { container, exampleOnTestHost, REPO, webService } from "./fixtures.ts";
import { waitFor } from "./service.ts";
import { installShippedUnits } from "./units.ts";

/** The bare repository the agent fetches from, and the dir the HTTP server serves. */
const REMOTES = "/srv/git";
export const REMOTE = `${REMOTES}/core-ops.git`;
export const FILE_URL = `file://${REMOTE}`;
const HTTP_PORT = 8418;
const HTTP_URL = `http://127.0.0.1:${HTTP_PORT}/core-ops.git`;
export const CONFIG = "/etc/core-ops/agent.toml";
export const STATE_DIR = "/var/lib/core-ops";
/** In the state dir: the release permission set lets the agent write there. */
export const METRICS = `${STATE_DIR}/metrics.prom`;
const LOCK = "/run/core-ops/lock";
/** What an unattended run may change on the host. */
const TARGET_DIRS = ["/etc/containers/systemd", "/etc/systemd/system"];

/** Every field SPEC §4 promises on each run's event. */
const EVENT_FIELDS = [
  "CORE_OPS_RUN_ID",
  "CORE_OPS_STATUS",
  "CORE_OPS_REVISION",
  "CORE_OPS_GENERATION",
  "CORE_OPS_PLAN_SUMMARY",
  "CORE_OPS_ACTIONS",
  "CORE_OPS_FAILED_ARTIFACTS",
  "CORE_OPS_FAILURE_CLASS",
  "CORE_OPS_FAILURE_REASON",
  "CORE_OPS_DRIFT",
] as const;

/** The long-running containers of examples/homelab on host nas. */
const HOMELAB_CONTAINERS = ["web.service", "prometheus.service", "node-exporter.service"];

/** The drop-in a revision uses to change host nas's web container. */
const NAS_WEB_DROPIN = "hosts/nas/web/quadlet/web.container.d/99-zz-e2e-revision.conf";

/**
 * The timer is active, as on a real host, but the scenario plays its ticks
 * (`systemctl start core-ops.service`): this runtime drop-in moves every
 * elapse far away. An active timer also keeps the finished service loaded;
 * without one, systemd may unload an inactive oneshot at once and its
 * ExecMainStatus is gone before it can be read.
 */
const TIMER_DROPIN = "/run/systemd/system/core-ops.timer.d/e2e-ticks-by-the-test.conf";
const TIMER_HOLD = "[Timer]\nOnBootSec=\nOnUnitActiveSec=\nOnCalendar=2099-01-01\n";

type Setting = string | number | boolean;

/** agent.toml for `repo`: short verify settle/timeout so the suite stays fast, metrics on. */
function agentToml(repo: string, extra: Record<string, Setting> = {}): string {
  const settings: Record<string, Setting> = {
    repo,
    rev: "main",
    "verify-settle": 1,
    "verify-timeout": 30,
    "metrics-file": METRICS,
    ...extra,
  };
  // JSON strings of plain ASCII are TOML basic strings; numbers and booleans are the same.
  return Object.entries(settings).map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`).join("");
}

/** Commits `files` in the work repository and pushes the commit to the remote's main. */
export async function publish(
  t: ScenarioContext,
  files: Files,
  opts: { replace?: boolean; message?: string } = {},
): Promise<string> {
  const sha = await t.writeRepo(REPO, files, opts);
  await pushMain(t);
  return sha;
}

async function pushMain(t: ScenarioContext): Promise<void> {
  await t.ok(["git", "-C", REPO, "push", "-q", "--force", REMOTE, "HEAD:refs/heads/main"]);
}

/**
 * A bare remote holding `files` at main, the shipped units installed and
 * agent.toml pointing at `repo`; returns the published commit.
 */
export async function setUpAgent(
  t: ScenarioContext,
  files: Files,
  repo = FILE_URL,
  settings: Record<string, Setting> = {},
): Promise<string> {
  await t.ok(["git", "init", "-q", "--bare", "-b", "main", REMOTE]);
  const sha = await publish(t, files);
  await installAgent(t, repo, settings);
  return sha;
}

/**
 * The shipped units installed, the timer active but held (the scenario plays
 * the ticks), agent.toml pointing at `repo`; the remote is the caller's.
 */
export async function installAgent(
  t: ScenarioContext,
  repo = FILE_URL,
  settings: Record<string, Setting> = {},
): Promise<void> {
  await installShippedUnits(t);
  await t.writeFile(TIMER_DROPIN, TIMER_HOLD);
  await configure(t, repo, settings);
  await t.ok(["systemctl", "daemon-reload"]);
  await t.ok(["systemctl", "start", "core-ops.timer"]);
  await t.assertUnit("core-ops.service", { TriggeredBy: "core-ops.timer" });
}

export async function configure(
  t: ScenarioContext,
  repo: string,
  settings: Record<string, Setting> = {},
): Promise<void> {
  await t.writeFile(CONFIG, agentToml(repo, settings));
}

/** The run events in the journal, oldest first. */
export async function runEvents(
  t: ScenarioContext,
  matches: string[] = [],
): Promise<JournalEntry[]> {
  return await t.journal([`MESSAGE_ID=${MESSAGE_ID}`, ...matches]);
}

/** One run of core-ops.service as systemd saw it, and the events it left. */
interface ServiceRun {
  /** The agent's exit code (`ExecMainStatus`). */
  code: number;
  /** systemd's verdict on the run (`Result`). */
  result: string;
  events: JournalEntry[];
}

/** `systemctl start core-ops.service` (it is Type=oneshot: returns after the run). */
export async function runService(t: ScenarioContext): Promise<ServiceRun> {
  const before = (await runEvents(t)).length;
  const previous = (await t.unit("core-ops.service", ["InvocationID"])).InvocationID;
  const start = await t.exec(["systemctl", "start", "core-ops.service"], { timeoutMs: 240_000 });
  const props = await t.unit("core-ops.service", [
    "ExecMainStatus",
    "ExecMainCode",
    "Result",
    "ActiveState",
    "InvocationID",
  ]);
  // This very start ran the agent (a new invocation), and it exited (CLD_EXITED).
  assert.notEqual(props.InvocationID, previous, JSON.stringify(props));
  assert.equal(props.ExecMainCode, "1", JSON.stringify(props));
  // A oneshot is inactive (or failed) after its run; anything else means systemctl gave up.
  assert.ok(
    ["inactive", "failed"].includes(props.ActiveState),
    `${describe(["systemctl", "start", "core-ops.service"], start)}\n${JSON.stringify(props)}`,
  );
  // systemctl itself fails exactly when the run is not a success to systemd.
  assert.equal(start.code === 0, props.Result === "success", JSON.stringify(props));
  return {
    code: Number(props.ExecMainStatus),
    result: props.Result,
    events: (await runEvents(t)).slice(before),
  };
}

/** Asserts the run left exactly one event and returns it. */
export function oneEvent(run: ServiceRun | { events: JournalEntry[] }): JournalEntry {
  assert.equal(run.events.length, 1, `events: ${JSON.stringify(run.events, null, 1)}`);
  return run.events[0];
}

/** A `CORE_OPS_*` field's value, decoded as `explain` decodes it; the field must be there. */
export function field(event: JournalEntry, name: (typeof EVENT_FIELDS)[number]): string {
  const value = event[name];
  assert.equal(typeof value, "string", `${name} missing in ${JSON.stringify(event)}`);
  return decodeFieldValue(value as string);
}

/** Asserts the event has every SPEC §4 field, core-ops' identifier and the fixed MESSAGE_ID. */
function assertEveryField(event: JournalEntry): void {
  assert.equal(event.SYSLOG_IDENTIFIER, "core-ops");
  assert.equal(event.MESSAGE_ID, MESSAGE_ID);
  assert.equal(typeof event.MESSAGE, "string");
  const missing = EVENT_FIELDS.filter((f) => typeof event[f] !== "string");
  assert.deepEqual(missing, [], `fields missing in ${JSON.stringify(event)}`);
  assert.match(field(event, "CORE_OPS_RUN_ID"), /^[0-9a-f-]{36}$/);
}

/** Lines of a multi-line field (empty field: none). */
function lines(event: JournalEntry, name: (typeof EVENT_FIELDS)[number]): string[] {
  const value = field(event, name);
  return value === "" ? [] : value.split("\n");
}

async function invocations(t: ScenarioContext, units: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const u of units) out[u] = (await t.unit(u, ["InvocationID"])).InvocationID;
  return out;
}

export async function statusJson(t: ScenarioContext): Promise<Record<string, unknown>> {
  return await t.coreOpsJson(["status", "--json"]);
}

export async function assertActive(t: ScenarioContext, units: string[]): Promise<void> {
  for (const unit of units) {
    await t.assertUnit(unit, { LoadState: "loaded", ActiveState: "active" });
  }
}

/**
 * The metrics textfile, copied out of the guest and checked with the CI
 * host's `promtool check metrics` (no findings); returns sample → value.
 */
export async function checkedMetrics(t: ScenarioContext): Promise<Map<string, number>> {
  const text = await Deno.readTextFile(`${t.guest.root}${METRICS}`);
  const check = await run("promtool", ["check", "metrics"], { stdin: text });
  assert.equal(check.code, 0, `${describe(["promtool", "check", "metrics"], check)}\n${text}`);
  assert.equal((check.stdout + check.stderr).trim(), "", `promtool findings:\n${text}`);
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The samples that must follow the last run. */
function assertMetrics(
  samples: Map<string, number>,
  expected: { success: 0 | 1; revision: string; consecutiveFailures: number; actions: string[] },
): void {
  assert.equal(samples.get("core_ops_last_run_success"), expected.success);
  const revisions = [...samples.keys()].filter((k) => k.startsWith("core_ops_applied_revision"));
  assert.deepEqual(revisions, [`core_ops_applied_revision_info{revision="${expected.revision}"}`]);
  assert.equal(samples.get("core_ops_consecutive_failures"), expected.consecutiveFailures);
  for (const op of ["write", "remove", "reload", "start", "restart", "stop", "reset-failed"]) {
    const count = expected.actions.filter((a) => a.split(" ")[0] === op).length;
    assert.equal(samples.get(`core_ops_actions{op="${op}"}`), count, `actions of op ${op}`);
  }
  const finished = samples.get("core_ops_last_run_timestamp_seconds") ?? 0;
  assert.ok(Math.abs(Date.now() / 1000 - finished) < 120, `last run at ${finished}`);
}

/** Runs `core-ops agent` directly (not through the unit), as root. */
export function agentNow(t: ScenarioContext, args: string[] = []) {
  return t.coreOps(["agent", ...args], { timeoutMs: 180_000 });
}

/** The JSON lines the agent wrote to stderr (the event when journald is unavailable). */
function stderrEvents(stderr: string): Record<string, string>[] {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** The guest's smart-HTTP Git server, as a transient unit (see lib/git-http-server.ts). */
async function startHttpRemote(t: ScenarioContext): Promise<void> {
  const script = "/usr/local/libexec/e2e-git-http-server.ts";
  await t.writeFile(
    script,
    await Deno.readTextFile(new URL("../lib/git-http-server.ts", import.meta.url)),
  );
  await t.ok([
    "systemd-run",
    "--unit=e2e-git-http.service",
    "--setenv=DENO_DIR=/var/cache/e2e-deno",
    `${GUEST_PACKAGE_DIR}/bin/deno`,
    "run",
    "--quiet",
    "--allow-net=127.0.0.1",
    "--allow-run=git",
    script,
    String(HTTP_PORT),
    REMOTES,
  ]);
  await waitFor(30_000, "the HTTP Git remote", async () => {
    const probe = await t.exec(["git", "ls-remote", HTTP_URL, "main"]);
    return probe.code === 0 && probe.stdout.includes("refs/heads/main") ? true : undefined;
  });
}

/** The agent scenarios (issue 8's acceptance). */
export const agentScenarios: Scenario[] = [
  {
    name:
      "agent: file:// — the service converges examples/homelab (nas) with a full success event; three noop runs; metrics",
    timeoutMs: 6 * 60_000,
    async run(t) {
      const sha = await setUpAgent(t, await exampleOnTestHost(), FILE_URL, { host: "nas" });

      const first = await runService(t);
      assert.equal(first.code, 0);
      assert.equal(first.result, "success");
      const event = oneEvent(first);
      assertEveryField(event);
      assert.equal(field(event, "CORE_OPS_STATUS"), "success");
      assert.equal(field(event, "CORE_OPS_REVISION"), sha);
      const actions = lines(event, "CORE_OPS_ACTIONS");
      assert.equal(
        actions.filter((a) => a === "reload daemon-reload").length,
        1,
      );
      assert.ok(actions.includes("start web.service"), actions.join("\n"));
      assert.ok(
        actions.some((a) => a.startsWith("write /etc/containers/systemd/")),
        actions.join("\n"),
      );
      assert.match(field(event, "CORE_OPS_PLAN_SUMMARY"), /\bwrite=\d+.*\bstart=\d+/);
      for (
        const name of [
          "CORE_OPS_FAILED_ARTIFACTS",
          "CORE_OPS_FAILURE_CLASS",
          "CORE_OPS_FAILURE_REASON",
          "CORE_OPS_DRIFT",
        ] as const
      ) {
        assert.equal(field(event, name), "", name);
      }
      const st = await statusJson(t);
      assert.equal(st.status, "success");
      assert.equal(st.last_applied_revision, sha);
      assert.equal(field(event, "CORE_OPS_GENERATION"), String(st.generation));
      assert.equal((st.last_run as { id: string }).id, field(event, "CORE_OPS_RUN_ID"));
      await assertActive(t, [
        ...HOMELAB_CONTAINERS,
        "monitoring-pod.service",
        "echo.socket",
        "backup.timer",
      ]);
      assertMetrics(await checkedMetrics(t), {
        success: 1,
        revision: sha,
        consecutiveFailures: 0,
        actions,
      });

      const before = await invocations(t, HOMELAB_CONTAINERS);
      const runIds = new Set([field(event, "CORE_OPS_RUN_ID")]);
      for (const round of [2, 3, 4]) {
        const again = await runService(t);
        assert.equal(again.code, 0, `run #${round}`);
        const noop = oneEvent(again);
        assertEveryField(noop);
        assert.equal(field(noop, "CORE_OPS_STATUS"), "noop", `run #${round}`);
        assert.equal(field(noop, "CORE_OPS_REVISION"), sha);
        assert.deepEqual(lines(noop, "CORE_OPS_ACTIONS"), [], `run #${round}`);
        assert.equal(field(noop, "CORE_OPS_PLAN_SUMMARY"), "none");
        runIds.add(field(noop, "CORE_OPS_RUN_ID"));
      }
      assert.equal(runIds.size, 4, "every run has its own run id");
      assert.deepEqual(await invocations(t, HOMELAB_CONTAINERS), before);
      assertMetrics(await checkedMetrics(t), {
        success: 1,
        revision: sha,
        consecutiveFailures: 0,
        actions: [],
      });
    },
  },
  {
    name:
      "agent: ticks at the applied commit reuse the loaded state; hand edits are still restored; a tampered cache is never deployed",
    timeoutMs: 6 * 60_000,
    async run(t) {
      const sha = await setUpAgent(t, await exampleOnTestHost(), FILE_URL, { host: "nas" });
      const cache = `${STATE_DIR}/desired-cache.json`;
      const inode = async () => (await t.ok(["stat", "-c", "%i", cache])).stdout.trim();
      const status = async () => field(oneEvent(await runService(t)), "CORE_OPS_STATUS");
      assert.equal(await status(), "success");
      // Written by the sandboxed service, private to root.
      assert.equal((await t.ok(["stat", "-c", "%a %U", cache])).stdout.trim(), "600 root");
      type Cached = { key: string; desired: { artifacts: Record<string, string | number>[] } };
      const doc = JSON.parse(await Deno.readTextFile(`${t.guest.root}${cache}`)) as Cached;
      assert.ok(doc.key.includes(sha), doc.key);

      // A tick at the same commit reads the cache and leaves it as it was (a miss rewrites it).
      const written = await inode();
      assert.equal(await status(), "noop");
      assert.equal(await inode(), written, "the cache was used, not rebuilt");

      // Other bytes under the same key and digest: checked, refused, and loaded from git again.
      const config = doc.desired.artifacts.find((a) => a.kind === "config")!;
      const path = String(config.destination);
      const deployed = (await t.ok(["sha256sum", path])).stdout.split(" ")[0];
      assert.equal(deployed, config.sha256);
      const tampered = structuredClone(doc);
      tampered.desired.artifacts.find((a) => a.destination === path)!.content = btoa(
        "tampered = true\n",
      );
      await t.writeFile(cache, { content: JSON.stringify(tampered), mode: 0o600 });
      // Without the converged record, which would answer the tick before the cache is read.
      await t.ok(["rm", `${STATE_DIR}/converged.json`]);
      assert.equal(await status(), "noop");
      assert.equal((await t.ok(["sha256sum", path])).stdout.split(" ")[0], deployed);
      const rebuilt = JSON.parse(await Deno.readTextFile(`${t.guest.root}${cache}`)) as Cached;
      assert.deepEqual(rebuilt, doc, "the cache was rebuilt from the commit");

      // A hand edit is drift whatever the cache holds: the next tick restores the file.
      await t.ok(["sh", "-c", `echo edited-by-hand >> ${path}`]);
      const repaired = oneEvent(await runService(t));
      assert.equal(field(repaired, "CORE_OPS_STATUS"), "success");
      assert.deepEqual(lines(repaired, "CORE_OPS_DRIFT"), [path]);
      assert.equal((await t.ok(["sha256sum", path])).stdout.split(" ")[0], deployed);
    },
  },
  {
    name:
      "agent: http remote — converges; a failing revision exits 1 with one failure event, explain names it, backoff holds it, a fix applies at once",
    timeoutMs: 8 * 60_000,
    async run(t) {
      const homelab = await exampleOnTestHost();
      const sha = await setUpAgent(t, homelab, HTTP_URL, { host: "nas" });
      await startHttpRemote(t);

      const first = await runService(t);
      assert.equal(first.code, 0);
      const converged = oneEvent(first);
      assertEveryField(converged);
      assert.equal(field(converged, "CORE_OPS_STATUS"), "success");
      assert.equal(field(converged, "CORE_OPS_REVISION"), sha);
      await assertActive(t, HOMELAB_CONTAINERS);
      assert.equal((await statusJson(t)).repository, HTTP_URL);

      // A revision whose web container exits at once.
      const bad = await publish(t, { [NAS_WEB_DROPIN]: "[Container]\nExec=/bin/false\n" });
      const failed = await runService(t);
      assert.equal(failed.code, 1);
      assert.equal(failed.result, "exit-code");
      const failure = oneEvent(failed);
      assertEveryField(failure);
      assert.equal(field(failure, "CORE_OPS_STATUS"), "failure");
      assert.equal(field(failure, "CORE_OPS_REVISION"), bad);
      assert.match(field(failure, "CORE_OPS_PLAN_SUMMARY"), /\brestart=1\b/);
      assert.ok(lines(failure, "CORE_OPS_ACTIONS").includes("restart web.service"));
      assert.deepEqual(lines(failure, "CORE_OPS_FAILED_ARTIFACTS"), ["web.service"]);
      assert.equal(field(failure, "CORE_OPS_FAILURE_CLASS"), "verify");
      assert.match(field(failure, "CORE_OPS_FAILURE_REASON"), /web\.service/);
      // The failure is findable the way SPEC §4 says operators look for it.
      const failures = await runEvents(t, ["CORE_OPS_STATUS=failure"]);
      assert.deepEqual(failures.map((e) => e.CORE_OPS_RUN_ID), [failure.CORE_OPS_RUN_ID]);
      // Rolled back: the host runs the last good revision again.
      await assertActive(t, HOMELAB_CONTAINERS);
      assert.equal(
        await t.exists("/etc/containers/systemd/web.container.d/99-zz-e2e-revision.conf"),
        false,
      );
      assertMetrics(await checkedMetrics(t), {
        success: 0,
        revision: sha,
        consecutiveFailures: 1,
        actions: lines(failure, "CORE_OPS_ACTIONS"),
      });

      const last = await t.coreOps(["explain", "last"]);
      assert.equal(last.code, 0, describe(["core-ops", "explain", "last"], last));
      assert.match(last.stdout, /failure \(verify\)/, last.stdout);
      assert.match(last.stdout, /^\s+web\.service: .+/m, last.stdout);
      assert.match(last.stdout, new RegExp(bad), last.stdout);
      const unit = await t.coreOps(["explain", "web.service"]);
      assert.equal(unit.code, 0, describe(["core-ops", "explain", "web.service"], unit));
      assert.match(
        unit.stdout,
        new RegExp(`last change: run \\S+ of ${bad} \\(failure`),
        unit.stdout,
      );
      assert.match(unit.stdout, /restart web\.service: .+/, unit.stdout);

      // The next tick is within the backoff: nothing is re-applied, one backoff event.
      const web = await invocations(t, HOMELAB_CONTAINERS);
      const held = await runService(t);
      assert.equal(held.code, 1);
      const backoff = oneEvent(held);
      assertEveryField(backoff);
      assert.equal(field(backoff, "CORE_OPS_STATUS"), "failure");
      assert.equal(field(backoff, "CORE_OPS_REVISION"), bad);
      assert.match(field(backoff, "CORE_OPS_FAILURE_REASON"), /not retried before/);
      assert.deepEqual(lines(backoff, "CORE_OPS_ACTIONS"), []);
      assert.deepEqual(await invocations(t, HOMELAB_CONTAINERS), web);
      assertMetrics(await checkedMetrics(t), {
        success: 0,
        revision: sha,
        // The agent counts failed attempts; a tick held back by the backoff attempts nothing.
        consecutiveFailures: 1,
        actions: [],
      });

      // A fixing commit on the ref is tried at once, backoff or not.
      const fix = await publish(t, { [NAS_WEB_DROPIN]: "[Container]\nEnvironment=E2E_FIXED=1\n" });
      const fixed = await runService(t);
      assert.equal(fixed.code, 0);
      const applied = oneEvent(fixed);
      assert.equal(field(applied, "CORE_OPS_STATUS"), "success");
      assert.equal(field(applied, "CORE_OPS_REVISION"), fix);
      assert.ok(lines(applied, "CORE_OPS_ACTIONS").includes("restart web.service"));
      await assertActive(t, HOMELAB_CONTAINERS);
      assert.notEqual((await invocations(t, ["web.service"]))["web.service"], web["web.service"]);
      const env = await t.podman(["inspect", "--format", "{{.Config.Env}}", "web"]);
      assert.match(env.stdout, /E2E_FIXED=1/);
      assertMetrics(await checkedMetrics(t), {
        success: 1,
        revision: fix,
        consecutiveFailures: 0,
        actions: lines(applied, "CORE_OPS_ACTIONS"),
      });
    },
  },
  {
    name:
      "agent: remote unreachable — exit 75, a transient event, host untouched, no credentials shown",
    async run(t) {
      const sha = await setUpAgent(t, webService());
      assert.equal((await runService(t)).code, 0);
      const snapshot = await t.snapshot(TARGET_DIRS);
      const web = await invocations(t, ["web.service"]);

      for (
        const repo of [
          // Nothing listens on the discard port of the guest's loopback.
          "http://e2e:s3cret@127.0.0.1:9/core-ops.git",
          `file://${REMOTES}/missing.git`,
        ]
      ) {
        await publish(t, { "services/web/quadlet/web.container": container("# not fetched\n") });
        await configure(t, repo);
        const down = await runService(t);
        assert.equal(down.code, 75, repo);
        // 75 is a run that found nothing wrong with the host: the unit is not failed.
        assert.equal(down.result, "success", repo);
        const event = oneEvent(down);
        assertEveryField(event);
        assert.equal(field(event, "CORE_OPS_STATUS"), "failure");
        assert.equal(field(event, "CORE_OPS_FAILURE_CLASS"), "transient");
        assert.equal(field(event, "CORE_OPS_REVISION"), "");
        assert.notEqual(field(event, "CORE_OPS_FAILURE_REASON"), "");
        assert.equal(await t.snapshot(TARGET_DIRS), snapshot, repo);
        assert.deepEqual(await invocations(t, ["web.service"]), web);
        const st = await statusJson(t);
        assert.equal(st.last_applied_revision, sha);
        assert.equal((st.failure as { class: string }).class, "transient");
        // A credential in the URL shows up nowhere: event, state, the unit's log.
        const unitLog = await t.ok(["journalctl", "--no-pager", "-u", "core-ops.service"]);
        for (const text of [JSON.stringify(event), JSON.stringify(st), unitLog.stdout]) {
          assert.ok(!text.includes("s3cret"), text);
        }
      }
      // Transient failures do not count against the revision: no backoff.
      assert.equal((await statusJson(t) as { retry?: unknown }).retry ?? null, null);
    },
  },
  {
    name:
      "agent: a held lock exits 75; two agents at once — one runs; kill -9 mid-apply — the next run recovers",
    timeoutMs: 6 * 60_000,
    async run(t) {
      await setUpAgent(t, webService());
      assert.equal((await runService(t)).code, 0);
      const second = await publish(t, webService("Environment=E2E_REV=2\n"));
      const snapshot = await t.snapshot(TARGET_DIRS);
      const web = await invocations(t, ["web.service"]);

      // flock(1) holds the run lock while the agent tries to take it.
      const before = (await runEvents(t)).length;
      const held = await t.exec(["flock", LOCK, GUEST_CORE_OPS, "agent"], { timeoutMs: 60_000 });
      assert.equal(held.code, 75, describe(["flock", LOCK, "core-ops", "agent"], held));
      assert.match(held.stderr, /lock/);
      const heldEvent = oneEvent({ events: (await runEvents(t)).slice(before) });
      assert.equal(field(heldEvent, "CORE_OPS_FAILURE_CLASS"), "transient");
      assert.equal(await t.snapshot(TARGET_DIRS), snapshot);
      assert.deepEqual(await invocations(t, ["web.service"]), web);

      // Two agents started together: the one that gets the lock applies, the other exits 75.
      const both = await Promise.all([agentNow(t), agentNow(t)]);
      assert.deepEqual(
        both.map((r) => r.code).sort(),
        [0, 75],
        both.map((r) => describe(["core-ops", "agent"], r)).join("\n"),
      );
      const st = await statusJson(t);
      assert.equal(st.last_applied_revision, second);
      assert.notEqual((await invocations(t, ["web.service"]))["web.service"], web["web.service"]);

      // A revision whose container takes long to start; the agent is killed while it waits.
      const beforeSlow = await invocations(t, ["web.service"]);
      const slow = await publish(t, {
        "services/web/quadlet/web.container.d/50-slow.conf":
          "[Service]\nExecStartPre=/bin/sleep 8\n",
      });
      await t.ok(["systemctl", "start", "--no-block", "core-ops.service"]);
      await waitFor(60_000, "the agent to be mid-apply", async () => {
        const state = JSON.parse(await t.readFile(`${STATE_DIR}/state.json`));
        const unit = await t.unit("web.service", ["ActiveState"]);
        return state.status === "in_progress" && unit.ActiveState === "activating"
          ? true
          : undefined;
      });
      await t.ok(["systemctl", "kill", "--signal=SIGKILL", "core-ops.service"]);
      const killed = await waitFor(30_000, "the killed agent to be gone", async () => {
        const p = await t.unit("core-ops.service", ["ActiveState", "Result"]);
        return ["inactive", "failed"].includes(p.ActiveState) ? p : undefined;
      });
      assert.equal(killed.Result, "signal", JSON.stringify(killed));
      const interrupted = await statusJson(t);
      assert.equal(interrupted.status, "in_progress");
      assert.notEqual(interrupted.interrupted_run, null);

      const recovered = await runService(t);
      assert.equal(recovered.code, 0);
      const event = oneEvent(recovered);
      assert.match(field(event, "CORE_OPS_STATUS"), /^(success|noop)$/);
      assert.equal(field(event, "CORE_OPS_REVISION"), slow);
      const after = await statusJson(t);
      assert.equal(after.status, "success");
      assert.equal(after.interrupted_run, null);
      assert.equal(after.last_applied_revision, slow);
      assert.deepEqual(after.drift, []);
      // Every owned file is on disk with the content the manifest records.
      const manifest = JSON.parse(await t.readFile(`${STATE_DIR}/manifest.json`)) as {
        files: { path: string; sha256: string }[];
      };
      assert.ok(
        manifest.files.some((f) =>
          f.path === "/etc/containers/systemd/web.container.d/50-slow.conf"
        ),
        JSON.stringify(manifest.files),
      );
      for (const f of manifest.files) {
        const sum = await t.ok(["sha256sum", "--", f.path]);
        assert.equal(sum.stdout.split(" ")[0], f.sha256, f.path);
      }
      // The restart the killed run asked for is systemd's job now: it finishes, with the new drop-in.
      await waitFor(30_000, "web.service to come up", async () => {
        const p = await t.unit("web.service", ["ActiveState"]);
        return p.ActiveState === "active" ? true : undefined;
      });
      const up = await t.unit("web.service", ["InvocationID", "ExecStartPre"]);
      assert.notEqual(up.InvocationID, beforeSlow["web.service"]);
      // Quadlet merges the drop-in into the generated unit: its ExecStartPre is there.
      assert.match(up.ExecStartPre, /path=\/bin\/sleep .*argv\[\]=\/bin\/sleep 8/);
    },
  },
  {
    name:
      "agent: require-signed refuses an unsigned or foreign-signed commit (65) and applies an ssh-signed one",
    async run(t) {
      const signers = "/etc/core-ops/allowed_signers";
      for (const key of ["/root/e2e-signing-key", "/root/e2e-other-key"]) {
        await t.ok(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", key]);
      }
      const pub = (await t.readFile("/root/e2e-signing-key.pub")).trim();
      await t.writeFile(signers, `e2e@localhost ${pub}\n`);
      const unsigned = await setUpAgent(t, webService(), FILE_URL, {
        "require-signed": true,
        "allowed-signers": signers,
      });

      const commitSigned = async (key: string, message: string) => {
        await t.ok([
          "git",
          ...GIT_IDENTITY,
          "-c",
          "gpg.format=ssh",
          "-c",
          `user.signingkey=${key}`,
          "-C",
          REPO,
          "commit",
          "-q",
          "--allow-empty",
          "-S",
          "-m",
          message,
        ]);
        await pushMain(t);
        return (await t.ok(["git", "-C", REPO, "rev-parse", "HEAD"])).stdout.trim();
      };

      const refused = await runService(t);
      assert.equal(refused.code, 65);
      const event = oneEvent(refused);
      assertEveryField(event);
      assert.equal(field(event, "CORE_OPS_STATUS"), "failure");
      assert.equal(field(event, "CORE_OPS_REVISION"), unsigned);
      assert.equal(field(event, "CORE_OPS_FAILURE_CLASS"), "validation");
      assert.match(
        field(event, "CORE_OPS_FAILURE_REASON"),
        new RegExp(`${unsigned} is not signed`),
      );
      assert.equal(await t.exists("/etc/containers/systemd/web.container"), false);

      const foreign = await commitSigned("/root/e2e-other-key", "signed by a key nobody allowed");
      const alsoRefused = await runService(t);
      assert.equal(alsoRefused.code, 65);
      const foreignEvent = oneEvent(alsoRefused);
      assert.equal(field(foreignEvent, "CORE_OPS_REVISION"), foreign);
      assert.match(
        field(foreignEvent, "CORE_OPS_FAILURE_REASON"),
        /is not signed by a key in the allowed signers/,
      );
      assert.equal(await t.exists("/etc/containers/systemd/web.container"), false);

      const signed = await commitSigned("/root/e2e-signing-key", "signed by the allowed key");
      const applied = await runService(t);
      assert.equal(applied.code, 0);
      const ok = oneEvent(applied);
      assert.equal(field(ok, "CORE_OPS_STATUS"), "success");
      assert.equal(field(ok, "CORE_OPS_REVISION"), signed);
      await assertActive(t, ["web.service"]);
    },
  },
  {
    name:
      "agent: with journald stopped the run converges with the same exit codes; the event goes to stderr",
    async run(t) {
      await setUpAgent(t, webService());
      assert.equal((await runService(t)).code, 0);
      const next = await publish(t, webService("Environment=E2E_REV=2\n"));

      await t.stopJournald();

      const converged = await agentNow(t);
      assert.equal(converged.code, 0, describe(["core-ops", "agent"], converged));
      const [event, ...more] = stderrEvents(converged.stderr);
      assert.deepEqual(more, [], converged.stderr);
      assert.equal(event?.MESSAGE_ID, MESSAGE_ID, converged.stderr);
      assert.equal(event.SYSLOG_IDENTIFIER, "core-ops");
      assert.equal(event.CORE_OPS_STATUS, "success");
      assert.equal(event.CORE_OPS_REVISION, next);
      for (const name of EVENT_FIELDS) assert.equal(typeof event[name], "string", name);
      assert.equal((await statusJson(t)).last_applied_revision, next);

      const locked = await t.exec(["flock", LOCK, GUEST_CORE_OPS, "agent"], { timeoutMs: 60_000 });
      assert.equal(locked.code, 75, describe(["flock", LOCK, "core-ops", "agent"], locked));
      const [lockEvent, ...others] = stderrEvents(locked.stderr);
      assert.deepEqual(others, [], locked.stderr);
      assert.equal(lockEvent?.CORE_OPS_FAILURE_CLASS, "transient", locked.stderr);
      // Nothing brought journald back while the runs went on.
      await t.assertJournaldDown();

      await t.startJournald();
      for (const runId of [event.CORE_OPS_RUN_ID, lockEvent.CORE_OPS_RUN_ID]) {
        assert.deepEqual(await runEvents(t, [`CORE_OPS_RUN_ID=${runId}`]), []);
      }
    },
  },
];
