/**
 * Property test of the pure loader (issue 10): any tree — odd names, every
 * entry kind, deep nesting, hostile contents — either loads or is refused
 * with a CoreOpsError of exit 65. Never another error, never slow, and never
 * the disk: the test runs without file, process or network permissions.
 */
import assert from "node:assert/strict";
import { DIRS } from "../helpers/layout.ts";
import fc from "fast-check";
import { CoreOpsError } from "../../src/errors.ts";
import type { ConfigRootPolicy } from "../../src/source/config_roots.ts";
import { loadDesiredState } from "../../src/source/layout.ts";
import type { RepoTree, TreeEntry } from "../../src/tree.ts";
import { baseRepo, memoryTree } from "../helpers/repo.ts";

const encoder = new TextEncoder();

const layoutWords = fc.constantFrom("services", "hosts", "quadlet", "systemd", "config");
const ids = fc.constantFrom("web", "echo", "h1", "h2", "ssh", "shared", "etc");

/** Path segments a valid repository uses. */
const validSegment = fc.oneof(
  { weight: 6, arbitrary: layoutWords },
  { weight: 4, arbitrary: ids },
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      "web.container",
      "web.container.d",
      "x.socket",
      "x.socket.d",
      "m.automount",
      "m.automount.d",
      "20-a.conf",
      "90-z.conf",
      ".env",
      "app.conf",
    ),
  },
);

/** Path segments: the layout's own words, valid ids, and names the layout must refuse. */
const segment = fc.oneof(
  { weight: 6, arbitrary: layoutWords },
  { weight: 4, arbitrary: ids },
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      "web.container",
      "web.container.d",
      "data.volume",
      "x.socket",
      "x.socket.d",
      "m.automount",
      "m.mount",
      "a.kube",
      "10-a.conf",
      "90-z.conf",
      "05-b.conf",
      "service.yaml",
      "host.yaml",
      "README.md",
      "app.conf",
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ".env",
      ".gitkeep",
      ".gitignore",
      ".git",
      "_drafts",
      "quadlets",
      "quadlet-overrides",
      "overrides",
      "..",
      ".",
      "",
      "a\nb",
      "c\rd",
      "nul\0",
      "evil\u202Etxt",
      "bad\uFFFD",
      "my web",
      "-rf",
      "x.container.dropin",
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
);

const yamlText = fc.constantFrom(
  "",
  "host: h1\nservices: [web, echo]\n",
  "host: h1\nservices: [web, web]\n",
  "host: h2\nservices: [nope]\n",
  "config-root: shared\n",
  "config-root: ssh\n",
  "config-root: foo/bar\n",
  "config-root: core-ops\n",
  "config-root: !include x\n",
  "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
  "x: " + "[".repeat(60) + "]".repeat(60) + "\n",
  "host: [\n",
  "--- \n...\n---\n",
  "services: !!set {a}\n",
);

const unitText = fc.constantFrom(
  "[Container]\nImage=x\n",
  "[Container]\nServiceName=web\n",
  "[Container]\nServiceName=bad name\n",
  "[Socket]\nListenStream=1\nAccept=yes\n",
  "[Service]\nExecStart=/bin/true\n",
  "[Unit]\n\0\n",
);

const content = fc.oneof(
  yamlText.map((t) => encoder.encode(t)),
  unitText.map((t) => encoder.encode(t)),
  fc.uint8Array({ maxLength: 64 }),
);

const path = fc.array(segment, { minLength: 1, maxLength: 7 }).map((parts) => parts.join("/"));

