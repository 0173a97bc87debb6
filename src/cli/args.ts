/**
 * The command line, without a framework: commands declared in a chain
 * (`description`, `argument`, `option`, `action`), typed from their flag
 * spellings, parsed from `Deno.args`, with per-command `--help`. Written here
 * because commander's Node built-ins cost ~13 ms of CPU on every start of the
 * agent's module graph (BENCHMARKS.md, "CLI start-up"), and no typed npm
 * parser measured cheaper does subcommands, help and exit-64 usage errors.
 *
 * Every problem with the arguments is a usage error (exit 64) naming the
 * argument, with a hint; `--help` prints to stdout and exits 0.
 *
 * @module
 */
import { usage } from "../errors.ts";
import type { Camel } from "../settings/table.ts";

/** Where help goes; the program's output. */
export interface HelpOutput {
  stdout(text: string): void;
}

/** `--state-dir <dir>` → `{ stateDir?: string }`; a switch `--json` → `{ json?: true }`. */
export type FlagsOf<U extends string> = U extends `--${infer N} <${string}>`
  ? { [K in Camel<N>]?: string }
  : U extends `--${infer N}` ? { [K in Camel<N>]?: true }
  : never;

/** `<target>` is required (a string), `[source]` optional. */
type ArgOf<U extends string> = U extends `<${string}>` ? string : string | undefined;

/** No flags yet. */
type None = Record<never, never>;

/** One flag: `--name <value>` or a switch `--name`, with its help. */
export class Option<U extends string = string> {
  /** `--name`. */
  readonly long: string;
  /** Whether the flag takes a value. */
  readonly takesValue: boolean;

  constructor(readonly usage: U, readonly description: string) {
    const match = /^(--[a-z][a-z0-9-]*)( <[a-z]+>)?$/.exec(usage);
    if (match === null) throw new Error(`bad option spelling: ${usage}`);
    this.long = match[1];
    this.takesValue = match[2] !== undefined;
  }

  /** The key its value is stored under: `--state-dir` → `stateDir`. */
  attributeName(): string {
    return this.long.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  }
}

/** A command: its positional arguments `A` and flags `O`, typed from their spellings. */
export class Command<A extends unknown[] = [], O = None> {
  readonly options: Option[] = [];
  private readonly args: { name: string; required: boolean; description: string }[] = [];
  private about = "";
  private run: ((...args: unknown[]) => void | Promise<void>) | null = null;

  constructor(readonly name: string) {}

  /** One line saying what the command does. */
  description(text: string): this {
    this.about = text;
    return this;
  }

  /** A positional argument: `<name>` required, `[name]` optional. */
  argument<U extends string>(spelling: U, description: string): Command<[...A, ArgOf<U>], O> {
    const required = spelling.startsWith("<");
    this.args.push({ name: spelling.slice(1, -1), required, description });
    return this as unknown as Command<[...A, ArgOf<U>], O>;
  }

  /** A flag, spelled `--name <value>` or `--name`. */
  option<U extends string>(spelling: U, description: string): Command<A, O & FlagsOf<U>> {
    return this.addOption(new Option(spelling, description));
  }

  /** A flag made elsewhere (shared among commands). */
  addOption<U extends string>(option: Option<U>): Command<A, O & FlagsOf<U>> {
    this.options.push(option);
    // The flag's value is stored under attributeName(), which FlagsOf<U> spells at the type level.
    return this as unknown as Command<A, O & FlagsOf<U>>;
  }

  /** What the command does, given its positional arguments and then its flags. */
  action(fn: (...args: [...A, O]) => void | Promise<void>): this {
    this.run = fn as (...args: unknown[]) => void | Promise<void>;
    return this;
  }

  /** `plan [options] [source]`. */
  usageLine(): string {
    const args = this.args.map((a) => (a.required ? `<${a.name}>` : `[${a.name}]`));
    return [this.name, "[options]", ...args].join(" ");
  }

  /** The command's `--help`. */
  helpText(program: string): string {
    const sections = [`Usage: ${program} ${this.usageLine()}`, this.about];
    if (this.args.length > 0) {
      sections.push("Arguments:\n" + table(this.args.map((a) => [a.name, a.description])));
    }
    const options: [string, string][] = this.options.map((o) => [o.usage, o.description]);
    options.push(["-h, --help", "display help for command"]);
    sections.push("Options:\n" + table(options));
    return sections.join("\n\n") + "\n";
  }

