/**
 * Destination claims (src/source/claims.ts): one source per destination, and
 * no path deployed as a file by one source and as a directory by another.
 */
import assert from "node:assert/strict";
import { assertRefused, repo } from "../helpers/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

// --- issue 10: destinations ------------------------------------------------

Deno.test("a destination claimed as a file by one service and as a directory by another", () => {
  const error = assertRefused(
    memoryTree(repo({
      "services/web/service.yaml": "config-root: shared\n",
      "services/echo/service.yaml": "config-root: shared\n",
      "services/echo/config/app.conf/inner": "x\n",
    })),
    "services/echo/config/app.conf/inner",
    /\/etc\/shared\/app\.conf is a file from services\/web\/config\/app\.conf and a directory/,
  );
  assert.equal(error.diagnostics.length, 1);
  // The same path as a file twice is a destination claimed twice.
  assertRefused(
    memoryTree(repo({
      "services/web/service.yaml": "config-root: shared\n",
      "services/echo/service.yaml": "config-root: shared\n",
      "services/echo/config/app.conf": "x\n",
    })),
    "services/echo/config/app.conf",
    /two sources for one destination \/etc\/shared\/app\.conf/,
  );
});
