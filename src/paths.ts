/**
 * POSIX path helpers — `join`, `dirname`, `basename` — with the results of
 * `node:path`'s, without loading it: every run pays for each module it
 * evaluates, and these three are all core-ops needs (BENCHMARKS.md,
 * start-up). tests/unit/paths_test.ts checks them against `node:path`.
 *
 * @module
 */

/** Joins segments with `/` and normalizes the result (`.`/`..` resolved, `//` folded). */
export function join(...segments: string[]): string {
  const joined = segments.filter((s) => s !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** `.` and `..` resolved and repeated slashes folded; a trailing slash is kept. */
function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(part);
  }
  let result = (absolute ? "/" : "") + out.join("/");
  if (result === "") return absolute ? "/" : trailing ? "./" : ".";
  if (trailing && result !== "/") result += "/";
  return result;
}

/** The path without its last segment (`/a/b` → `/a`, `a` → `.`, `/a` → `/`), as node:path says it. */
export function dirname(path: string): string {
  if (path === "") return ".";
  const rooted = path[0] === "/";
  // The slash before the last segment, trailing slashes skipped.
  let end = -1;
  let inTrailingSlashes = true;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] !== "/") inTrailingSlashes = false;
    else if (!inTrailingSlashes) {
      end = i;
      break;
    }
  }
  if (end === -1) return rooted ? "/" : ".";
  if (rooted && end === 1) return "//";
  return path.slice(0, end);
}

/** The last segment of the path (`/a/b.conf` → `b.conf`), trailing slashes ignored. */
export function basename(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === "/") end--;
  if (end === 1 && path[0] === "/") return "";
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}
