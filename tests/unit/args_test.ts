/** The command-line parser: flags, positionals, help, and every bad argument a usage error (64). */
import assert from "node:assert/strict";
import { Command, Option, Program } from "../../src/cli/args.ts";
import { CoreOpsError } from "../../src/errors.ts";

function output() {
  const o = {
    out: "",
    err: "",
    stdout: (t: string) => void (o.out += t),
    stderr: (t: string) => void (o.err += t),
  };
  return o;
}

/** A toy program: `copy [options] <from> [to]` with a value flag and a switch. */
function toy() {
  const calls: unknown[][] = [];
  const copy = new Command("copy")
    .description("copy a thing somewhere, carefully and with a long description that wraps")
    .argument("<from>", "where from")
    .argument("[to]", "where to")
    .option("--state-dir <dir>", "a dir")
    .addOption(new Option("--dry-run", "change nothing"))
    .action((from, to, flags) => {
      // Typed from the spellings: from is a string, to optional, the flags camel-cased.
      const f: string = from;
      const t: string | undefined = to;
      const d: string | undefined = flags.stateDir;
      const n: true | undefined = flags.dryRun;
      // @ts-expect-error: an undeclared flag is a type error (so the flags type is not `never`)
      void flags.bogus;
      calls.push([f, t, d, n]);
    });
  const program = new Program("tool", "a tool", "1.2.3", [copy]);
  return { program, calls };
}

function usageError(hint?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof CoreOpsError, String(e));
    assert.equal(e.exitCode, 64);
    if (hint) assert.match(e.message + " " + (e.diagnostics[0].hint ?? ""), hint);
    return true;
  };
}

Deno.test("flags as '--flag value' or '--flag=value', switches, positionals, '--'", async () => {
  const { program, calls } = toy();
  const out = output();
  await program.parse(["copy", "a", "--state-dir", "/s", "--dry-run"], out);
  await program.parse(["copy", "--state-dir=/t", "a", "b"], out);
  await program.parse(["copy", "--", "--dry-run"], out);
  await program.parse(["copy", "a", "--state-dir", "-x"], out);
  assert.deepEqual(calls, [
    ["a", undefined, "/s", true],
    ["a", "b", "/t", undefined],
    ["--dry-run", undefined, undefined, undefined],
    ["a", undefined, "-x", undefined],
  ]);
  assert.equal(out.out + out.err, "");
});

Deno.test("bad arguments are usage errors naming them, with the nearest name as a hint", async () => {
  const cases: [string[], RegExp][] = [
    [["copy", "a", "--stat-dir", "/x"], /unknown option '--stat-dir'.*did you mean --state-dir\?/],
    [["copy", "a", "--state-dir"], /option '--state-dir <dir>' needs a value/],
    [["copy", "a", "--dry-run=yes"], /'--dry-run' takes no value/],
    [["copy", "a", "b", "c"], /too many arguments for 'copy': expected at most 2 arguments, got 3/],
    [["copy"], /missing required argument 'from'/],
    [["cpy"], /unknown command 'cpy'.*did you mean copy\?/],
    [["deploy"], /unknown command 'deploy'/],
    [["--bogus"], /unknown option '--bogus'/],
    [[], /no command given/],
  ];
  for (const [args, expected] of cases) {
    const { program, calls } = toy();
    await assert.rejects(program.parse(args, output()), usageError(expected), args.join(" "));
    assert.equal(calls.length, 0, args.join(" "));
  }
});

Deno.test("help: per command on stdout with every option and argument; the program lists commands", async () => {
  const { program, calls } = toy();
  const out = output();
  await program.parse(["copy", "--help"], out);
  assert.match(out.out, /^Usage: tool copy \[options\] <from> \[to\]\n\ncopy a thing/);
  for (
    const text of ["from  where from", "--state-dir <dir>", "a dir", "--dry-run", "-h, --help"]
  ) {
    assert.ok(out.out.includes(text), text);
  }
  assert.ok(out.out.split("\n").every((line) => line.length <= 80), "wrapped at 80 columns");
  assert.equal(calls.length, 0, "help does not run the action");

  const root = output();
  await program.parse(["--help"], root);
  assert.match(root.out, /^Usage: tool \[options\] \[command\]/);
  assert.match(root.out, /copy \[options\] <from> \[to\] +copy a thing/);
  const named = output();
  await program.parse(["help", "copy"], named);
  assert.equal(named.out, out.out);
  const version = output();
  await program.parse(["--version"], version);
  assert.equal(version.out, "1.2.3\n");
  const bare = output();
  await assert.rejects(program.parse([], bare), usageError());
  assert.match(bare.err, /^Usage: tool/, "no command: help on stderr");
});

Deno.test("an option spelling the parser cannot read is refused when declared", () => {
  assert.throws(() => new Option("-s", "short"), /bad option spelling/);
  assert.throws(() => new Option("--state-dir <Dir> extra", "x"), /bad option spelling/);
  assert.equal(new Option("--lock-path <path>", "x").attributeName(), "lockPath");
});
