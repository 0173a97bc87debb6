/**
 * Which path names a repository may use at all (SPEC §1), and how a name is
 * shown in a message when it may not: a name with a newline or a bidi
 * override must never reach a terminal or the journal as it is.
 *
 * @module
 */

/**
 * Characters no repository path may hold: C0 and C1 controls, DEL, the line
 * and paragraph separators, the bidi marks, embeddings, overrides and
 * isolates, and U+FFFD (what an undecodable byte becomes).
 */
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufffd]/u;

/** Why a single path segment may not be used, or `null` when it may. */
export function segmentProblem(segment: string): string | null {
  if (segment === "") return "empty path segment";
  if (segment === "." || segment === "..") return `path segment "${segment}"`;
  const bad = FORBIDDEN.exec(segment);
  if (bad === null) return null;
  if (bad[0] === "\ufffd") return "name is not valid UTF-8 (or holds U+FFFD)";
  return `name holds the ${describe(bad[0])} character`;
}

function describe(char: string): string {
  const code = char.codePointAt(0)!;
  const hex = code.toString(16).toUpperCase().padStart(4, "0");
  const names: Record<number, string> = {
    0x00: "NUL",
    0x09: "tab",
    0x0a: "newline",
    0x0d: "carriage return",
    0x1b: "escape",
    0x7f: "DEL",
  };
  if (names[code]) return `${names[code]} (U+${hex})`;
  if (code >= 0x202a && code <= 0x202e || code >= 0x2066 && code <= 0x2069) {
    return `bidi override U+${hex}`;
  }
  if (code === 0x061c || code === 0x200e || code === 0x200f) return `bidi mark U+${hex}`;
  return `control U+${hex}`;
}

/** `path` with every forbidden character escaped (`\n`, `\u{202E}`), safe to print. */
export function showPath(path: string): string {
  return path.replace(new RegExp(FORBIDDEN.source, "gu"), (char) => {
    switch (char) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      case "\0":
        return "\\0";
      default:
        return `\\u{${char.codePointAt(0)!.toString(16).toUpperCase()}}`;
    }
  });
}
