/**
 * `core-ops status` over the run core's records: the units it owns with their
 * scope, and the containers `podman auto-update` may change (SPEC §9), read
 * from their files on the host with drop-ins applied in order.
 */
import assert from "node:assert/strict";
import { gatherStatus, statusJson, statusText } from "../../src/cli/status.ts";
import { applyRevision } from "../../src/run/run.ts";
import { FakeFiles, FakeSystemd, FakeUsers } from "../helpers/fakes.ts";
import { committed, runContext, STATE } from "../helpers/run_context.ts";

const CONTAINER = (extra: string) =>
  `[Container]\nImage=localhost/busybox:latest\nPull=never\n${extra}[Install]\nWantedBy=multi-user.target\n`;

Deno.test("status: AutoUpdate= of owned containers, drop-ins applied last; scope of each unit", async () => {
  const host = { files: new FakeFiles(), systemd: new FakeSystemd() };
  host.systemd.running("user@1001.service");
  const users = new FakeUsers({ alice: 1001 });
  const files = {
    "services/web/quadlet/web.container": CONTAINER("AutoUpdate=registry\n"),
    "services/web/quadlet/web.container.d/50-local.conf": "[Container]\nAutoUpdate=local\n",
    "services/db/quadlet/db.container": CONTAINER(""),
    "services/app/service.yaml": "user: alice\n",
    "services/app/quadlet/app.container": CONTAINER("AutoUpdate=registry\n"),
  };
  const report = await applyRevision(runContext(host, committed(files, "r1"), { users }));
  assert.equal(report.outcome, "success");

  const status = await gatherStatus(STATE, host.files, host.systemd, users);
  assert.deepEqual(
    [...status.autoUpdate],
    [["alice:app.service", "registry"], ["web.service", "local"]].sort(),
  );
  assert.match(statusText(status), /auto-update: web\.service \(AutoUpdate=local\)/);
  const doc = JSON.parse(statusJson(status));
  assert.deepEqual(doc.auto_update, { "alice:app.service": "registry", "web.service": "local" });
  assert.deepEqual(doc.units["alice:app.service"].scope, { user: "alice", uid: 1001 });
  assert.equal(doc.units["db.service"].scope, "system");
});
