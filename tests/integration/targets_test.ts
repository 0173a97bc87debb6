/** The ELF check the build tools rely on to tell one architecture's binary from another's. */
import assert from "node:assert/strict";
import { checkElf, elfMachine, TARGETS } from "../../tools/targets.ts";

Deno.test("targets: e_machine of this Deno, and what is not a 64-bit ELF", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The running Deno is an x86_64 or aarch64 Linux ELF.
    const own = Deno.build.arch === "aarch64" ? TARGETS.aarch64 : TARGETS.x86_64;
    const other = own.arch === "aarch64" ? TARGETS.x86_64 : TARGETS.aarch64;
    assert.equal(await elfMachine(Deno.execPath()), own.elfMachine);
    await checkElf(Deno.execPath(), own);
    await assert.rejects(checkElf(Deno.execPath(), other), /is an ELF for machine 0x/);

    await Deno.writeTextFile(`${dir}/script`, "#!/bin/sh\necho not an ELF at all\n");
    assert.match(String(await elfMachine(`${dir}/script`)), /is not an ELF file$/);
    await Deno.writeFile(`${dir}/short`, new Uint8Array([0x7f, 0x45, 0x4c]));
    assert.match(String(await elfMachine(`${dir}/short`)), /not an ELF file \(3 bytes\)/);
    // A 32-bit ELF header (EI_CLASS 1) is none of ours.
    const elf32 = new Uint8Array(20);
    elf32.set([0x7f, 0x45, 0x4c, 0x46, 1, 1]);
    await Deno.writeFile(`${dir}/elf32`, elf32);
    assert.match(String(await elfMachine(`${dir}/elf32`)), /not a 64-bit little-endian ELF/);
    await assert.rejects(checkElf(`${dir}/elf32`, own), /not a 64-bit little-endian ELF/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
