/**
 * Content checks (src/source/problems.ts): unit files and drop-ins must be
 * UTF-8 without NUL, refused at the line:column of the first bad byte;
 * config files are bytes and deployed as they are.
 */
import assert from "node:assert/strict";
import { assertRefused, bytesTree, load, repo } from "../helpers/layout.ts";
import { baseRepo, memoryTree } from "../helpers/repo.ts";

// --- issue 10: contents ----------------------------------------------------

Deno.test("unit files and drop-ins that are not UTF-8 or hold NUL are refused at line:column", () => {
  const enc = new TextEncoder();
  assertRefused(
    bytesTree(baseRepo(), {
      "services/web/quadlet/bad.container": new Uint8Array([
        ...enc.encode("[Container]\nImage=x"),
        0xff,
        0x0a,
      ]),
    }),
    "services/web/quadlet/bad.container:2:8",
    /not valid UTF-8/,
  );
  assertRefused(
    memoryTree(
      repo({ "services/echo/systemd/echo.socket": "[Socket]\nListenStream=77\u000077\n" }),
    ),
    "services/echo/systemd/echo.socket:2:16",
    /NUL byte/,
  );
  assertRefused(
    memoryTree(repo({ "hosts/h1/web/quadlet/web.container.d/50-x.conf": "[Container]\n\0" })),
    "hosts/h1/web/quadlet/web.container.d/50-x.conf:2:1",
    /NUL byte/,
  );
  assertRefused(
    bytesTree(baseRepo(), {
      "services/web/quadlet/web.container.d/20-x.conf": new Uint8Array([0xc3, 0x28]),
    }),
    "services/web/quadlet/web.container.d/20-x.conf:1:1",
    /not valid UTF-8/,
  );
  // Config files are bytes: binary content is deployed as it is.
  const state = load(bytesTree(baseRepo(), {
    "services/web/config/key.der": new Uint8Array([0, 0xff, 0xfe]),
  }));
  assert.ok(state.artifacts.some((a) => a.destination === "/etc/web/key.der"));
});
