/** What a rev asks of the mirror fetch: its kind and the history it needs, or why git refuses it. */
import assert from "node:assert/strict";
import { MAX_WALK, parseRev } from "../../src/host/revspec.ts";

const SHA = "0123456789abcdef0123456789abcdef01234567";

Deno.test("parseRev: names, ids and walks as the fetch needs them", () => {
  const cases: [string, unknown][] = [
    ["main", { kind: "name", name: "main" }],
    ["release/v2.1", { kind: "name", name: "release/v2.1" }],
    ["refs/tags/v1", { kind: "name", name: "refs/tags/v1" }],
    ["HEAD", { kind: "name", name: "HEAD" }],
    [SHA, { kind: "commit", id: SHA }],
    ["0123abc", { kind: "abbrev", prefix: "0123abc" }],
    // Too short to be an id: a name.
    ["abc", { kind: "name", name: "abc" }],
    // Upper case is no id git abbreviates here: a name.
    ["ABCDEF12", { kind: "name", name: "ABCDEF12" }],
    ["main~1", { kind: "relative", base: { kind: "name", name: "main" }, walk: "~1", depth: 1 }],
    ["main~", { kind: "relative", base: { kind: "name", name: "main" }, walk: "~", depth: 1 }],
    ["HEAD~3", { kind: "relative", base: { kind: "name", name: "HEAD" }, walk: "~3", depth: 3 }],
    ["v1^2", { kind: "relative", base: { kind: "name", name: "v1" }, walk: "^2", depth: 1 }],
    ["v1^0", { kind: "relative", base: { kind: "name", name: "v1" }, walk: "^0", depth: 0 }],
    ["main~2^2~3", {
      kind: "relative",
      base: { kind: "name", name: "main" },
      walk: "~2^2~3",
      depth: 6,
    }],
    [`${SHA}~2`, { kind: "relative", base: { kind: "commit", id: SHA }, walk: "~2", depth: 2 }],
    ["0123abc^", {
      kind: "relative",
      base: { kind: "abbrev", prefix: "0123abc" },
      walk: "^",
      depth: 1,
    }],
  ];
  for (const [rev, expected] of cases) assert.deepEqual(parseRev(rev), expected, rev);
});

Deno.test("parseRev: what git would never take for a commit is malformed, with why", () => {
  const cases: [string, RegExp][] = [
    ["main..side", /"\.\."/],
    ["main@{1}", /reflog/],
    ["@{-1}", /reflog/],
    ["~1", /before the ~ or \^/],
    ["^", /before the ~ or \^/],
    ["a:b", /~ \^ : \? \* \[/],
    ["a b", /spaces/],
    ["wild*", /\*/],
    ["main~x", /~ \^/],
    ["-main", /"-"/],
    ["@", /"@" alone/],
    ["/main", /empty path component/],
    ["a//b", /empty path component/],
    ["main.", /end with "\."/],
    ["feature/.x", /starts with "\."/],
    ["main.lock", /\.lock/],
    [`main~${MAX_WALK + 1}`, /more than 10000 commits/],
  ];
  for (const [rev, why] of cases) {
    const parsed = parseRev(rev);
    assert.equal(parsed.kind, "malformed", rev);
    if (parsed.kind === "malformed") assert.match(parsed.why, why, rev);
  }
});
