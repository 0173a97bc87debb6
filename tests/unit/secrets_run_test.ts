/**
 * Secrets through the run core (SPEC §6) against recording fakes: deployed
 * decrypted with mode 0600, kept as age files in the objects store, planned
 * by keyed digest (re-encryption changes nothing, a new plaintext restarts
 * exactly its consumer), drift restored, rollback to the previous plaintext,
 * and every bad input refused before any write.
 */
import assert from "node:assert/strict";
import { CoreOpsError } from "../../src/errors.ts";
import { sha256 } from "../../src/digest.ts";
import { applyRevision, type ApplyRunContext, planRevision } from "../../src/run/run.ts";
import { StateStore } from "../../src/state/store.ts";
import { encryptArmored, newIdentity } from "../helpers/age.ts";
import { FakeFiles, FakeSystemd } from "../helpers/fakes.ts";
import { committed, runContext, STATE } from "../helpers/run_context.ts";
import { type Files } from "../helpers/repo.ts";

const ID_PATH = "/etc/core-ops/age.key";
const SECRET = "/etc/web/db-password";
const PLAIN_1 = "zebra-quartz-7781-plaintext";
const PLAIN_2 = "mango-fjord-2290-plaintext";

const WEB = "[Container]\nImage=localhost/busybox:latest\n" +
  `Volume=${SECRET}:/run/secrets/db-password:ro\n[Install]\nWantedBy=multi-user.target\n`;
const OTHER = "[Container]\nImage=x\nVolume=/etc/web/app.conf:/app.conf:ro\n" +
  "[Install]\nWantedBy=a\n";

const host = await newIdentity();
const stranger = await newIdentity();

async function repo(plaintext: string, recipient = host.recipient): Promise<Files> {
  return {
    "services/web/quadlet/web.container": WEB,
    "services/web/quadlet/other.container": OTHER,
    "services/web/config/app.conf": "greeting=hello\n",
    "services/web/secrets/db-password.age": await encryptArmored(plaintext, recipient),
  };
}

interface Host {
  files: FakeFiles;
  systemd: FakeSystemd;
  identity: string | null;
}

function newHost(): Host {
  return { files: new FakeFiles(), systemd: new FakeSystemd(), identity: host.identity + "\n" };
}

function context(h: Host, files: Files, revision: string): ApplyRunContext {
  return runContext(h, committed(files, revision), {
    retry: { initialSeconds: 60, maxSeconds: 3600 },
    secrets: {
      identity: ID_PATH,
      readIdentity: () =>
        Promise.resolve(
          h.identity === null ? { status: "missing" } : { status: "ok", text: h.identity },
        ),
    },
  });
}

/** Every file of the state dir, as text. */
function stateText(h: Host): string {
  const decoder = new TextDecoder();
  return [...h.files.files].filter(([p]) => p.startsWith(STATE + "/"))
    .map(([p, f]) => `${p}\n${decoder.decode(f.content)}`).join("\n");
}

/** Files outside the state dir: what a refused run must leave as it was. */
function hostFiles(h: Host): string[] {
  return [...h.files.files.keys()].filter((p) => !p.startsWith(STATE + "/")).sort();
}

Deno.test("first apply: the secret is deployed decrypted, 0600; the state dir keeps only its age file", async () => {
  const h = newHost();
  const files = await repo(PLAIN_1);
  const report = await applyRevision(context(h, files, "r1"));
  assert.equal(report.outcome, "success", report.failure?.reason);
  const deployed = h.files.files.get(SECRET)!;
  assert.equal(new TextDecoder().decode(deployed.content), PLAIN_1);
  assert.equal(deployed.mode, 0o600);
  const manifest = await new StateStore(STATE, h.files).readManifest();
  const entry = manifest!.files.find((f) => f.path === SECRET)!;
  const ageFile = new TextEncoder().encode(files["services/web/secrets/db-password.age"]);
  assert.deepEqual(entry.secret, { ciphertext: sha256(ageFile) });
  assert.notEqual(entry.sha256, sha256(new TextEncoder().encode(PLAIN_1)), "never a plain hash");
  assert.ok(h.files.files.has(`${STATE}/objects/${sha256(ageFile)}`), "the age file is kept");
  assert.equal(h.files.files.get(`${STATE}/secret-key`)?.mode, 0o600);
  const state = stateText(h);
  assert.ok(!state.includes(PLAIN_1), "no plaintext in the state dir");
  assert.ok(!state.includes(sha256(new TextEncoder().encode(PLAIN_1))), "no plain digest either");
  assert.ok(!JSON.stringify(report, (_k, v) => v instanceof Uint8Array ? "" : v).includes(PLAIN_1));
});

