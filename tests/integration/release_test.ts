/**
 * `deno task release` never ships what it could not build and check: with a
 * denort that is none (DENORT_BIN, DENORT_BIN_AARCH64) it fails, says why,
 * and leaves neither a binary nor a hash (an earlier pair included) of that
 * architecture in the output dir. No real denort can be had here (Deno's
 * release server is out of reach), so no test builds a working binary.
 */
import assert from "node:assert/strict";
import { artifactName } from "../../tools/release.ts";
import { denoRuntime, runnerFor, TARGETS } from "../../tools/targets.ts";

const ARTIFACT = artifactName("x86_64");
const AARCH64 = artifactName("aarch64");

const RELEASE = new URL("../../tools/release.ts", import.meta.url).pathname;

async function runRelease(out: string, env: Record<string, string>, arch = "x86_64") {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env",
      RELEASE,
      "--arch",
      arch,
      "--out",
      out,
    ],
    env: { ...env, NO_COLOR: "1" },
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
    const r = await runRelease(out, { DENORT_BIN: `${out}/no-such-denort` });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^release: x86_64: DENORT_BIN=.*no-such-denort is not a file$/m);
    assert.equal(r.stdout, "");
    assert.deepEqual(await listing(out), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("release: the deno CLI as DENORT_BIN_X86_64 is refused, nothing written", async () => {
  const out = await Deno.makeTempDir();
  try {
    // deno compile accepts any base binary; only running the result shows it ignores the program.
    const r = await runRelease(out, { DENORT_BIN_X86_64: Deno.execPath() });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /does not look like a denort/);
    assert.match(r.stderr, /No binary was written/);
    assert.deepEqual(await listing(out), []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("release: a missing DENORT_BIN_AARCH64 fails for aarch64 and removes its old pair", async () => {
  const out = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${out}/${AARCH64}`, "an earlier release\n");
    await Deno.writeTextFile(`${out}/${AARCH64}.sha512`, "0  x\n");
    // x86_64's pair is another architecture's: left alone.
    await Deno.writeTextFile(`${out}/${ARTIFACT}`, "x86_64\n");
    const r = await runRelease(out, { DENORT_BIN_AARCH64: `${out}/nothing` }, "aarch64");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^release: aarch64: DENORT_BIN_AARCH64=.*nothing is not a file$/m);
    assert.deepEqual(await listing(out), [ARTIFACT]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

const canRunAarch64 = (await runnerFor(TARGETS.aarch64)) !== undefined;

Deno.test({
  name: "release: aarch64 built on no aarch64 denort is refused (ELF machine, then running it)",
  ignore: !canRunAarch64,
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      // An x86_64 base: the result is no aarch64 binary at all.
      let r = await runRelease(out, { DENORT_BIN_AARCH64: Deno.execPath() }, "aarch64");
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /is an ELF for machine 0x3e, not aarch64 \(0xb7\)/);
      assert.deepEqual(await listing(out), []);
      // The aarch64 deno CLI (the pinned one, from npm): an aarch64 ELF that ignores the program.
      const work = await Deno.makeTempDir();
      try {
        const cli = await denoRuntime(TARGETS.aarch64, work);
        r = await runRelease(out, { DENORT_BIN_AARCH64: cli }, "aarch64");
      } finally {
        await Deno.remove(work, { recursive: true });
      }
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /qemu-aarch64.* --version` exited 0 printing "deno /);
      assert.match(r.stderr, /DENORT_BIN_AARCH64=.* does not look like a denort/);
      assert.deepEqual(await listing(out), []);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
