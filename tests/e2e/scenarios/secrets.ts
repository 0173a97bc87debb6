/**
 * Secrets on the real test host (issue 17, SPEC §6): age files in the
 * repository, decrypted in memory by the agent in the shipped hardened
 * service, read by a container through a `Volume=` mount; the planted
 * plaintext searched in every output, the whole journal, the metrics and the
 * state dir; re-encryption, rotation, drift and rollback; and every bad input
 * refused with its exit code and nothing written.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MESSAGE_ID } from "../../../src/host/journal.ts";
import { armor } from "age-encryption";
import { encrypt, encryptArmored, newIdentity } from "../../helpers/age.ts";
import { describe, type Files, type Scenario, type ScenarioContext } from "../lib/scenario.ts";
import { container, REPO } from "./fixtures.ts";
import { FILE_URL, installAgent, publish, REMOTE, runService } from "./agent.ts";

const STATE = "/var/lib/core-ops";
const METRICS = `${STATE}/metrics.prom`;
const IDENTITY = "/etc/core-ops/age.key";
const SECRET = "/etc/web/db-password";
const TARGETS = ["/etc/containers/systemd", "/etc/web", "/etc/api"];

/** A plaintext found only where it is deployed: a marker and a random tail. */
function planted(label: string): string {
  return `PLANTED-${label}-${crypto.randomUUID().replaceAll("-", "")}`;
}

/** web reads the secret through a mount; api has a secret of its own (an env file). */
function revision(webSecret: string, apiSecret: string, failing = false): Files {
  const web = container(`ContainerName=web\nVolume=${SECRET}:/run/secrets/db-password:ro\n`);
  return {
    "services/web/quadlet/web.container": failing
      ? web.replace(/^Exec=.*$/m, "Exec=/bin/false")
      : web,
    "services/web/secrets/db-password.age": webSecret,
    "services/api/quadlet/api.container": container(
      "ContainerName=api\nEnvironmentFile=/etc/api/api.env\n",
    ),
    "services/api/secrets/api.env.age": apiSecret,
    "services/api/config/README.md": "ignored\n",
  };
}

/** The agent tracking the shared remote, with the identity and metrics in the state dir. */
async function installSecretsAgent(t: ScenarioContext): Promise<void> {
  await t.ok(["git", "init", "-q", "--bare", "-b", "main", REMOTE]);
  await installAgent(t, FILE_URL, {
    "verify-timeout": 60,
    "metrics-file": METRICS,
    "age-identity": IDENTITY,
  });
}

/** One run of the shipped core-ops.service; its exit code. */
async function serviceRun(t: ScenarioContext): Promise<number> {
  return (await runService(t)).code;
}

async function statusJson(t: ScenarioContext): Promise<Record<string, unknown>> {
  return await t.coreOpsJson(["status", "--json"]);
}

/** Reads a file in the running container. */
async function inContainer(t: ScenarioContext, name: string, path: string): Promise<string> {
  return (await t.podman(["exec", name, "cat", path])).stdout;
}

async function invocation(t: ScenarioContext, unit: string): Promise<string> {
  return (await t.unit(unit, ["InvocationID"])).InvocationID;
}

/** The journal (every entry), the state dir's files, the metrics, and `outputs`. */
async function everythingWritten(t: ScenarioContext, outputs: string[]): Promise<string[]> {
  await t.exec(["journalctl", "--sync"]);
  const journal = (await t.ok(["journalctl", "--no-pager", "-o", "json"])).stdout;
  const listed = (await t.ok(["find", STATE, "-type", "f"])).stdout.split("\n").filter(Boolean);
  const parts = [`journal: ${journal}`, ...outputs.map((o, i) => `output ${i}: ${o}`)];
  for (const f of listed) {
    // Binary objects (git packs, age files) are searched as bytes decoded leniently.
    parts.push(`${f}: ${(await t.exec(["cat", f])).stdout}`);
  }
  assert.ok(listed.includes(METRICS), `no metrics file among ${listed.join(", ")}`);
  return parts;
}

function assertNowhere(parts: string[], plaintexts: string[]): void {
  for (const part of parts) {
    for (const p of plaintexts) {
      const at = part.indexOf(p);
      assert.equal(at, -1, `a plaintext leaked: …${part.slice(Math.max(0, at - 200), at + 80)}…`);
    }
  }
}

/** Every core-ops output an operator can ask for. */
async function outputsOf(t: ScenarioContext): Promise<string[]> {
  const out: string[] = [];
  for (
    const args of [
      ["plan", "--repo", FILE_URL, "--rev", "main", "--diff"],
      ["plan", "--repo", FILE_URL, "--rev", "main", "--json"],
      ["validate", "--repo", FILE_URL, "--rev", "main"],
      ["status"],
      ["status", "--json"],
      ["explain", "last"],
      ["explain", "web.service"],
      ["explain", SECRET],
      ["explain", "--json", SECRET],
    ]
  ) {
    const r = await t.coreOps(args);
    out.push(r.stdout, r.stderr);
  }
  return out;
}