Deno.test("the same plaintext encrypted again writes nothing and restarts nothing", async () => {
  const h = newHost();
  await applyRevision(context(h, await repo(PLAIN_1), "r1"));
  h.systemd.calls.length = 0;
  h.files.calls.length = 0;
  const again = await repo(PLAIN_1);
  const report = await applyRevision(context(h, again, "r2"));
  assert.equal(report.outcome, "noop");
  assert.deepEqual(h.files.calls, []);
  assert.deepEqual(h.systemd.jobs(), []);
  // The new age file is what rollback decrypts from now on, and it is kept.
  const ageFile = sha256(new TextEncoder().encode(again["services/web/secrets/db-password.age"]));
  const manifest = await new StateStore(STATE, h.files).readManifest();
  assert.equal(manifest!.files.find((f) => f.path === SECRET)!.secret?.ciphertext, ageFile);
  assert.ok(h.files.files.has(`${STATE}/objects/${ageFile}`));
});

Deno.test("a new plaintext rewrites the secret and restarts exactly the container that mounts it", async () => {
  const h = newHost();
  await applyRevision(context(h, await repo(PLAIN_1), "r1"));
  h.systemd.calls.length = 0;
  h.files.calls.length = 0;
  const report = await applyRevision(context(h, await repo(PLAIN_2), "r2"));
  assert.equal(report.outcome, "success");
  assert.deepEqual(h.files.calls, [`write ${SECRET}`]);
  assert.deepEqual(h.systemd.jobs(), ["restart web.service"]);
  assert.equal(h.files.text(SECRET), PLAIN_2);
  assert.ok(!stateText(h).includes(PLAIN_2));
});

Deno.test("a hand-edited secret is drift, named without its content, and restored", async () => {
  const h = newHost();
  const files = await repo(PLAIN_1);
  await applyRevision(context(h, files, "r1"));
  h.files.put(SECRET, "edited-by-hand-4411", 0o600);
  const planned = await planRevision(context(h, files, "r1"));
  assert.deepEqual(planned.plan.drift.map((d) => d.path), [SECRET]);
  assert.ok(!JSON.stringify(planned.plan).includes("edited-by-hand-4411"));
  assert.deepEqual(planned.plan.actions.map((a) => `${a.op} ${a.target} ${a.reason}`), [
    `write ${SECRET} drift`,
    "restart web.service config /etc/web/db-password changed",
  ]);
  const report = await applyRevision(context(h, files, "r1"));
  assert.equal(report.outcome, "success");
  assert.equal(h.files.text(SECRET), PLAIN_1);
});

Deno.test("a failed apply rolls the secret back to the previous plaintext", async () => {
  const h = newHost();
  await applyRevision(context(h, await repo(PLAIN_1), "r1"));
  h.systemd.behaviour.set("web.service", "fails");
  const report = await applyRevision(context(h, await repo(PLAIN_2), "r2"));
  assert.equal(report.outcome, "failure");
  assert.equal(h.files.text(SECRET), PLAIN_1, "decrypted again from the kept age file");
  assert.equal(h.files.files.get(SECRET)!.mode, 0o600);
  assert.ok(!stateText(h).includes(PLAIN_2) && !stateText(h).includes(PLAIN_1));
});

Deno.test("plan without the identity plans from the age file and says it was not decrypted", async () => {
  const h = newHost();
  const files = await repo(PLAIN_1);
  await applyRevision(context(h, files, "r1"));
  h.identity = null;
  const same = await planRevision(context(h, files, "r1"));
  assert.deepEqual(same.plan.actions, [], "the applied age file: nothing to do");
  assert.match(same.plan.warnings.map((w) => w.message).join("\n"), /1 secret not decrypted/);
  const changed = await planRevision(context(h, await repo(PLAIN_2), "r2"));
  assert.deepEqual(changed.plan.actions.map((a) => `${a.op} ${a.target}`), [
    `write ${SECRET}`,
    "restart web.service",
  ]);
  assert.equal(changed.desired.artifacts.find((a) => a.secret)?.secret?.decrypted, false);
});

