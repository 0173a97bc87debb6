/**
 * Issue 16's acceptance on the real host, through the shipped units (SPEC
 * §10): pause holds the host still and every surface says so, resume applies
 * the tip; rollback with the remote gone re-applies the previous generation
 * and pauses; explain takes the repository file's name; `--rev` as git takes
 * it, 64 for malformed and 66 for nothing; `adopt = true` converges a host
 * whose files already match and that has no manifest.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeFieldValue } from "../../../src/host/journal.ts";
import { describe, type Scenario } from "../lib/scenario.ts";
import {
  agentNow,
  assertActive,
  checkedMetrics,
  configure,
  field,
  FILE_URL,
  oneEvent,
  publish,
  REMOTE,
  runService,
  setUpAgent,
  statusJson,
} from "./agent.ts";
import { webService } from "./fixtures.ts";

const QUADLET = "/etc/containers/systemd/web.container";

/** Revision `n` of the web service: the container's description names it. */
function revision(n: number) {
  return webService(`Label=e2e.revision=${n}\n`);
}

export const operatorScenarios: Scenario[] = [
  {
    name:
      "operator: pause — a push is not applied and status, explain last, the event and the metrics say paused; resume applies the tip",
    timeoutMs: 6 * 60_000,
    async run(t) {
      const first = await setUpAgent(t, revision(1));
      assert.equal((await runService(t)).code, 0);
      const applied = await t.readFile(QUADLET);

      const paused = await t.coreOpsJson(["pause", "--reason", "e2e incident", "--json"]);
      assert.equal(paused.changed, true);
      const record = paused.paused as Record<string, string>;
      assert.equal(record.reason, "e2e incident");
      assert.equal(record.revision, first);
      assert.match(record.by, /^(uid 0|\S+)$/);
      const twice = await t.coreOps(["pause"]);
      assert.equal(twice.code, 0, describe(["core-ops", "pause"], twice));
      assert.match(twice.stdout, /^already paused: /);

      const tip = await publish(t, revision(2));
      const held = await runService(t);
      assert.equal(held.code, 0);
      const event = oneEvent(held);
      assert.equal(field(event, "CORE_OPS_STATUS"), "noop");
      assert.equal(decodeFieldValue(String(event.CORE_OPS_PAUSED)), "1");
      assert.equal(field(event, "CORE_OPS_REVISION"), first);
      assert.match(String(event.MESSAGE), /paused by .* since .*: e2e incident; applied nothing/);
      assert.equal(await t.readFile(QUADLET), applied, "the push was not applied");

      const st = await statusJson(t);
      assert.deepEqual(Object.keys(st.paused as object).sort(), [
        "by",
        "reason",
        "revision",
        "since",
      ]);
      assert.equal((st.last_run as { outcome: string }).outcome, "paused");
      assert.equal(st.last_applied_revision, first);
      assert.match((await t.coreOps(["status"])).stdout, /^PAUSED: .*e2e incident/m);
      assert.match((await t.coreOps(["explain", "last"])).stdout, /^PAUSED: the agent is/m);
      const metrics = await checkedMetrics(t);
      assert.equal(metrics.get("core_ops_paused"), 1);
      assert.equal(metrics.get("core_ops_last_run_success"), 1);

      // A hand apply still works (here of the applied commit, named relative to the tip).
      const hand = await t.coreOps(["apply", "--repo", FILE_URL, "--rev", "main~1"]);
      assert.equal(hand.code, 0, describe(["core-ops", "apply"], hand));
      assert.match(hand.stderr, /note: the agent is paused since .*this apply runs anyway/);
      assert.match(hand.stdout, new RegExp(`nothing to do: the host matches revision ${first}`));

      const resumed = await t.coreOpsJson(["resume", "--json"]);
      assert.equal(resumed.changed, true);
      const again = await t.coreOps(["resume"]);
      assert.match(again.stdout, /^not paused: /);
      const tracking = oneEvent(await runService(t));
      assert.equal(field(tracking, "CORE_OPS_STATUS"), "success");
      assert.equal(field(tracking, "CORE_OPS_REVISION"), tip);
      assert.match(await t.readFile(QUADLET), /e2e\.revision=2/);
      assert.equal((await checkedMetrics(t)).get("core_ops_paused"), 0);
      assert.equal((await statusJson(t)).paused, null);
    },
  },
  {
    name:
      "operator: rollback with the remote gone — the previous generation is re-applied, verified, and the agent paused",
    timeoutMs: 6 * 60_000,
    async run(t) {
      const first = await setUpAgent(t, revision(1));
      assert.equal((await runService(t)).code, 0);
      const second = await publish(t, revision(2));
      assert.equal(field(oneEvent(await runService(t)), "CORE_OPS_STATUS"), "success");
      assert.match(await t.readFile(QUADLET), /e2e\.revision=2/);
      const kept = (await statusJson(t)).generations as { generation: number; revision: string }[];
      assert.deepEqual(kept.map((g) => [g.generation, g.revision]), [[1, first], [2, second]]);

      await t.ok(["rm", "-rf", REMOTE]);
      const unknown = await t.coreOps(["rollback", "--to", "9"]);
      assert.equal(unknown.code, 66, describe(["core-ops", "rollback"], unknown));
      assert.match(unknown.stderr, /generation 9 is not among the kept generations[^]*kept: 1 /);

      const doc = await t.coreOpsJson(["rollback", "--json"]);
      assert.equal(doc.outcome, "success");
      assert.equal(doc.revision, first);
      assert.deepEqual(doc.rolled_back_to, {
        generation: 1,
        revision: first,
        applied: (kept[0] as unknown as { applied: string }).applied,
      });
      assert.equal((doc.paused as { reason: string }).reason, `rollback to ${first}`);
      assert.match(await t.readFile(QUADLET), /e2e\.revision=1/);
      await assertActive(t, ["web.service"]);
      const st = await statusJson(t);
      assert.equal(st.last_applied_revision, first);
      assert.equal(st.generation, 3);

      // The next tick, with the remote still gone, holds the host at the rollback.
      const held = oneEvent(await runService(t));
      assert.equal(field(held, "CORE_OPS_STATUS"), "noop");
      assert.equal(decodeFieldValue(String(held.CORE_OPS_PAUSED)), "1");
      assert.match(await t.readFile(QUADLET), /e2e\.revision=1/);
      const text = (await t.coreOps(["status"])).stdout;
      assert.match(text, new RegExp(`^PAUSED: .*\\(rollback to ${first}\\)`, "m"));
      assert.match(text, /^generations \(core-ops rollback --to N\):\n {2}3 /m);
    },
  },
  {
    name:
      "operator: explain by the repository file's name and path; --rev main~1 applies, malformed is 64, nothing 66",
    timeoutMs: 6 * 60_000,
    async run(t) {
      const first = await setUpAgent(t, revision(1));
      assert.equal((await runService(t)).code, 0);
      for (const target of ["web.container", "services/web/quadlet/web.container"]) {
        const e = await t.coreOpsJson(["explain", target, "--json"]);
        assert.equal(e.kind, "source");
        assert.equal(e.live_state, "read");
        assert.equal(
          (e.live as Record<string, { ActiveState: string }>)["web.service"]
            .ActiveState,
          "active",
        );
        const text = (await t.coreOps(["explain", target])).stdout;
        assert.match(
          text,
          /^ {2}\/etc\/containers\/systemd\/web\.container {2}from services\/web/m,
        );
        assert.match(text, /^live: web\.service active \(running\)/m);
      }
      await publish(t, revision(2));
      const plan = await t.coreOpsJson(["plan", "--repo", FILE_URL, "--rev", "main~1", "--json"]);
      assert.equal(plan.revision, first);
      const cases: [string[], number, RegExp][] = [
        [["--rev", "main..x"], 64, /"main\.\.x" \(--rev\) is not something git takes/],
        [["--rev", "main~9"], 66, /main~9 \(--rev\) names no commit in the history/],
        [["--rev", "0000dead"], 66, /names no commit of any branch or tag/],
      ];
      for (const [flags, code, pattern] of cases) {
        const r = await t.coreOps(["plan", "--repo", FILE_URL, ...flags]);
        assert.equal(r.code, code, describe(["core-ops", "plan", ...flags], r));
        assert.match(r.stderr, pattern);
      }
      // From agent.toml: the agent's 66 names where rev came from, never 75.
      await configure(t, FILE_URL, { rev: "main~9" });
      const agent = await agentNow(t);
      assert.equal(agent.code, 66, describe(["core-ops", "agent"], agent));
      assert.match(agent.stderr, /main~9 \(rev in agent\.toml\) names no commit/);
    },
  },
  {
    name:
      "operator: adopt = true — a host whose files match the revision and that has no manifest converges; a differing file stays a conflict",
    timeoutMs: 6 * 60_000,
    async run(t) {
      const files = revision(1);
      const sha = await setUpAgent(t, files, FILE_URL, { adopt: true });
      // The files as another tool left them: the same bytes, no core-ops state.
      for (const [source, content] of Object.entries(files)) {
        const name = source.split("/").at(-1)!;
        await t.writeFile(`/etc/containers/systemd/${name}`, content);
      }
      await t.writeFile(QUADLET, "[Container]\nImage=other\n");
      const conflict = await agentNow(t);
      assert.equal(conflict.code, 65, describe(["core-ops", "agent"], conflict));
      assert.match(
        conflict.stderr,
        /web\.container exists, is not owned by core-ops and differs from services\/web/,
      );
      assert.doesNotMatch(conflict.stderr, /data\.volume exists/, "matching files are taken");

      await t.writeFile(QUADLET, files["services/web/quadlet/web.container"]);
      const adopted = await agentNow(t, ["--retry-now"]);
      assert.equal(adopted.code, 0, describe(["core-ops", "agent"], adopted));
      const st = await statusJson(t);
      assert.equal(st.last_applied_revision, sha);
      assert.equal(st.owned_files, 3);
      await assertActive(t, ["web.service"]);
      assert.equal(field(oneEvent(await runService(t)), "CORE_OPS_STATUS"), "noop");
    },
  },
];