  /** Parses `args` (after the command's name) and runs the action; usage errors are exit 64. */
  async parse(args: readonly string[], program: string, out: HelpOutput): Promise<void> {
    const flags: Record<string, string | true> = {};
    const positional: string[] = [];
    const helpHint = `see '${program} ${this.name} --help'`;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg === "--") {
        positional.push(...args.slice(i + 1));
        break;
      }
      if (arg === "-h" || arg === "--help") {
        out.stdout(this.helpText(program));
        return;
      }
      if (!arg.startsWith("-") || arg === "-") {
        positional.push(arg);
        continue;
      }
      const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
      const long = eq === -1 ? arg : arg.slice(0, eq);
      const option = this.options.find((o) => o.long === long);
      if (option === undefined) {
        const near = closest(long, this.options.map((o) => o.long));
        throw usage(
          `unknown option '${long}' for '${this.name}'`,
          near ? `did you mean ${near}? ${helpHint}` : helpHint,
        );
      }
      if (!option.takesValue) {
        if (eq !== -1) throw usage(`option '${option.usage}' takes no value`, helpHint);
        flags[option.attributeName()] = true;
        continue;
      }
      // Like getopt: the next word is the value, even when it starts with '-'.
      const value = eq !== -1 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw usage(`option '${option.usage}' needs a value`, helpHint);
      flags[option.attributeName()] = value;
    }
    if (positional.length > this.args.length) {
      const expected = `${this.args.length} argument${this.args.length === 1 ? "" : "s"}`;
      throw usage(
        `too many arguments for '${this.name}': expected at most ${expected}, got ${positional.length}`,
        helpHint,
      );
    }
    const missing = this.args.find((a, i) => a.required && positional[i] === undefined);
    if (missing) throw usage(`missing required argument '${missing.name}'`, helpHint);
    const values = this.args.map((_, i) => positional[i]);
    if (this.run === null) throw new Error(`command ${this.name} has no action`);
    await this.run(...values, flags);
  }
}

/** A program: commands under one name, `--version`, and help listing them. */
export class Program {
  constructor(
    readonly name: string,
    readonly about: string,
    readonly version: string,
    readonly commands: readonly Command<unknown[], unknown>[],
  ) {}

  /** The program's `--help`. */
  helpText(): string {
    const commands = this.commands.map((c) => [c.usageLine(), firstLine(c)] as const);
    return [
      `Usage: ${this.name} [options] [command]`,
      this.about,
      "Options:\n" + table([["--version", "output the version number"], [
        "-h, --help",
        "display help for command",
      ]]),
      "Commands:\n" +
      table([...commands, ["help [command]", "display help for command"]]),
    ].join("\n\n") + "\n";
  }

  /** Runs the command `args` names. */
  async parse(args: readonly string[], out: HelpOutput & { stderr(text: string): void }) {
    const [first, ...rest] = args;
    if (first === undefined) {
      out.stderr(this.helpText());
      throw usage("no command given", `see '${this.name} --help'`);
    }
    if (first === "--version") {
      out.stdout(`${this.version}\n`);
      return;
    }
    if (first === "-h" || first === "--help") {
      out.stdout(this.helpText());
      return;
    }
    if (first === "help") {
      const named = rest[0] === undefined ? undefined : this.find(rest[0]);
      out.stdout(named ? named.helpText(this.name) : this.helpText());
      return;
    }
    if (first.startsWith("-")) {
      throw usage(`unknown option '${first}'`, `see '${this.name} --help'`);
    }
    const command = this.find(first);
    if (command === undefined) {
      const near = closest(first, this.commands.map((c) => c.name));
      throw usage(
        `unknown command '${first}'`,
        near ? `did you mean ${near}? see '${this.name} --help'` : `see '${this.name} --help'`,
      );
    }
    await command.parse(rest, this.name, out);
  }

  private find(name: string): Command<unknown[], unknown> | undefined {
    return this.commands.find((c) => c.name === name);
  }
}

function firstLine(command: Command<unknown[], unknown>): string {
  return command.helpText("").split("\n\n")[1] ?? "";
}

const WIDTH = 80;

/** Two columns, the second wrapped at {@link WIDTH} with a hanging indent. */
function table(rows: readonly (readonly [string, string])[]): string {
  const left = Math.max(...rows.map(([term]) => term.length)) + 2;
  return rows.map(([term, text]) => {
    const lines: string[] = [];
    let line = "";
    for (const word of text.split(" ")) {
      if (line !== "" && 2 + left + line.length + 1 + word.length > WIDTH) {
        lines.push(line);
        line = word;
      } else line = line === "" ? word : `${line} ${word}`;
    }
    lines.push(line);
    const pad = " ".repeat(2 + left);
    return `  ${term.padEnd(left)}${lines.join(`\n${pad}`)}`;
  }).join("\n");
}

/** The candidate nearest to `word` by edit distance, when it is near enough to be a typo. */
function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}