async function refused(h: Host, files: Files): Promise<CoreOpsError> {
  const before = hostFiles(h);
  const error = await applyRevision(context(h, files, "r9")).then(
    () => assert.fail("the run was not refused"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof CoreOpsError);
  assert.deepEqual(hostFiles(h), before, "nothing written");
  return error;
}

Deno.test("identity missing while the revision has secrets: a host fault before any write, never backed off", async () => {
  const h = newHost();
  h.identity = null;
  const error = await refused(h, await repo(PLAIN_1));
  assert.equal(error.exitCode, 1);
  assert.equal(error.blame, "host");
  assert.match(error.message, /age identity \/etc\/core-ops\/age\.key \(setting age-identity\)/);
  assert.match(error.diagnostics[0].hint ?? "", /0400/);
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.retry ?? null, null, "no backoff for a host fault");
  assert.ok(!h.files.files.has(`${STATE}/secret-key`), "not even the digest key");
});

Deno.test("an identity file that is not one: the line is named, never its content", async () => {
  const h = newHost();
  h.identity = `# host key\n${host.identity}\nAGE-SECRET-KEY-1NOTAKEY\n`;
  const error = await refused(h, await repo(PLAIN_1));
  assert.equal(error.blame, "host");
  assert.match(error.message, /line 3 is not an age identity/);
  assert.ok(!error.message.includes("NOTAKEY") && !error.message.includes(host.identity));
});

Deno.test("a secret for other recipients: 65 naming the file, nothing written", async () => {
  const h = newHost();
  const error = await refused(h, await repo(PLAIN_1, stranger.recipient));
  assert.equal(error.exitCode, 65);
  assert.equal(error.blame, "revision");
  assert.equal(error.diagnostics[0].location?.file, "services/web/secrets/db-password.age");
  assert.match(error.message, /encrypted for other recipients/);
  const state = await new StateStore(STATE, h.files).readState();
  assert.equal(state.retry?.revision, "r9", "the revision's fault: backed off");
});

Deno.test("a secret for several recipients opens with any one of them", async () => {
  const h = newHost();
  const files = await repo(PLAIN_1);
  files["services/web/secrets/db-password.age"] = await encryptArmored(
    PLAIN_1,
    stranger.recipient,
    host.recipient,
  );
  const report = await applyRevision(context(h, files, "r1"));
  assert.equal(report.outcome, "success");
  assert.equal(h.files.text(SECRET), PLAIN_1);
});

Deno.test("a config file that becomes a secret (and back): no false drift, written once with its new mode", async () => {
  const h = newHost();
  const asConfig = await repo(PLAIN_1);
  delete asConfig["services/web/secrets/db-password.age"];
  asConfig["services/web/config/db-password"] = PLAIN_1;
  await applyRevision(context(h, asConfig, "r1"));
  assert.equal(h.files.files.get(SECRET)?.mode, 0o644);
  const asSecret = await repo(PLAIN_1);
  const planned = await planRevision(context(h, asSecret, "r2"));
  assert.deepEqual(planned.plan.drift, []);
  assert.deepEqual(planned.plan.actions.map((a) => `${a.op} ${a.target} ${a.reason}`), [
    `write ${SECRET} changed`,
    "restart web.service config /etc/web/db-password changed",
  ]);
  assert.equal((await applyRevision(context(h, asSecret, "r2"))).outcome, "success");
  assert.equal(h.files.files.get(SECRET)?.mode, 0o600);
  assert.equal((await applyRevision(context(h, asSecret, "r2"))).outcome, "noop");
  const back = await planRevision(context(h, asConfig, "r3"));
  assert.deepEqual(back.plan.drift, []);
  assert.deepEqual(back.plan.actions.map((a) => `${a.op} ${a.target}`), [
    `write ${SECRET}`,
    "restart web.service",
  ]);
});

Deno.test("rollback to a kept generation decrypts its age file again; no generation holds a plaintext", async () => {
  const { generationSource } = await import("../../src/run/generation.ts");
  const h = newHost();
  assert.equal((await applyRevision(context(h, await repo(PLAIN_1), "r1"))).outcome, "success");
  assert.equal((await applyRevision(context(h, await repo(PLAIN_2), "r2"))).outcome, "success");
  assert.equal(h.files.text(SECRET), PLAIN_2);
  assert.doesNotMatch(stateText(h), new RegExp(`${PLAIN_1}|${PLAIN_2}`));

  const store = new StateStore(STATE, h.files);
  const { record, resolved } = await generationSource(store, "1");
  assert.equal(record.revision, "r1");
  const back = await applyRevision({ ...context(h, {}, "r1"), source: { resolved } });
  assert.equal(back.outcome, "success", back.failure?.reason);
  assert.equal(h.files.text(SECRET), PLAIN_1, "the previous plaintext is back");
  assert.equal(h.files.files.get(SECRET)?.mode, 0o600);
  assert.doesNotMatch(stateText(h), new RegExp(`${PLAIN_1}|${PLAIN_2}`));
});
