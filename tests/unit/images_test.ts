/** Pre-pull planning (src/plan/images.ts, SPEC §9): which images, in which order, for whom. */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import { pullActions } from "../../src/plan/images.ts";
import { describeUnits } from "../../src/plan/units.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import { memoryTree } from "../helpers/repo.ts";
import type { Action } from "../../src/model.ts";

const units = describeUnits(
  loadDesiredState(
    memoryTree({
      "services/a/quadlet/web.container": "[Container]\nImage=reg/app:2\n",
      "services/a/quadlet/worker.container": "[Container]\nImage=reg/app:2\nPull=always\n",
      "services/a/quadlet/db.container": "[Container]\nImage=reg/db:1\n",
      "services/a/quadlet/built.container": "[Container]\nImage=app.image\n",
      "services/a/quadlet/app.image": "[Image]\nImage=reg/app:2\n",
      "services/a/quadlet/frozen.container": "[Container]\nImage=reg/frozen:1\nPull=never\n",
    }),
    { host: null, dirs: DIRS },
  ).artifacts,
);

const restart = (target: string, reason = "web.container changed"): Action => ({
  op: "restart",
  target,
  reason,
});

Deno.test("pull: one action per changed or new image, with the first container's policy", () => {
  const pulls = pullActions(
    units,
    [
      restart("web.service"),
      { op: "start", target: "worker.service", reason: "new" },
      restart("db.service"),
    ],
    new Map([["web.service", "reg/app:1"], ["db.service", "reg/db:1"]]),
  );
  assert.deepEqual(pulls, [{
    op: "pull",
    target: "reg/app:2",
    policy: "missing",
    reason: "for web.service (image was reg/app:1), worker.service (new container)",
  }]);
});

Deno.test("pull: none for .image/.build images, Pull=never, unchanged or unknown images", () => {
  const pulls = pullActions(
    units,
    [
      { op: "start", target: "built.service", reason: "new" },
      { op: "start", target: "frozen.service", reason: "new" },
      restart("db.service"),
      restart("web.service"),
      { op: "start", target: "app-image.service", reason: "new" },
    ],
    new Map([["db.service", "reg/db:1"]]),
  );
  assert.deepEqual(pulls, []);
  // A container whose file is gone from the host (deleted by hand) pulls like a new one.
  assert.equal(
    pullActions(units, [restart("db.service")], new Map([["db.service", null]])).length,
    1,
  );
});
