/**
 * The real ways to get at a source, in one object for the run's resolver
 * (src/run/resolve.ts): a checkout's provenance and files, the mirror fetch,
 * the signature check, and a commit read from the mirror's objects.
 *
 * @module
 */
import { readRepoTree } from "./checkout.ts";
import { provenance } from "./git.ts";
import { fetchIntoMirror } from "./mirror.ts";
import { readGitTree } from "./gittree.ts";
import { verifyCommit } from "./signature.ts";

/** The host's sources. */
export const hostSources = {
  provenance,
  readCheckout: readRepoTree,
  fetch: fetchIntoMirror,
  verifySignature: async (mirror: string, commit: string, allowedSigners: string) => {
    await verifyCommit(mirror, commit, allowedSigners);
  },
  readCommit: (mirror: string, commit: string) => readGitTree(mirror, commit),
  makeTempDir: () => Deno.makeTempDir({ prefix: "core-ops-source-" }),
  removeDir: (path: string) => Deno.remove(path, { recursive: true }),
};
