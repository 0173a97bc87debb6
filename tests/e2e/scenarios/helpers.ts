/**
 * The guest is a real host and the scenario helpers read it correctly: a
 * quadlet runs as a container under systemd, and the systemctl, podman,
 * journald, file and git helpers all see what happened. Product scenarios
 * build on these, so a failure here points at the harness, not at core-ops.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Scenario } from "../lib/scenario.ts";
import { container } from "./fixtures.ts";

/** Host capabilities the product scenarios rely on. */
export const helperScenarios: Scenario[] = [
  {
    name: "harness: a quadlet container runs; systemctl/podman/journal helpers see it",
    async run(t) {
      await t.writeFile(
        "/etc/containers/systemd/probe.container",
        container("Volume=probe.volume:/data\n"),
      );
      await t.writeFile("/etc/containers/systemd/probe.volume", "[Volume]\nLabel=e2e=probe\n");
      await t.ok(["systemctl", "daemon-reload"]);
      await t.ok(["systemctl", "start", "probe.service"]);
      await t.assertUnit("probe.service", { LoadState: "loaded", ActiveState: "active" });
      await t.assertUnit("probe-volume.service", { LoadState: "loaded", ActiveState: "active" });
      const running = await t.podman(["ps", "--format", "{{.Names}}"]);
      assert.match(running.stdout, /^systemd-probe$/m);
      await t.podman(["volume", "exists", "systemd-probe"]);

      await t.ok(["systemd-cat", "-t", "core-ops-e2e-probe", "echo", "hello journal"]);
      const entries = await t.journal(["SYSLOG_IDENTIFIER=core-ops-e2e-probe"]);
      assert.equal(entries.at(-1)?.MESSAGE, "hello journal");

      await t.ok(["systemctl", "stop", "probe.service"]);
      await t.assertUnit("probe.service", { ActiveState: "inactive" });
    },
  },
  {
    name: "harness: file and git helpers write exactly what they are given",
    async run(t) {
      await t.writeFile("/srv/probe/secret", { content: "s3cret\n", mode: 0o600 });
      assert.equal((await t.ok(["stat", "-c", "%a", "/srv/probe/secret"])).stdout.trim(), "600");
      assert.equal(await t.readFile("/srv/probe/secret"), "s3cret\n");

      const first = await t.writeRepo("/srv/probe-repo", { "a/one.txt": "1\n" });
      assert.match(first, /^[0-9a-f]{40}$/);
      const second = await t.writeRepo("/srv/probe-repo", { "b.txt": "2\n" }, { replace: true });
      assert.notEqual(second, first);
      assert.equal(await t.exists("/srv/probe-repo/a/one.txt"), false);
      assert.equal(await t.readFile("/srv/probe-repo/b.txt"), "2\n");
      const clean = await t.ok(["git", "-C", "/srv/probe-repo", "status", "--porcelain"]);
      assert.equal(clean.stdout, "", "writeRepo left the work tree dirty");
    },
  },
];
