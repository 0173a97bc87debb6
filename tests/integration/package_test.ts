/**
 * `deno task package` for real: a package built from a modified tree says so
 * in `--version`, and the package for the architecture this machine does not
 * run is built and its tree checked here, byte by byte where it matters (the
 * runtime's ELF header), and run under qemu-user where that is installed.
 */
import assert from "node:assert/strict";
import { buildPackage, BUNDLE_MAIN, foreignImport } from "../../tools/package.ts";
import { type Arch, hostArch, runnerFor, TARGETS } from "../../tools/targets.ts";
import { VERSION } from "../../src/version.ts";

const CHECKOUT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const PROGRAM = ["main.ts", "src", "deno.json", "deno.lock"];

async function run(argv: string[], cwd?: string) {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), cwd, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return { ...out, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const r = await run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], cwd);
  assert.ok(r.success, r.stderr);
  return r.stdout.trim();
}

Deno.test("package: foreignImport finds an import from outside the bundle, and only that", () => {
  assert.equal(
    foreignImport('import{a as b}from"./chunk-X.js";await import("./agent-Y.js")'),
    null,
  );
  assert.equal(foreignImport('const s="import from node:fs is text";'), null);
  assert.equal(foreignImport('import{createRequire as c}from"node:module";'), "node:module");
  assert.equal(foreignImport('await import ( "npm:zod@4" )'), "npm:zod@4");
  assert.equal(foreignImport("import 'https://example.com/x.js';"), "https://example.com/x.js");
  assert.equal(foreignImport('export*from"jsr:@std/path"'), "jsr:@std/path");
});

Deno.test("package: built from a modified tree, --version names its commit and says dirty", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "core-ops-package-test-" });
  try {
    // A checkout of the program with one commit, then an edit nobody committed.
    const source = `${tmp}/source`;
    await Deno.mkdir(source);
    for (const entry of PROGRAM) await run(["cp", "-R", `${CHECKOUT}/${entry}`, source]);
    await git(source, "init", "-q");
    await git(source, "add", ".");
    await git(source, "commit", "-q", "-m", "the program");
    const head = await git(source, "rev-parse", "HEAD");
    await Deno.writeTextFile(`${source}/src/errors.ts`, "\n// a local edit\n", { append: true });

    const info = await buildPackage(`${tmp}/package`, { source });
    const expected = `${VERSION} (commit ${head}, dirty)`;
    assert.equal(info.version, expected);
    assert.equal(info.checked, "launcher");
    // The package answers by itself, outside the source (which git could still ask).
    await Deno.remove(source, { recursive: true });
    const r = await run([
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      `${tmp}/package/bin/core-ops`,
      "--version",
    ], "/");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${expected}\n`);
    // The edit is what was packaged.
    assert.match(await Deno.readTextFile(`${tmp}/package/app/src/errors.ts`), /a local edit\n$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** The release architecture this machine does not run. */
const FOREIGN: Arch = hostArch() === "aarch64" ? "x86_64" : "aarch64";

Deno.test(`package: the ${FOREIGN} tree — its runtime, launcher, code and dependencies`, async () => {
  const tmp = await Deno.makeTempDir({ prefix: "core-ops-package-test-" });
  try {
    const dir = `${tmp}/core-ops-${FOREIGN}-linux`;
    const info = await buildPackage(dir, { arch: FOREIGN });
    assert.equal(info.arch, FOREIGN);

    // The runtime: a 64-bit little-endian ELF for the target's machine (e_machine, offset 18).
    const header = (await Deno.readFile(`${dir}/bin/deno`)).subarray(0, 20);
    assert.deepEqual([...header.subarray(0, 6)], [0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    const machine = header[18] | (header[19] << 8);
    assert.equal(machine, FOREIGN === "aarch64" ? 0xb7 : 0x3e);
    assert.equal((await Deno.stat(`${dir}/bin/deno`)).mode! & 0o111, 0o111);

    // The launcher: the same sh script as every architecture's, executable.
    const launcher = await Deno.readTextFile(`${dir}/bin/core-ops`);
    assert.match(launcher, /^#!\/bin\/sh\n/);
    assert.match(launcher, /^exec "\$root\/bin\/deno" \\$/m);
    assert.equal((await Deno.stat(`${dir}/bin/core-ops`)).mode! & 0o111, 0o111);

    // The code, stamped with this checkout's commit.
    for (const entry of PROGRAM) assert.ok(await Deno.stat(`${dir}/app/${entry}`), entry);
    assert.equal(info.version.startsWith(`${VERSION} (commit `), true, info.version);
    const stamp = await Deno.readTextFile(`${dir}/app/src/build_stamp.ts`);
    const commit = info.version.match(/\(commit ([0-9a-f]{40})/)?.[1];
    assert.ok(commit && stamp.includes(`"commit":"${commit}"`), stamp);

    // The bundle the launcher runs: that stamped source, importing nothing but its own chunks,
    // its source maps pointing back into app/src.
    assert.match(launcher, new RegExp(`/${BUNDLE_MAIN.replaceAll(".", "\\.")}' \\\\$`, "m"));
    const bundled = (await Array.fromAsync(Deno.readDir(`${dir}/app/bundle`))).map((e) => e.name);
    assert.ok(bundled.includes("main.js") && bundled.includes("main.js.map"), bundled.join(", "));
    let code = "";
    for (const name of bundled.filter((n) => n.endsWith(".js"))) {
      code += await Deno.readTextFile(`${dir}/app/bundle/${name}`);
    }
    assert.ok(code.includes(`"${commit}"`), "the stamp is bundled");
    assert.equal(foreignImport(code), null);
    const map = JSON.parse(await Deno.readTextFile(`${dir}/app/bundle/main.js.map`));
    assert.ok(map.sources.includes("../main.ts"), map.sources.join(", "));

    // Every npm package the packaged lock pins, and nothing but the npm cache.
    const lock = JSON.parse(await Deno.readTextFile(`${dir}/app/deno.lock`));
    const packages = Object.keys(lock.npm ?? {});
    assert.ok(packages.some((p: string) => p.startsWith("zod@")), packages.join(", "));
    for (const name of packages) {
      const at = name.indexOf("@", 1);
      const path = `${dir}/deno-dir/npm/registry.npmjs.org/${name.slice(0, at)}/` +
        `${name.slice(at + 1).split("_")[0]}/package.json`;
      assert.ok((await Deno.stat(path)).isFile, path);
    }
    const denoDir = (await Array.fromAsync(Deno.readDir(`${dir}/deno-dir`))).map((e) => e.name);
    assert.deepEqual(denoDir, ["npm"]);

    // Run where qemu-user can: the package's runtime itself, then the tool said it ran the code.
    const runner = await runnerFor(TARGETS[FOREIGN]);
    if (runner === undefined) {
      assert.equal(info.checked, "layout");
      return;
    }
    assert.equal(info.checked, "qemu");
    const r = await run([...runner, `${dir}/bin/deno`, "--version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^deno \\S+ \\(.*${TARGETS[FOREIGN].denoTarget}\\)`));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
