/**
 * Where a build comes from: what git says of a checkout (commit, dirty), and
 * the stamp the build tools write into the copy they package or compile.
 * tests/integration/package_test.ts builds a real package from a dirty tree.
 */
import assert from "node:assert/strict";
import { builtFrom as gitBuiltFrom } from "../../src/host/git.ts";
import { stampModule } from "../../tools/package.ts";

async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
    cwd,
    stdin: "null",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("version: git's answer for a checkout — clean, modified, untracked, no repository", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await gitBuiltFrom(dir), { commit: null, dirty: false });
    await git(dir, "init", "-q");
    await Deno.writeTextFile(`${dir}/main.ts`, "export {};\n");
    // A repository without a commit has no HEAD to name.
    assert.deepEqual(await gitBuiltFrom(dir), { commit: null, dirty: false });
    await git(dir, "add", "main.ts");
    await git(dir, "commit", "-q", "-m", "one");
    const head = await git(dir, "rev-parse", "HEAD");
    assert.match(head, /^[0-9a-f]{40}$/);
    assert.deepEqual(await gitBuiltFrom(dir), { commit: head, dirty: false });
    await Deno.writeTextFile(`${dir}/main.ts`, "export const x = 1;\n");
    assert.deepEqual(await gitBuiltFrom(dir), { commit: head, dirty: true });
    await git(dir, "checkout", "-q", "--", "main.ts");
    await Deno.writeTextFile(`${dir}/new.ts`, "export {};\n");
    assert.deepEqual(await gitBuiltFrom(dir), { commit: head, dirty: true });
    // Asked from a subdirectory, the answer is still the whole work tree's.
    await Deno.mkdir(`${dir}/sub`);
    assert.deepEqual(await gitBuiltFrom(`${dir}/sub`), { commit: head, dirty: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("version: a stamp module, as the packaged program loads it, holds what it was given", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stamps = [
      { commit: "0123456789abcdef0123456789abcdef01234567", dirty: true },
      { commit: null, dirty: false },
    ];
    for (const [i, built] of stamps.entries()) {
      // The type import is erased when it runs, so no version.ts is needed next to it.
      await Deno.writeTextFile(`${dir}/stamp${i}.ts`, stampModule(built));
      const module = await import(`file://${dir}/stamp${i}.ts`);
      assert.deepEqual(module.STAMP, built);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