const entry: fc.Arbitrary<TreeEntry> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ path, content, worldReadable: fc.boolean() }).map(
      ({ path, content, worldReadable }) => ({
        type: "file" as const,
        path,
        size: content.length,
        content,
        worldReadable,
      }),
    ),
  },
  { weight: 4, arbitrary: path.map((path) => ({ type: "dir" as const, path })) },
  {
    weight: 1,
    arbitrary: fc.record({
      path,
      target: fc.constantFrom("/etc/passwd", "..", "../.git/config", "x"),
      problem: fc.constantFrom("outside", "dangling", "cycle", "git") as fc.Arbitrary<
        "outside" | "dangling" | "cycle" | "git"
      >,
    }).map((e) => ({ type: "badlink" as const, ...e })),
  },
  { weight: 1, arbitrary: path.map((path) => ({ type: "special" as const, path })) },
  {
    weight: 1,
    arbitrary: fc.record({
      path,
      problem: fc.constantFrom("encoding", "depth", "length", "gitlink") as fc.Arbitrary<
        "encoding" | "depth" | "length" | "gitlink"
      >,
    }).map((e) => ({ type: "refused" as const, ...e })),
  },
  {
    // A file over the size cap: the reader records it without content.
    weight: 1,
    arbitrary: path.map((path) => ({
      type: "file" as const,
      path,
      size: 2 * 1024 * 1024,
      content: null,
      worldReadable: true,
    })),
  },
);

/** With every parent of every entry as a directory, as a reader would produce. */
function withParents(entries: TreeEntry[]): TreeEntry[] {
  const out = [...entries];
  const known = new Set(entries.map((e) => e.path));
  for (const e of entries) {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!known.has(dir)) out.push({ type: "dir", path: dir });
      known.add(dir);
    }
  }
  return out;
}

/** Files at plausible places with plausible contents: these often load. */
const plausible = fc.record({
  path: fc.array(validSegment, { minLength: 3, maxLength: 6 }).map((parts) => parts.join("/")),
  text: fc.oneof(unitText, yamlText),
}).map(({ path, text }) => {
  const content = encoder.encode(text);
  return { type: "file" as const, path, size: content.length, content, worldReadable: true };
});

/** Random trees from scratch, and random changes to a valid repository. */
const tree: fc.Arbitrary<RepoTree> = fc.oneof(
  fc.array(plausible, { maxLength: 6 }).map((added) => ({
    entries: withParents([...memoryTree(baseRepo()).entries, ...added]),
    truncated: false,
  })),
  fc.record({
    entries: fc.array(entry, { maxLength: 30 }).map(withParents),
    truncated: fc.nat(19).map((n) => n === 0),
  }),
  fc.record({
    added: fc.array(entry, { maxLength: 6 }),
    removed: fc.array(fc.nat(), { maxLength: 3 }),
  }).map(({ added, removed }) => {
    const base = memoryTree(baseRepo()).entries;
    for (const r of removed) base.splice(r % base.length, 1);
    return { entries: withParents([...base, ...added]), truncated: false };
  }),
);

const options = fc.record({
  host: fc.constantFrom("h1", "h2", null, "nope"),
  configRoots: fc.constantFrom<ConfigRootPolicy | undefined>(
    undefined,
    { allow: null },
    { allow: [] },
    { allow: ["web", "shared", "ssh"] },
  ),
});

Deno.test({
  name: "any tree loads or is refused with exit 65, quickly, without touching disk",
  // No file system, process or network access; the yaml package only peeks at its debug switches.
  permissions: {
    read: false,
    write: false,
    run: false,
    net: false,
    ffi: false,
    sys: false,
    env: ["LOG_TOKENS", "LOG_STREAM"],
  },
  fn() {
    let loaded = 0;
    let refused = 0;
    const started = performance.now();
    fc.assert(
      fc.property(tree, options, (t, o) => {
        const start = performance.now();
        try {
          const state = loadDesiredState(t, { ...o, dirs: DIRS });
          for (const a of state.artifacts) assert.ok(a.destination.startsWith("/"));
          loaded++;
        } catch (error) {
          if (!(error instanceof CoreOpsError)) throw error;
          assert.equal(error.exitCode, 65, error.message);
          assert.ok(error.diagnostics.length > 0);
          refused++;
        }
        assert.ok(performance.now() - start < 500, "one load took over 500 ms");
      }),
      { numRuns: 4000 },
    );
    // Both outcomes were exercised, and the run stays well inside the test budget.
    assert.ok(loaded > 20, `only ${loaded} trees loaded`);
    assert.ok(refused > 20, `only ${refused} trees refused`);
    assert.ok(performance.now() - started < 5000);
  },
});
