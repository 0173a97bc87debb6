/**
 * The shape of src/, measured on its import graph (issue 15): every import
 * goes down the layers or stays in its own directory, no module imports
 * itself back through a circle, and no source file holds more than one job's
 * worth of lines.
 *
 *  -1  build_stamp.ts                            data a build writes (its commit)
 *   0  errors.ts model.ts tree.ts paths.ts version.ts   the vocabulary
 *   0  trace.ts                                  the bench's phase marks (imports nothing)
 *   0  zod.ts digest.ts                          the schema and hash libraries, as used
 *   1  host/                                     adapters (files, git, systemd, …)
 *   2  settings.ts settings/ source/ state/      settings; pure loading; the state dir
 *   3  plan/                                     the pure planner
 *   4  apply/                                    the engine: execute, verify, roll back
 *   5  report/                                   the run as data, text, event, metrics
 *   6  run/                                      one run on one page, and the agent
 *   7  cli/                                      one file per command
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dirname!, "../../src");
const LAYERS: Record<string, number> = {
  errors: 0,
  model: 0,
  tree: 0,
  version: 0,
  paths: 0,
  trace: 0,
  zod: 0,
  digest: 0,
  build_stamp: -1,
  host: 1,
  settings: 2,
  source: 2,
  state: 2,
  plan: 3,
  apply: 4,
  report: 5,
  run: 6,
  cli: 7,
};
const MAX_LINES = 450;

/** Every module of src/ (relative path) with the src/ modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".ts")) {
        const text = Deno.readTextFileSync(path);
        const specs = [...text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+\.ts)"/g)];
        graph.set(
          relative(SRC, path),
          specs.map((m) => relative(SRC, resolve(dirname(path), m[1]))),
        );
      }
    }
  };
  walk(SRC);
  return graph;
}

/**
 * A module's group: its top directory under src/, or its file name at the top
 * (`settings.ts` and `settings/` are one group).
 */
function group(module: string): string {
  return module.split("/")[0].replace(/\.ts$/, "");
}

Deno.test("architecture: every module of src/ is in a layer", () => {
  for (const module of importGraph().keys()) {
    assert.ok(group(module) in LAYERS, `${module} belongs to no layer`);
  }
});

Deno.test("architecture: imports go down the layers, or stay in their own directory", () => {
  const upward: string[] = [];
  for (const [module, imports] of importGraph()) {
    for (const target of imports) {
      const [from, to] = [group(module), group(target)];
      if (from === to) continue;
      if (LAYERS[to] >= LAYERS[from]) upward.push(`${module} → ${target}`);
    }
  }
  assert.deepEqual(upward, []);
});

Deno.test("architecture: no import circle between modules", () => {
  const graph = importGraph();
  const circles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (module: string) => {
    state.set(module, "open");
    stack.push(module);
    for (const next of graph.get(module) ?? []) {
      if (state.get(next) === "open") {
        circles.push([...stack.slice(stack.indexOf(next)), next].join(" → "));
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(module, "done");
  };
  for (const module of [...graph.keys()].sort()) if (!state.has(module)) visit(module);
  assert.deepEqual(circles, []);
});

Deno.test(`architecture: no source file over ${MAX_LINES} lines`, () => {
  const long = [...importGraph().keys()].flatMap((module) => {
    const lines = Deno.readTextFileSync(join(SRC, module)).split("\n").length - 1;
    return lines > MAX_LINES ? [`${module}: ${lines} lines`] : [];
  });
  assert.deepEqual(long, []);
});
