/** Dependency facts read from the unit files. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { describeUnits, mountsPath } from "../../src/plan/units.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

Deno.test("quadlet references become unit dependencies and config paths", () => {
  const state = loadDesiredState(
    memoryTree({
      "services/a/quadlet/app.container": [
        "[Unit]",
        "Requires=db.container",
        "After=network-online.target",
        "[Container]",
        "Image=app.build",
        "Volume=data.volume:/data:Z",
        "Volume=/etc/a/app.yaml:/app.yaml:ro",
        "Network=net.network:ip=10.0.0.5",
        "Pod=p.pod",
        "EnvironmentFile=-/etc/a/env",
        "Mount=type=bind,source=/etc/a/certs,destination=/certs",
        "[Install]",
        "WantedBy=multi-user.target",
      ].join("\n"),
      "services/a/quadlet/db.container": "[Container]\nImage=x\n",
      "services/a/quadlet/data.volume": "[Volume]\n",
      "services/a/quadlet/net.network": "[Network]\n",
      "services/a/quadlet/p.pod": "[Pod]\nServiceName=pod-a\n",
      "services/a/quadlet/app.build": "[Build]\nImageTag=x\n",
    }),
    { host: null, dirs: DIRS },
  );
  const app = describeUnits(state.artifacts).find((u) => u.unit === "app.service")!;
  assert.deepEqual(app.dependsOn, [
    "data-volume.service",
    "net-network.service",
    "pod-a.service",
    "app-build.service",
    "db.service",
  ]);
  assert.deepEqual(app.configPaths, ["/etc/a/app.yaml", "/etc/a/env", "/etc/a/certs"]);
  assert.equal(app.hasInstall, true);
});

Deno.test("sockets, timers and paths name the units they trigger", () => {
  const state = loadDesiredState(
    memoryTree({
      "services/a/systemd/e.socket": "[Socket]\nAccept=yes\n",
      "services/a/systemd/e@.service": "[Service]\n",
      "services/a/systemd/t.timer": "[Timer]\nUnit=job.service\n",
      "services/a/systemd/job.service": "[Service]\n",
      "services/a/systemd/w.path": "[Path]\n",
      "services/a/systemd/w.service": "[Service]\n",
    }),
    { host: null, dirs: DIRS },
  );
  const units = new Map(describeUnits(state.artifacts).map((u) => [u.unit, u]));
  assert.equal(units.get("e@.service")!.triggeredBy, "e.socket");
  assert.equal(units.get("e@.service")!.template, true);
  assert.equal(units.get("job.service")!.triggeredBy, "t.timer");
  assert.equal(units.get("w.service")!.triggeredBy, "w.path");
});

Deno.test("an automount triggers its mount: the mount is not brought up eagerly", () => {
  const state = loadDesiredState(
    memoryTree({
      "services/nfs/systemd/mnt-data.mount": "[Mount]\nWhat=nas:/d\nWhere=/mnt/data\n",
      "services/nfs/systemd/mnt-data.automount": "[Automount]\nWhere=/mnt/data\n",
    }),
    { host: null, dirs: DIRS },
  );
  const units = new Map(describeUnits(state.artifacts).map((u) => [u.unit, u]));
  assert.equal(units.get("mnt-data.mount")!.triggeredBy, "mnt-data.automount");
  assert.equal(units.get("mnt-data.automount")!.triggeredBy, null);
});

Deno.test("a mounted path covers itself and what lies below it, nothing beside it", () => {
  assert.ok(mountsPath(["/etc/a/conf.d"], "/etc/a/conf.d/x.conf"));
  assert.ok(mountsPath(["/etc/a/conf.d/"], "/etc/a/conf.d/x.conf"));
  assert.ok(mountsPath(["/etc/a/x"], "/etc/a/x"));
  assert.ok(!mountsPath(["/etc/a/conf"], "/etc/a/conf.d/x.conf"));
});
