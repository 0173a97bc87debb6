/**
 * YAML manifests (`service.yaml`, `host.yaml`) checked against a zod schema,
 * with every problem located at its line and column.
 *
 * @module
 */
import { isAlias, isMap, isNode, isScalar, LineCounter, parseDocument, visit } from "yaml";
import type * as z from "../zod.ts";
import type { Diagnostic } from "../errors.ts";

/** Largest YAML manifest read; `service.yaml` and `host.yaml` are a few lines. */
export const MAX_YAML_SIZE = 64 * 1024;
/** Most aliases (`*a`) a manifest may use: enough for reuse, too few for a bomb. */
export const MAX_YAML_ALIASES = 16;
/** Deepest nesting of collections a manifest may use. */
export const MAX_YAML_DEPTH = 16;

/** The YAML 1.2 core tags: a manifest may spell them out, but no other tag. */
const CORE_TAGS = new Set(
  ["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`),
);

/** A value checked by a schema, with a way to locate any part of it. */
export interface Located<T> {
  value: T;
  /** The 1-based line and column of the value at `path` (or of the document). */
  position(path: readonly (string | number)[]): { line: number; column: number };
}

/**
 * Parses `text` as one YAML document and checks it with `schema`. Returns the
 * value or the diagnostics, each naming `file` with line and column.
 */
export function parseYaml<S extends z.ZodMiniType>(
  file: string,
  text: string,
  schema: S,
): { ok: true; located: Located<z.infer<S>> } | { ok: false; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      diagnostics: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          // The parser turns its own stack overflow into an error at the offending node.
          message: /Maximum call stack size exceeded/.test(e.message)
            ? `nested deeper than ${MAX_YAML_DEPTH} levels`
            : `invalid YAML: ${firstLine(e.message)}`,
          location: { file, line: pos.line, column: pos.col },
        };
      }),
    };
  }

  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  // Aliases, tags and depth are judged on the syntax tree, before any value is built.
  const shape: Diagnostic[] = [];
  let aliases = 0;
  visit(doc, (_key, node, path) => {
    if (!isNode(node)) return;
    const offset = node.range?.[0] ?? 0;
    if (isAlias(node) && ++aliases > MAX_YAML_ALIASES) {
      shape.push({
        message: `more than ${MAX_YAML_ALIASES} aliases`,
        location: { file, ...at(offset) },
        hint: "write the values out: manifests are short",
      });
      return visit.BREAK;
    }
    if (node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
      shape.push({
        message: `tag ${node.tag} is not allowed`,
        location: { file, ...at(offset) },
        hint: "manifests use plain YAML values without tags",
      });
      return visit.BREAK;
    }
    // The path holds the document, then alternating collections and pairs.
    const depth = path.filter((p) => isNode(p)).length;
    if (depth > MAX_YAML_DEPTH) {
      shape.push({
        message: `nested deeper than ${MAX_YAML_DEPTH} levels`,
        location: { file, ...at(offset) },
      });
      return visit.BREAK;
    }
  });
  if (shape.length > 0) return { ok: false, diagnostics: shape };

  const position = (path: readonly (string | number)[]) => {
    let offset = 0;
    const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
    if (isNode(node) && node.range) offset = node.range[0];
    else if (isNode(doc.contents) && doc.contents.range) offset = doc.contents.range[0];
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  const keyPosition = (path: readonly (string | number)[], key: string) => {
    const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
    if (isMap(parent)) {
      for (const pair of parent.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
          const pos = lineCounter.linePos(pair.key.range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
    }
    return position(path);
  };

  // An empty file is an empty mapping: every key is optional or reported missing by the schema.
  let raw: unknown;
  try {
    raw = doc.contents === null ? {} : doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // The yaml package's own guard against alias expansion (a ReferenceError).
    return {
      ok: false,
      diagnostics: [{
        message: `YAML cannot be read: ${firstLine(error instanceof Error ? error.message : "")}`,
        location: { file, ...at(0) },
      }],
    };
  }
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, located: { value: result.data, position } };

  const diagnostics: Diagnostic[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        diagnostics.push({
          message: `unknown key "${key}"${path.length ? ` in ${path.join(".")}` : ""}`,
          location: { file, ...keyPosition(path, key) },
        });
      }
      continue;
    }
    const where = path.length ? `"${path.join(".")}": ` : "";
    diagnostics.push({
      message: `${where}${issue.message}`,
      location: { file, ...position(path) },
    });
  }
  return { ok: false, diagnostics };
}

function firstLine(message: string): string {
  return message.split("\n")[0];
}
