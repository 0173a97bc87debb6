/**
 * The commit `git fetch` takes for a short name, from the remote's ref list
 * (src/host/mirror.ts): the agent skips the fetch when it is the commit the
 * mirror already tracks, so it must pick the ref git's own rules pick.
 */
import assert from "node:assert/strict";
import { commitOfName } from "../../src/host/mirror.ts";

const [A, B, C, T] = ["a", "b", "c", "d"].map((x) => x.repeat(40));

Deno.test("commitOfName: git's rules in git's order; an annotated tag's commit; else null", () => {
  const lines = (...refs: [string, string][]) =>
    refs.map(([id, ref]) => `${id}\t${ref}`).join("\n");
  const cases: [string, string, string | null][] = [
    [lines([A, "refs/heads/main"]), "main", A],
    // A tag and a branch of one name: git fetch takes the tag (refs/tags/ before refs/heads/).
    [lines([A, "refs/heads/main"], [B, "refs/tags/main"]), "main", B],
    // refs/<name> before both; the name as a full ref exactly.
    [lines([A, "refs/heads/main"], [B, "refs/tags/main"], [C, "refs/main"]), "main", C],
    [lines([A, "refs/heads/main"], [B, "refs/tags/main"]), "refs/heads/main", A],
    // An annotated tag: the tag object, and its commit on the ^{} line.
    [lines([T, "refs/tags/v1"], [A, "refs/tags/v1^{}"]), "v1", A],
    // Only a ref that ENDS in /<name> as a whole component matches no rule: none.
    [lines([A, "refs/heads/feature/main"]), "main", null],
    [lines([A, "refs/remotes/origin/main"]), "origin/main", A],
    ["", "main", null],
    // Not an object id (a malformed answer): none, and the agent fetches.
    [lines(["zzz", "refs/heads/main"]), "main", null],
  ];
  for (const [listing, name, expected] of cases) {
    assert.equal(commitOfName(listing, name), expected, `${name} in\n${listing}`);
  }
});
