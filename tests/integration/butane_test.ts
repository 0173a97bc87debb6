/**
 * The e2e suite's test-only Butane translator (tests/e2e/lib/butane.ts): it
 * reads YAML as Butane does, refuses what it does not know, and turns the
 * shipped butane/core-ops.bu into what Ignition needs. ignition-validate and
 * the real Ignition check its output again in the e2e suite.
 */
import assert from "node:assert/strict";
import { ZodError } from "zod";
import { parseButane, translate } from "../e2e/lib/butane.ts";

const CHECKOUT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

function decodeDataUrl(url: string): string {
  const prefix = "data:;base64,";
  assert.ok(url.startsWith(prefix), url);
  const binary = atob(url.slice(prefix.length));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

const HEAD = "variant: fcos\nversion: 1.4.0\n";

Deno.test("butane: modes are YAML 1.1 octal, as in Butane", () => {
  const config = parseButane(`${HEAD}storage:\n  files:\n    - path: /a\n      mode: 0640\n`);
  assert.equal(config.storage?.files?.[0].mode, 0o640);
});

Deno.test("butane: inline contents become a data URL with the exact bytes", async () => {
  const text = 'a = "b" # 100% ünïcode\n\nend\n';
  const yaml = `${HEAD}storage:\n  files:\n    - path: /a\n      contents:\n        inline: |\n` +
    text.split("\n").slice(0, -1).map((l) => (l ? `          ${l}` : "")).join("\n") + "\n";
  const ignition = await translate(parseButane(yaml), "/nonexistent");
  assert.equal(ignition.ignition.version, "3.3.0");
  assert.equal(decodeDataUrl(ignition.storage?.files?.[0].contents?.source ?? ""), text);
});

Deno.test("butane: contents.local must stay inside --files-dir", async () => {
  for (const local of ["../etc/passwd", "/etc/passwd", "a/../../b"]) {
    const config = parseButane(
      `${HEAD}storage:\n  files:\n    - path: /a\n      contents:\n        local: ${local}\n`,
    );
    await assert.rejects(translate(config, CHECKOUT), /relative to --files-dir/);
  }
});

Deno.test("butane: anything outside the supported subset is refused", () => {
  for (
    const yaml of [
      `${HEAD}storage:\n  links:\n    - path: /a\n      target: /b\n`,
      `${HEAD}passwd:\n  users:\n    - name: a\n      password_hash: x\n`,
      `variant: fcos\nversion: 1.5.0\n`,
      `${HEAD}storage:\n  files:\n    - path: /a\n      contents:\n        inline: x\n        local: y\n`,
      `${HEAD}storage:\n  files:\n    - path: /a\n      contents:\n        inline: x\n` +
      `        verification:\n          hash: sha512-00\n`,
    ]
  ) {
    assert.throws(() => parseButane(yaml), (e) => e instanceof ZodError, yaml);
  }
});

Deno.test("butane: the shipped core-ops.bu installs the binary, agent.toml, the units; enables the timer and the trigger", async () => {
  const config = parseButane(await Deno.readTextFile(`${CHECKOUT}/butane/core-ops.bu`));
  const ignition = await translate(config, CHECKOUT);
  const files = new Map((ignition.storage?.files ?? []).map((f) => [f.path, f]));
  const binary = files.get("/usr/local/bin/core-ops");
  assert.equal(binary?.mode, 0o755);
  assert.match(binary?.contents?.source ?? "", /^https:\/\//);
  assert.match(binary?.contents?.verification?.hash ?? "", /^sha512-[0-9a-f]{128}$/);
  for (
    const unit of [
      "core-ops.service",
      "core-ops.timer",
      "core-ops-trigger.path",
      "core-ops-webhook.socket",
      "core-ops-webhook@.service",
    ]
  ) {
    const file = files.get(`/etc/systemd/system/${unit}`);
    assert.equal(file?.mode, 0o644);
    assert.equal(
      decodeDataUrl(file?.contents?.source ?? ""),
      await Deno.readTextFile(`${CHECKOUT}/systemd/${unit}`),
    );
  }
  const toml = decodeDataUrl(files.get("/etc/core-ops/agent.toml")?.contents?.source ?? "");
  assert.match(toml, /^repo = "/m);
  assert.deepEqual(ignition.systemd?.units, [
    { name: "core-ops.timer", enabled: true },
    { name: "core-ops-trigger.path", enabled: true },
  ]);
});

Deno.test("butane: core-ops-user.bu creates a lingering login and grants the agent CAP_CHOWN", async () => {
  const config = parseButane(await Deno.readTextFile(`${CHECKOUT}/butane/core-ops-user.bu`));
  const ignition = await translate(config, CHECKOUT);
  const user = ignition.passwd?.users[0];
  assert.equal(user?.name, "apps");
  assert.equal(typeof user?.uid, "number");
  const files = new Map((ignition.storage?.files ?? []).map((f) => [f.path, f]));
  const linger = files.get(`/var/lib/systemd/linger/${user?.name}`);
  assert.equal(decodeDataUrl(linger?.contents?.source ?? ""), "", "lingering is an empty file");
  const dropin = files.get("/etc/systemd/system/core-ops.service.d/user-services.conf");
  assert.equal(
    decodeDataUrl(dropin?.contents?.source ?? ""),
    await Deno.readTextFile(`${CHECKOUT}/systemd/core-ops.service.d/user-services.conf`),
  );
});