export const secretScenarios: Scenario[] = [
  {
    name:
      "secrets: a container reads its decrypted secret; re-encryption, rotation, drift, rollback; the plaintext is nowhere else",
    timeoutMs: 8 * 60_000,
    async run(t) {
      const host = await newIdentity();
      const [a, b, c, apiToken, byHand] = ["a", "b", "c", "api", "hand"].map(planted);
      const web = async (p: string) => await encryptArmored(p, host.recipient);
      // Encrypted anew for every revision: a new age file of the same plaintext each time.
      const apiFile = async () => await encryptArmored(`TOKEN=${apiToken}\n`, host.recipient);
      await t.writeFile(IDENTITY, { content: `# e2e host\n${host.identity}\n`, mode: 0o400 });
      await installSecretsAgent(t);
      const outputs: string[] = [];

      // First apply, by the hardened service: the container reads the plaintext.
      await publish(t, revision(await web(a), await apiFile()), {
        replace: true,
        message: "secrets A",
      });
      const code = await serviceRun(t);
      const journal = await t.ok(["journalctl", "-u", "core-ops.service", "--no-pager"]);
      assert.equal(code, 0, journal.stdout);
      assert.equal(await inContainer(t, "web", "/run/secrets/db-password"), a);
      assert.equal((await t.ok(["stat", "-c", "%a %U", SECRET])).stdout.trim(), "600 root");
      const env = (await t.podman(["exec", "api", "/bin/sh", "-c", 'echo "$TOKEN"'])).stdout.trim();
      assert.equal(env, apiToken, "api reads its EnvironmentFile secret");
      outputs.push(...await outputsOf(t));

      // The same plaintext encrypted again: nothing written, nothing restarted.
      const before = {
        web: await invocation(t, "web.service"),
        api: await invocation(t, "api.service"),
      };
      const stamp = (await t.ok(["stat", "-c", "%Y %i", SECRET])).stdout;
      await publish(t, revision(await web(a), await apiFile()), {
        replace: true,
        message: "secrets A, encrypted again",
      });
      assert.equal(await serviceRun(t), 0);
      const last = (await statusJson(t)).last_run as { outcome: string };
      assert.equal(last.outcome, "noop");
      assert.equal((await t.ok(["stat", "-c", "%Y %i", SECRET])).stdout, stamp, "rewritten");
      assert.equal(await invocation(t, "web.service"), before.web);

      // A new plaintext: rewritten, and only web (which mounts it) restarts.
      await publish(t, revision(await web(b), await apiFile()), {
        replace: true,
        message: "secrets B",
      });
      assert.equal(await serviceRun(t), 0);
      assert.equal(await inContainer(t, "web", "/run/secrets/db-password"), b);
      assert.notEqual(await invocation(t, "web.service"), before.web, "web was not restarted");
      assert.equal(await invocation(t, "api.service"), before.api, "api was restarted");

      // A hand edit: drift, named (never shown), restored by the next run.
      await t.writeFile(SECRET, { content: byHand, mode: 0o600 });
      const drift = (await statusJson(t)).drift as { path: string }[];
      assert.deepEqual(drift.map((d) => d.path), [SECRET]);
      outputs.push(...await outputsOf(t));
      assert.equal(await serviceRun(t), 0);
      assert.equal(await t.readFile(SECRET), b);

      // A new plaintext with a web that fails: rolled back to b, decrypted again.
      await publish(t, revision(await web(c), await apiFile(), true), {
        replace: true,
        message: "secrets C",
      });
      assert.equal(await serviceRun(t), 1);
      assert.equal(await t.readFile(SECRET), b, "rollback did not restore the previous plaintext");
      assert.equal(await inContainer(t, "web", "/run/secrets/db-password"), b);
      outputs.push(...await outputsOf(t));

      // The age files are in the objects store; no plaintext anywhere but the deployed files.
      const events = await t.journal([`MESSAGE_ID=${MESSAGE_ID}`]);
      assert.ok(events.length >= 5, `events: ${events.length}`);
      const parts = await everythingWritten(t, outputs);
      assert.ok(
        parts.some((p) => p.includes("-----BEGIN AGE ENCRYPTED FILE-----")),
        "no age file kept",
      );
      assertNowhere(parts, [a, b, c, apiToken, byHand]);
    },
  },
  {
    name: "secrets: bad identity or age files are refused with their exit code and nothing written",
    timeoutMs: 6 * 60_000,
    async run(t) {
      const host = await newIdentity();
      const stranger = await newIdentity();
      const p = planted("bad");
      const good = await encryptArmored(p, host.recipient);
      const api = await encryptArmored("TOKEN=x\n", host.recipient);
      // Cut inside the payload: the header is intact, so only decryption can tell.
      const binary = await encrypt(p, host.recipient);
      const truncated = armor.encode(binary.subarray(0, binary.length - 8));
      await t.writeFile(IDENTITY, { content: `${host.identity}\n`, mode: 0o400 });
      await t.writeFile("/etc/core-ops/agent.toml", `age-identity = "${IDENTITY}"\n`);
      const apply = async (files: Files, code: number, message: RegExp) => {
        await t.writeRepo(REPO, files, { replace: true });
        const snapshot = await t.snapshot([...TARGETS, `${STATE}/manifest.json`]);
        const r = await t.coreOps(["apply", "--source-repo", REPO]);
        assert.equal(r.code, code, describe(["apply"], r));
        assert.match(r.stderr, message);
        assert.ok(!(r.stdout + r.stderr).includes(p), "plaintext in the output");
        assert.equal(await t.snapshot([...TARGETS, `${STATE}/manifest.json`]), snapshot, "written");
        return r;
      };
      // Converge once, so "nothing written" also means "the old secret stays".
      await t.writeRepo(REPO, revision(good, api));
      const first = await t.coreOps(["apply", "--source-repo", REPO]);
      assert.equal(first.code, 0, describe(["apply"], first));

      const changed = revision(await encryptArmored(planted("new"), host.recipient), api);
      await t.ok(["rm", IDENTITY]);
      const missing = await apply(
        changed,
        1,
        /age identity \/etc\/core-ops\/age\.key \(setting age-identity\) does not exist/,
      );
      assert.match(missing.stderr, /hint: provision the host's identity/);
      await t.writeFile(IDENTITY, { content: `${host.identity}\n`, mode: 0o644 });
      await apply(changed, 1, /is readable by group or others \(mode 0644\)[\s\S]*chmod 0400/);
      await t.ok(["chmod", "0400", IDENTITY]);
      await t.ok(["chown", "nobody", IDENTITY]);
      await apply(changed, 1, /is owned by uid \d+, not root/);
      await t.ok(["chown", "root", IDENTITY]);
      await apply(
        revision(await encryptArmored(p, stranger.recipient), api),
        65,
        /services\/web\/secrets\/db-password\.age: secret encrypted for other recipients/,
      );
      await apply(revision(truncated, api), 65, /db-password\.age: corrupt age file/);
      await apply(
        revision(good + "trailing garbage\n", api),
        65,
        /db-password\.age: not a valid age file: malformed ASCII armor/,
      );
      await apply(
        { ...revision(good, api), "services/web/secrets/plain.txt": "x\n" },
        65,
        /services\/web\/secrets\/plain\.txt: a file in secrets\/ that is not named <name>\.age/,
      );
      assert.equal(await t.readFile(SECRET), p, "the applied secret stays");
      // With the host and the revision fixed, the change applies.
      await t.writeRepo(REPO, changed, { replace: true });
      const ok = await t.coreOps(["apply", "--source-repo", REPO]);
      assert.equal(ok.code, 0, describe(["apply"], ok));

      // The agent: a missing identity fails the tick with a failure event, and never backs
      // the revision off — once the identity is back, the very next tick applies it.
      await t.writeRepo(
        REPO,
        revision(await encryptArmored(planted("agent"), host.recipient), api),
      );
      await t.writeFile(
        "/etc/core-ops/agent.toml",
        `repo = "file://${REPO}"\nrev = "main"\nverify-settle = 1\nage-identity = "${IDENTITY}"\n`,
      );
      await t.ok(["mv", IDENTITY, `${IDENTITY}.away`]);
      const failed = await t.coreOps(["agent"]);
      assert.equal(failed.code, 1, describe(["agent"], failed));
      const status = await statusJson(t);
      assert.equal(status.retry, null, `backed off: ${JSON.stringify(status.retry)}`);
      const [event] = (await t.journal([`MESSAGE_ID=${MESSAGE_ID}`])).slice(-1);
      assert.equal(event.CORE_OPS_STATUS, "failure");
      assert.match(
        String(event.CORE_OPS_FAILURE_REASON),
        /\(setting age-identity\) does not exist/,
      );
      await t.ok(["mv", `${IDENTITY}.away`, IDENTITY]);
      const next = await t.coreOps(["agent"]);
      assert.equal(next.code, 0, describe(["agent"], next));
    },
  },
];
