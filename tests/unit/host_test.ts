/**
 * Host overlays (src/source/host.ts): a host drop-in must sort after every
 * base drop-in of its unit, because systemd applies drop-ins by file name.
 */
import assert from "node:assert/strict";
import { assertRefused, load, repo } from "../helpers/layout.ts";
import { memoryTree } from "../helpers/repo.ts";

Deno.test("a host drop-in that sorts before a base drop-in is refused, naming both", () => {
  const error = assertRefused(
    memoryTree(repo({
      "hosts/h1/web/quadlet/web.container.d/05-host.conf": "[Container]\nPodmanArgs=--memory=1g\n",
    })),
    "hosts/h1/web/quadlet/web.container.d/05-host.conf",
    /sorts before the base drop-in services\/web\/quadlet\/web\.container\.d\/10-mem\.conf/,
  );
  assert.match(error.diagnostics[0].hint ?? "", /rename it to sort after 10-mem\.conf/);
  // Sorting after every base drop-in is fine, also for native units.
  load(memoryTree(repo({
    "services/echo/systemd/echo.socket.d/10-base.conf": "[Socket]\n",
    "hosts/h1/echo/systemd/echo.socket.d/20-host.conf": "[Socket]\n",
    "hosts/h1/web/quadlet/web.container.d/10-mem2.conf": "[Container]\n",
  })));
  assertRefused(
    memoryTree(repo({
      "services/echo/systemd/echo.socket.d/50-base.conf": "[Socket]\n",
      "hosts/h1/echo/systemd/echo.socket.d/20-host.conf": "[Socket]\n",
    })),
    "hosts/h1/echo/systemd/echo.socket.d/20-host.conf",
    /sorts before the base drop-in services\/echo\/systemd\/echo\.socket\.d\/50-base\.conf/,
  );
});
