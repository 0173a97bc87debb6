/**
 * Hostile repositories on a real file system (issue 10), through the CLI:
 * every case is exit 65 naming the path (escaped when it holds control
 * characters), never 66 or 70, nothing on stdout, and `apply` writes no
 * destination. Special files, links and names no in-memory tree can stand
 * for are made for real here.
 *
 * Names that are not valid UTF-8 cannot be passed through Deno's path APIs
 * (strings) or `Deno.Command` arguments (strings): they are made by
 * `xargs -0 touch`/`mkdir`, which read the raw name bytes from stdin.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { showPath } from "../../src/source/names.ts";
import { cli } from "../helpers/cli.ts";
import { baseRepo, writeFiles, writeRepo } from "../helpers/repo.ts";

/** Runs `program args…` in `cwd`; fails the test when it fails. */
async function run(cwd: string, program: string, args: string[], input?: Uint8Array) {
  const child = new Deno.Command(program, {
    args,
    cwd,
    stdin: input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input) {
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
  }
  const out = await child.output();
  assert.ok(out.success, `${program} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Creates a file (or directory) whose name is the raw `name` bytes, inside `dir`. */
async function makeRawName(dir: string, name: number[], kind: "touch" | "mkdir") {
  await run(dir, "xargs", ["-0", kind, "--"], new Uint8Array([...name, 0]));
}

interface Case {
  name: string;
  setup: (root: string) => Promise<void>;
  /** Text stderr must contain: the path as shown, and the reason. */
  names: string[];
  /** Expected exit code (65 unless the case shows what is still accepted). */
  code?: number;
}

const ascii = (text: string) => [...new TextEncoder().encode(text)];

const CASES: Case[] = [
  {
    name: "a FIFO",
    setup: (root) => run(root, "mkfifo", ["services/web/config/fifo"]),
    names: ["services/web/config/fifo", "not a regular file or directory"],
  },
  {
    name: "a block device",
    setup: (root) => run(root, "mknod", ["hosts/h2/loop", "b", "7", "200"]),
    names: ["hosts/h2/loop", "not a regular file or directory"],
  },
  {
    name: "a character device",
    setup: (root) => run(root, "mknod", ["services/web/config/null", "c", "1", "3"]),
    names: ["services/web/config/null", "not a regular file or directory"],
  },
  {
    name: "a symlinked directory outside the repository",
    setup: (root) => Deno.symlink("/etc", join(root, "services/web/config/etc")),
    names: ["services/web/config/etc", 'symbolic link to "/etc" points outside the repository'],
  },
  {
    name: "a loop of two links",
    setup: async (root) => {
      await Deno.symlink("b", join(root, "services/web/config/a"));
      await Deno.symlink("a", join(root, "services/web/config/b"));
    },
    names: ["services/web/config/a", "services/web/config/b", "does not resolve"],
  },
  {
    name: "a symlink into .git",
    setup: async (root) => {
      await writeFiles(root, { ".git/config": "[core]\n\tfsmonitor = /tmp/x\n" });
      await Deno.symlink("../../../.git/config", join(root, "services/web/config/git.conf"));
    },
    names: ["services/web/config/git.conf", "points into .git"],
  },
  {
    name: "a checked-out submodule (nested .git)",
    setup: (root) =>
      writeFiles(root, {
        "services/web/config/vendor/.git": "gitdir: ../x\n",
        "services/web/config/vendor/a": "x",
      }),
    names: ["services/web/config/vendor/.git", "nested git repository or submodule"],
  },
  {
    name: "a config file name with a newline",
    setup: (root) => Deno.writeTextFile(join(root, "services/web/config/a\nb.conf"), "x"),
    names: ["services/web/config/a\\nb.conf", "newline"],
  },
  {
    name: "a config file name with a carriage return",
    setup: (root) => Deno.writeTextFile(join(root, "services/web/config/a\rb"), "x"),
    names: ["services/web/config/a\\rb", "carriage return"],
  },
  {
    name: "a file name with a bidi override (U+202E)",
    setup: (root) => Deno.writeTextFile(join(root, "services/web/config/x\u202Efnoc.exe"), "x"),
    names: ["services/web/config/x\\u{202E}fnoc.exe", "bidi override U+202E"],
  },
  {
    name: "a host directory name with an escape sequence",
    setup: (root) => Deno.mkdir(join(root, "hosts/\u001b[2J")),
    names: ["hosts/\\u{1B}[2J", "escape"],
  },
  {
    name: "a file name that is not valid UTF-8",
    setup: (root) =>
      makeRawName(join(root, "services/web/config"), [...ascii("bad"), 0xff], "touch"),
    names: ["services/web/config/bad\\u{FFFD}", "not valid UTF-8"],
  },
  {
    name: "a directory name that is not valid UTF-8, with files below",
    setup: async (root) => {
      const dir = join(root, "services/web/quadlet");
      await makeRawName(dir, [0xc3, 0x28], "mkdir");
      await makeRawName(dir, [0xc3, 0x28, ...ascii("/x.conf")], "touch");
    },
    names: ["services/web/quadlet/\\u{FFFD}(", "not valid UTF-8"],
  },
  {
    name: "a service directory name with a space",
    setup: (root) => writeFiles(root, { "services/my web/quadlet/a.container": "[Container]\n" }),
    names: ["services/my web", 'invalid service id "my web"'],
  },
  {
    name: "a service directory name with a leading '-'",
    setup: (root) => writeFiles(root, { "services/-rf/quadlet/a.container": "[Container]\n" }),
    names: ["services/-rf", 'invalid service id "-rf"'],
  },
  {
    name: "a unit file that is not valid UTF-8",
    setup: (root) =>
      Deno.writeFile(
        join(root, "services/web/quadlet/bad.container"),
        new Uint8Array([...ascii("[Container]\nImage="), 0xe9, 0x0a]),
      ),
    names: ["services/web/quadlet/bad.container:2:7", "not valid UTF-8"],
  },
  {
    name: "a NUL byte in a unit file",
    setup: (root) =>
      Deno.writeTextFile(
        join(root, "services/echo/systemd/echo.socket"),
        "[Socket]\nListenStream=1\0 2\n",
      ),
    names: ["services/echo/systemd/echo.socket:2:15", "NUL byte"],
  },
  {
    name: "a YAML alias bomb in host.yaml",
    setup: (root) => {
      const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (const [name, prev] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"], ["f", "e"]]) {
        lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
      }
      lines.push("host: h1", "services: [web]", "");
      return Deno.writeTextFile(join(root, "hosts/h1/host.yaml"), lines.join("\n"));
    },
    names: ["hosts/h1/host.yaml:3:", "more than 16 aliases"],
  },
  {
    name: "a custom tag in service.yaml",
    setup: (root) =>
      Deno.writeTextFile(join(root, "services/web/service.yaml"), "config-root: !env HOME\n"),
    names: ["services/web/service.yaml:1:19", "tag !env is not allowed"],
  },
  {
    name: "deeply nested YAML",
    setup: (root) =>
      Deno.writeTextFile(
        join(root, "hosts/h1/host.yaml"),
        "host: h1\nservices: [web]\nx: " + "[".repeat(100) + "]".repeat(100) + "\n",
      ),
    names: ["hosts/h1/host.yaml:3:", "nested deeper than 16 levels"],
  },
  {
    name: "YAML nested past the parser's stack",
    setup: (root) =>
      Deno.writeTextFile(
        join(root, "hosts/h1/host.yaml"),
        "host: h1\nservices: [web]\nx: " + "[".repeat(20_000) + "]".repeat(20_000) + "\n",
      ),
    names: ["hosts/h1/host.yaml:3:", "nested deeper than 16 levels"],
  },
  {
    name: "an oversize host.yaml",
    setup: (root) =>
      Deno.writeTextFile(
        join(root, "hosts/h1/host.yaml"),
        "host: h1\nservices: [web]\n" + "#".repeat(70_000),
      ),
    names: ["hosts/h1/host.yaml", "larger than 64 KiB"],
  },
  {
    name: "directories nested 40 deep",
    setup: (root) =>
      Deno.mkdir(join(root, "services/web/config", ...Array(40).fill("d")), { recursive: true }),
    names: [`services/web/config/${Array(29).fill("d").join("/")}`, "nested deeper than 32 levels"],
  },
  {
    name: "a path longer than 1024 bytes",
    setup: (root) =>
      Deno.mkdir(join(root, "services/web/config", ...Array(6).fill("n".repeat(200))), {
        recursive: true,
      }),
    names: ["longer than 1024 bytes"],
  },
  {
    name: "a destination that is a file for one service and a directory for another",
    setup: (root) =>
      writeFiles(root, {
        "services/web/service.yaml": "config-root: shared\n",
        "services/echo/service.yaml": "config-root: shared\n",
        "services/echo/config/app.conf/x": "x",
      }),
    names: [
      "services/echo/config/app.conf/x",
      "/etc/shared/app.conf is a file from services/web/config/app.conf",
    ],
  },
  {
    name: "a host drop-in that sorts before a base drop-in",
    setup: (root) =>
      writeFiles(root, { "hosts/h1/web/quadlet/web.container.d/01-host.conf": "[Container]\n" }),
    names: [
      "hosts/h1/web/quadlet/web.container.d/01-host.conf",
      "services/web/quadlet/web.container.d/10-mem.conf",
      "hint: rename it",
    ],
  },
  {
    name: "a service named ssh with config (default deny-list)",
    setup: (root) =>
      writeFiles(root, {
        "services/ssh/config/sshd_config": "PermitRootLogin yes\n",
        "hosts/h1/host.yaml": "host: h1\nservices: [web, echo, ssh]\n",
      }),
    names: ["services/ssh/", 'config root "ssh"', "config-roots"],
  },
  {
    name: "a symlinked directory inside the repository (accepted)",
    setup: async (root) => {
      await writeFiles(root, { "_shared/tls/ca.pem": "pem\n" });
      await Deno.symlink("../../../_shared/tls", join(root, "services/web/config/tls"));
    },
    names: ["layout ok"],
    code: 0,
  },
];

/** `apply` refuses the repository with 65 before it writes any destination. */
async function assertApplyWritesNothing(root: string) {
  const host = await Deno.makeTempDir({ prefix: "core-ops-test-host-" });
  try {
    const result = await cli([
      "apply",
      "--source-repo",
      root,
      "--host",
      "h1",
      "--quadlet-dir",
      join(host, "quadlet"),
      "--systemd-unit-dir",
      join(host, "systemd"),
      "--config-dir",
      join(host, "etc"),
      "--state-dir",
      join(host, "state"),
      "--lock-path",
      join(host, "lock"),
    ]);
    assert.equal(result.code, 65, `apply exit code; stderr:\n${result.stderr}`);
    // Only the run's own record (state/) and its run lock may appear; no destination dir is.
    const left = [...Deno.readDirSync(host)].map((e) => e.name).filter((n) =>
      n !== "state" && n !== "lock"
    );
    assert.deepEqual(left, [], "apply wrote outside its state dir");
  } finally {
    await Deno.remove(host, { recursive: true });
  }
}

for (const c of CASES) {
  Deno.test(`hostile repository: ${c.name}`, async () => {
    const root = await writeRepo(baseRepo());
    try {
      await c.setup(root);
      const result = await cli(["validate", "--source-repo", root, "--host", "h1"]);
      const expected = c.code ?? 65;
      assert.equal(result.code, expected, `exit code; stderr:\n${result.stderr}`);
      const output = expected === 0 ? result.stdout : result.stderr;
      for (const text of c.names) {
        assert.ok(output.includes(text), `output names "${text}":\n${output}`);
      }
      if (expected !== 0) {
        assert.equal(result.stdout, "");
        // One diagnostic per line: no name broke a line or reached the terminal raw.
        for (const line of result.stderr.trimEnd().split("\n")) {
          assert.ok(
            line.startsWith("core-ops: ") || line.startsWith("  hint: "),
            `stray line in stderr: ${JSON.stringify(line)}`,
          );
        }
        const raw = [...result.stderr].filter((char) => char !== "\n" && showPath(char) !== char);
        assert.deepEqual(raw, [], "raw control or bidi characters in stderr");
        await assertApplyWritesNothing(root);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
