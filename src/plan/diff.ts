/**
 * `--diff`: a unified diff of every file a plan writes or removes. Content of
 * files that are not world-readable (0600 config, secrets) is never shown.
 * Pure: the caller reads what is on disk.
 *
 * @module
 */
import { createTwoFilesPatch } from "diff";
import type { Artifact } from "../model.ts";
import type { Action } from "../model.ts";

/** What is at a path now: bytes and mode, or `null` when nothing is. */
export type Current = { content: Uint8Array; mode: number } | null;

const strict = new TextDecoder("utf-8", { fatal: true });

function decode(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null; // not UTF-8 text: diffed as binary
  }
}

function secret(mode: number | undefined): boolean {
  return mode !== undefined && (mode & 0o004) === 0;
}

/**
 * The diff of each write/remove of `actions`, in plan order. `current` gives
 * what is on disk now, `artifacts` what the write puts there.
 */
export function renderDiff(
  actions: readonly Action[],
  artifacts: readonly Artifact[],
  current: ReadonlyMap<string, Current>,
): string {
  const byPath = new Map(artifacts.map((a) => [a.destination, a]));
  const out: string[] = [];
  for (const action of actions) {
    if (action.op !== "write" && action.op !== "remove") continue;
    const path = action.target;
    const before = current.get(path) ?? null;
    const after = action.op === "write" ? byPath.get(path) ?? null : null;
    const oldName = before === null ? "/dev/null" : `a${path}`;
    const newName = after === null ? "/dev/null" : `b${path}`;
    if (after?.secret !== undefined) {
      // A secret's plaintext (or its age file, off-host) is never shown: not even its length.
      out.push(`--- ${oldName}\n+++ ${newName}\n(secret)\n`);
      continue;
    }
    if (secret(before?.mode) || secret(after?.mode)) {
      out.push(`--- ${oldName}\n+++ ${newName}\n(content hidden: not world-readable)\n`);
      continue;
    }
    const oldText = before === null ? "" : decode(before.content);
    const newText = after === null ? "" : decode(after.content);
    if (oldText === null || newText === null) {
      out.push(`--- ${oldName}\n+++ ${newName}\n(binary content differs)\n`);
      continue;
    }
    const patch = createTwoFilesPatch(oldName, newName, oldText, newText, "", "", {
      context: 3,
    });
    // Drop the "=====" banner line the package puts first, and the tab it leaves after
    // each file name when there is no timestamp; keep the standard headers.
    out.push(
      patch.split("\n").filter((l) => !/^=+$/.test(l))
        .map((l) => /^(---|\+\+\+) /.test(l) ? l.replace(/\t$/, "") : l).join("\n"),
    );
  }
  return out.join("");
}
