/**
 * YAML manifests (`service.yaml`, `host.yaml`) checked against a zod schema,
 * with every problem located at its line and column.
 *
 * @module
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import type { Diagnostic } from "../errors.ts";

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
export function parseYaml<S extends z.ZodType>(
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
          message: `invalid YAML: ${firstLine(e.message)}`,
          location: { file, line: pos.line, column: pos.col },
        };
      }),
    };
  }

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
  const raw = doc.contents === null ? {} : doc.toJS();
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
