/**
 * Hostile entries (src/source/hostile.ts): names, links, special files,
 * nested repositories, sizes and depths are refused anywhere under services/
 * and hosts/, shown escaped. Trees are built in memory, so they can hold what
 * no file system can (`..`, NUL).
 */
import assert from "node:assert/strict";
import { showPath } from "../../src/source/names.ts";
import { MAX_DEPTH, type TreeEntry } from "../../src/tree.ts";
import { assertRefused, load, repo } from "../helpers/layout.ts";
import { baseRepo, memoryTree } from "../helpers/repo.ts";

// --- issue 10: names and paths ---------------------------------------------

const BAD_NAMES: [string, RegExp, string][] = [
  ["a\nb.conf", /newline/, "a\\nb.conf"],
  ["a\rb.conf", /carriage return/, "a\\rb.conf"],
  ["a\0b.conf", /NUL/, "a\\0b.conf"],
  ["evil\u202Efnoc.sh", /bidi override U\+202E/, "evil\\u{202E}fnoc.sh"],
  ["iso\u2066late", /bidi override U\+2066/, "iso\\u{2066}late"],
  ["esc\u001b[31m", /escape/, "esc\\u{1B}[31m"],
  ["c1\u0085x", /control U\+0085/, "c1\\u{85}x"],
  ["bad\uFFFDname", /not valid UTF-8/, "bad\\u{FFFD}name"],
];

for (const [name, message, shown] of BAD_NAMES) {
  Deno.test(`a config file name with ${JSON.stringify(name)} is refused, shown escaped`, () => {
    const error = assertRefused(
      memoryTree(repo({ [`services/web/config/${name}`]: "x\n" })),
      `services/web/config/${shown}`,
      message,
    );
    // Nothing raw reaches the terminal.
    for (const d of error.diagnostics) {
      for (const text of [d.message, d.hint ?? "", d.location?.file ?? ""]) {
        assert.equal(showPath(text), text, `raw character in ${JSON.stringify(text)}`);
      }
    }
  });
}

Deno.test("a bad name in another host's overlay is refused too", () => {
  assertRefused(
    memoryTree(repo({ "hosts/h2/echo/config/a\nb": "x" })),
    "hosts/h2/echo/config/a\\nb",
    /newline/,
  );
});

Deno.test("'..', '.' and empty segments in a tree's paths are refused", () => {
  for (
    const [path, where] of [
      ["services/web/config/../../../etc/shadow", "services/web/config/.."],
      ["services/web/./config/x", "services/web/."],
      ["services/web/config//x", "services/web/config/"],
      ["../outside", ".."],
      ["/etc/passwd", ""],
    ]
  ) {
    const tree = memoryTree(baseRepo());
    tree.entries.push({
      type: "file",
      path,
      size: 1,
      content: new Uint8Array(1),
      worldReadable: true,
    });
    assertRefused(tree, where, /path segment|empty path segment/);
  }
});

Deno.test("a path listed twice in a tree is refused", () => {
  const tree = memoryTree(baseRepo());
  tree.entries.push({
    type: "file",
    path: "services/web/config/app.conf",
    size: 1,
    content: new Uint8Array([0x78]),
    worldReadable: true,
  });
  assertRefused(tree, "services/web/config/app.conf", /appears twice/);
});

Deno.test("a nested .git (a checked-out submodule) and a link into .git are refused", () => {
  assertRefused(
    memoryTree(repo({ "services/web/config/vendor/.git": "gitdir: ../../.git/modules/x\n" })),
    "services/web/config/vendor/.git",
    /nested git repository or submodule/,
  );
  const tree = memoryTree(baseRepo());
  tree.entries.push({
    type: "badlink",
    path: "services/web/config/hooks",
    target: "../../../.git/hooks",
    problem: "git",
  });
  assertRefused(tree, "services/web/config/hooks", /points into \.git/);
});

Deno.test("special files, unreadable names, deep and long paths, gitlinks are refused anywhere", () => {
  const entries: [TreeEntry, RegExp][] = [
    [{ type: "special", path: "services/web/config/fifo" }, /FIFO, socket or device/],
    [{ type: "special", path: "hosts/h2/echo/config/sock" }, /FIFO, socket or device/],
    [{ type: "refused", path: "services/web/config/x\uFFFD", problem: "encoding" }, /UTF-8/],
    [{ type: "refused", path: "services/web/config/d", problem: "depth" }, /deeper than/],
    [{ type: "refused", path: "services/web/config/l", problem: "length" }, /longer than/],
    [{ type: "refused", path: "services/web/config/sub", problem: "gitlink" }, /gitlink/],
    [{ type: "badlink", path: "_x", target: "/", problem: "outside" }, /./],
  ];
  for (const [entry, message] of entries.slice(0, -1)) {
    const tree = memoryTree(baseRepo());
    tree.entries.push(entry);
    const where = entry.path.replace("\uFFFD", "\\u{FFFD}");
    assertRefused(tree, where, message);
  }
  // Reserved top-level names stay unread, whatever they hold.
  const tree = memoryTree(baseRepo());
  tree.entries.push(entries.at(-1)![0]);
  load(tree);
});

Deno.test("directories nested deeper than the cap are refused", () => {
  const deep = Array.from({ length: MAX_DEPTH }, (_, i) => `d${i}`).join("/");
  assertRefused(
    memoryTree(repo({ [`services/web/config/${deep}/x`]: "x" })),
    `services/web/config/${deep.split("/").slice(0, MAX_DEPTH - 3).join("/")}`,
    /nested deeper than/,
  );
});

Deno.test("more files than the cap is refused", () => {
  const tree = memoryTree(baseRepo());
  tree.truncated = true;
  assertRefused(tree, ".", /more than 10000 files/);
});
