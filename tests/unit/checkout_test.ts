/** The tree reader: what it records, and how read failures map to exit codes. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readRepoTree, sourceError } from "../../src/host/checkout.ts";
import { writeRepo } from "../helpers/repo.ts";

Deno.test("permission denied is exit 66 and says so; missing is 66 and says that", () => {
  const denied = sourceError(new Deno.errors.PermissionDenied("EACCES"), "/r/x", "x");
  assert.equal(denied.exitCode, 66);
  assert.match(denied.message, /permission denied/);
  const missing = sourceError(new Deno.errors.NotFound("ENOENT"), "/r/x", "x");
  assert.equal(missing.exitCode, 66);
  assert.match(missing.message, /does not exist/);
});

Deno.test("the walk skips reserved top-level names and reads only payload contents", async () => {
  const root = await writeRepo({
    ".git/config": "x",
    "_drafts/a": "x",
    "LICENSE": "text",
    "docs/a.md": "x",
    "services/a/config/x": "hello",
  });
  const tree = await readRepoTree(root);
  const paths = tree.entries.map((e) => e.path);
  assert.deepEqual(paths, [
    "LICENSE",
    "docs",
    "services",
    "services/a",
    "services/a/config",
    "services/a/config/x",
  ]);
  const license = tree.entries.find((e) => e.path === "LICENSE");
  assert.ok(license?.type === "file" && license.content === null);
  const x = tree.entries.find((e) => e.path === "services/a/config/x");
  assert.ok(
    x?.type === "file" && new TextDecoder().decode(x.content!) === "hello" && x.worldReadable,
  );
});

Deno.test("links inside the repository are followed; a link cycle does not hang the walk", async () => {
  const root = await writeRepo({
    "services/a/config/real.conf": "r",
    "services/b/quadlet/x.container": "[Container]\n",
  });
  await Deno.symlink("real.conf", join(root, "services/a/config/alias.conf"));
  await Deno.symlink("..", join(root, "services/a/config/loop"));
  const tree = await readRepoTree(root);
  const alias = tree.entries.find((e) => e.path === "services/a/config/alias.conf");
  assert.ok(alias?.type === "file" && new TextDecoder().decode(alias.content!) === "r");
  const loop = tree.entries.find((e) => e.path === "services/a/config/loop");
  assert.ok(loop?.type === "badlink" && loop.problem === "cycle");
  assert.ok(!tree.entries.some((e) => e.path.startsWith("services/a/config/loop/")));
});

Deno.test("a file readable only by its owner is recorded as not world-readable", async () => {
  const root = await writeRepo({ "services/a/config/secret": "s" });
  await Deno.chmod(join(root, "services/a/config/secret"), 0o600);
  const tree = await readRepoTree(root);
  const secret = tree.entries.find((e) => e.path === "services/a/config/secret");
  assert.ok(secret?.type === "file" && secret.worldReadable === false);
});
