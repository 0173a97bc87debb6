/**
 * `deno task release` never ships what it could not build and check: with a
 * DENORT_BIN that is no denort it fails, says why, and leaves neither a
 * binary nor a hash (an earlier pair included) in the output dir.
 */
import assert from "node:assert/strict";
import { ARTIFACT } from "../../tools/release.ts";

const RELEASE = new URL("../../tools/release.ts", import.meta.url).pathname;

async function runRelease(out: string, denort: string) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env",
      RELEASE,
      "--out",
      out,
    ],
    env: { DENORT_BIN: denort, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  return {
    code: result.code,
    stdout: new TextDecoder().decode(result.stdout),
    stderr: new TextDecoder().decode(result.stderr),
  };
}

async function listing(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("release: a missing DENORT_BIN file fails clearly and removes the old pair", async () => {
  const out = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${out}/${ARTIFACT}`, "an earlier release\n");
    await Deno.writeTextFile(`${out}/${ARTIFACT}.sha512`, "0  x\n");
    const r = await runRelease(out, `${out}/no-such-denort`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^release: DENORT_BIN=.*no-such-denort is not a file$/m);
    assert.equal(r.stdout, "");
    assert.deepEqual(await listing(out), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("release: the deno CLI as DENORT_BIN is refused, nothing written", async () => {
  const out = await Deno.makeTempDir();
  try {
    // deno compile accepts any base binary; only running the result shows it ignores the program.
    const r = await runRelease(out, Deno.execPath());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /does not look like a denort/);
    assert.match(r.stderr, /No binary was written/);
    assert.deepEqual(await listing(out), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
