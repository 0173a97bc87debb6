/**
 * Property (SPEC §6): for any set of secrets and config files, no output the
 * CLI renders — plan (text, `--json`, `--diff`), apply (steps, summary,
 * `--json`), the audit event, status (text, `--json`), explain (an object
 * and `last`), the diagnostics of a refusal — and nothing in the state dir
 * contains a secret's plaintext; only the deployed file does. Each case
 * runs a first apply, a hand edit (drift), a rotation whose consumer fails
 * (rollback), and a secret for other recipients (refusal), through the run
 * core with fakes.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { CoreOpsError, renderDiagnostics } from "../../src/errors.ts";
import { renderDiff } from "../../src/plan/diff.ts";
import { auditEvent, eventFromReport } from "../../src/report/event.ts";
import { planJson, planText } from "../../src/report/plan_text.ts";
import { applyJson, applySummary, stepLine } from "../../src/report/run_text.ts";
import { applyRevision, planRevision } from "../../src/run/run.ts";
import { StateStore } from "../../src/state/store.ts";
import { gatherStatus, statusJson, statusText } from "../../src/cli/status.ts";
import { explainObject, lastText, objectText } from "../../src/cli/explain.ts";
import { encrypt, encryptArmored, newIdentity } from "../helpers/age.ts";
import { FakeFiles, FakeSystemd } from "../helpers/fakes.ts";
import { committed, runContext, STATE } from "../helpers/run_context.ts";
import { memoryTree } from "../helpers/repo.ts";
import type { RepoTree } from "../../src/tree.ts";

const host = await newIdentity();
const stranger = await newIdentity();

/** A plaintext no other output could contain by chance: a marker and random letters. */
const plaintext = fc.string({
  unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789"),
  minLength: 12,
  maxLength: 40,
}).map((s) => `PLANT${s}`);
const relName = fc.constantFrom("db-password", "api.token", ".env", "tls/key.pem", "a/b/c");

const scenario = fc.record({
  secrets: fc.uniqueArray(fc.tuple(relName, plaintext, fc.boolean()), {
    minLength: 1,
    maxLength: 4,
    selector: ([rel]) => rel,
  }),
  configs: fc.uniqueArray(fc.tuple(fc.constantFrom("app.conf", "b.conf", "x/y.ini"), plaintext), {
    maxLength: 3,
    selector: ([rel]) => rel,
  }),
  mount: fc.boolean(),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The repository of a scenario; `rotate` gives every secret a new plaintext. */
async function tree(s: Scenario, rotate: boolean, recipient = host.recipient): Promise<RepoTree> {
  const first = s.secrets[0][0];
  const web = "[Container]\nImage=localhost/busybox:latest\n" +
    (s.mount ? `Volume=/etc/web/${first}:/run/secrets/x:ro\n` : "") +
    "[Install]\nWantedBy=multi-user.target\n";
  const files: Record<string, string> = { "services/web/quadlet/web.container": web };
  for (const [rel, text] of s.configs) files[`services/web/config/${rel}`] = text;
  const t = memoryTree(files);
  for (const [rel, text, armored] of s.secrets) {
    const content = rotate ? `${text}-rotated` : text;
    const path = `services/web/secrets/${rel}.age`;
    const bytes = armored
      ? new TextEncoder().encode(await encryptArmored(content, recipient))
      : await encrypt(content, recipient);
    for (const dir of ["services/web/secrets", ...(rel.includes("/") ? dirsOf(path) : [])]) {
      if (!t.entries.some((e) => e.path === dir)) t.entries.push({ type: "dir", path: dir });
    }
    t.entries.push({ type: "file", path, size: bytes.length, content: bytes, worldReadable: true });
  }
  return t;
}

function dirsOf(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

function context(files: FakeFiles, systemd: FakeSystemd, t: RepoTree, rev: string) {
  return runContext({ files, systemd }, committed(t, rev), {
    secrets: {
      identity: "/etc/core-ops/age.key",
      readIdentity: () => Promise.resolve({ status: "ok", text: host.identity }),
    },
  });
}

Deno.test("property: no rendered output and nothing in the state dir holds a secret's plaintext", async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const files = new FakeFiles();
      const systemd = new FakeSystemd();
      const outputs: string[] = [];
      const first = await tree(s, false);
      const plan = async (t: RepoTree, rev: string) => {
        const p = await planRevision(context(files, systemd, t, rev));
        const current = new Map(
          await Promise.all(
            p.plan.actions.map(async (a) => [a.target, await files.read(a.target)] as const),
          ),
        );
        const report = { revision: p.revision, desired: p.desired, plan: p.plan, states: p.states };
        outputs.push(
          planText(report),
          planJson(report),
          renderDiff(p.plan.actions, p.desired.artifacts, current),
        );
      };
      const apply = async (t: RepoTree, rev: string) => {
        const ctx = context(files, systemd, t, rev);
        ctx.onStep = (phase, step) => outputs.push(stepLine(phase, step));
        const report = await applyRevision(ctx);
        outputs.push(applySummary(report), applyJson(report));
        outputs.push(JSON.stringify(auditEvent(eventFromReport(report, 1))));
        return report;
      };
      await plan(first, "r1");
      assert.equal((await apply(first, "r1")).outcome, "success");
      // A hand edit of the first secret: drift, shown and restored.
      const [rel, text] = s.secrets[0];
      files.put(`/etc/web/${rel}`, `${text}-by-hand`, 0o600);
      await plan(first, "r1");
      const status = await gatherStatus(STATE, files, systemd);
      assert.equal(status.drift.length, 1);
      outputs.push(statusText(status), statusJson(status));
      await apply(first, "r1");
      // A rotation whose consumer fails: rolled back to the first plaintexts.
      systemd.behaviour.set("web.service", "fails");
      const rotation = await apply(await tree(s, true), "r2");
      // Only a secret the container mounts restarts it (and fails, and is rolled back).
      assert.equal(rotation.outcome, s.mount ? "failure" : "success");
      const store = new StateStore(STATE, files);
      const state = await store.readState();
      const manifest = (await store.readManifest())!;
      const change = await store.readLastChange();
      assert.notEqual(change, null);
      outputs.push(lastText(state));
      for (const target of ["web.service", `/etc/web/${rel}`, "web"]) {
        outputs.push(
          objectText(await explainObject(target, state, change, manifest.files, systemd)),
        );
      }
      // A secret for other recipients: refused, the diagnostics rendered.
      const refusal = await applyRevision(
        context(files, systemd, await tree(s, false, stranger.recipient), "r3"),
      ).then(() => null, (e: unknown) => e);
      assert.ok(refusal instanceof CoreOpsError);
      outputs.push(renderDiagnostics(refusal.diagnostics));

      const decoder = new TextDecoder();
      const stateDir = [...files.files].filter(([p]) => p.startsWith(STATE + "/"))
        .map(([p, f]) => `${p}\n${decoder.decode(f.content)}`);
      for (const [rel, text] of s.secrets) {
        for (const plain of [text, `${text}-rotated`, `${text}-by-hand`]) {
          for (const out of [...outputs, ...stateDir]) {
            assert.ok(!out.includes(plain), `plaintext of ${rel} in:\n${out}`);
          }
        }
        const deployed = s.mount ? text : `${text}-rotated`;
        assert.equal(files.text(`/etc/web/${rel}`), deployed, "only the deployed file holds it");
      }
      // The config files are shown in the diff: the check above can see content.
      for (const [, text] of s.configs) {
        assert.ok(outputs.some((o) => o.includes(text)), "a config file's content is in the diff");
      }
    }),
    { numRuns: 25 },
  );
});
