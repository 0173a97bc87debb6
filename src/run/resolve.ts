/**
 * Step 1 of a run, resolve: turn the source the operator named into one
 * revision and a way to read its tree — the same for every command, so `plan`,
 * `validate`, `apply` and `agent` accept and refuse exactly the same trees
 * (SPEC §2 "one reading of a revision").
 *
 * - a checkout (`--source-repo`): read from disk as it is; its provenance is
 *   the commit, `(stateless+dirty)` or `(stateless)`;
 * - a remote (`--repo --rev`, agent.toml): fetched into a bare git mirror —
 *   the persistent one in the state dir for the commands that write, a
 *   temporary one for `plan` and `validate`, which never write there — and
 *   read from the commit's objects, with the signature checked when
 *   `require-signed` asks for it.
 *
 * @module
 */
import { CoreOpsError } from "../errors.ts";
import { redactUrl } from "../host/remote.ts";
import type { FetchRequest } from "../host/mirror.ts";
import type { DesiredState } from "../model.ts";
import type { RepoTree } from "../tree.ts";

/** The source a run reads. */
export type SourceSpec =
  | { kind: "checkout"; path: string }
  | {
    kind: "remote";
    url: string;
    rev: string;
    /** Where the rev came from, for hints (`--rev`, `CORE_OPS_REV`, `rev in agent.toml`). */
    revFrom?: string;
    /** The persistent mirror in `stateDir` (apply, agent) or a temporary one (plan, validate). */
    into: "mirror" | "temp";
    stateDir: string;
    fetchTimeoutSeconds: number;
    sshKey: string | null;
    /** The allowed-signers file when `require-signed`, else `null`. */
    allowedSigners: string | null;
  };

/** A resolved source: the revision, where it came from, and its tree on demand. */
export interface Resolved {
  /** Commit SHA, or the provenance of a local checkout. */
  revision: string;
  /** For the state file: the checkout's path or the credential-free URL, and the ref. */
  repository: string;
  ref: string | null;
  /** Reads the revision's tree (exit 65 for what the readers refuse, 66 when unreadable). */
  read(): Promise<RepoTree>;
  /**
   * A source that is already a desired state — an applied generation kept in
   * the state dir (`core-ops rollback`) — gives it here instead of a tree.
   */
  desired?: () => Promise<DesiredState>;
  /** Removes what resolving left behind (a temporary mirror). */
  dispose(): Promise<void>;
}

/** The git and file system operations resolving needs; tests pass fakes. */
export interface SourcePorts {
  /** The provenance of a checkout (its commit, or stateless). */
  provenance(path: string): Promise<string>;
  /** Reads a checkout on disk. */
  readCheckout(path: string): Promise<RepoTree>;
  /** Fetches `rev` of `url` into the mirror under `stateDir`; the commit and the mirror. */
  fetch(request: FetchRequest): Promise<{ commit: string; mirror: string }>;
  /** Exit 65 unless `commit` carries a signature of an allowed signer. */
  verifySignature(mirror: string, commit: string, allowedSigners: string): Promise<void>;
  /** Reads `commit` from the objects of the bare repository `mirror`. */
  readCommit(mirror: string, commit: string): Promise<RepoTree>;
  /** A new private temporary dir, and its removal. */
  makeTempDir(): Promise<string>;
  removeDir(path: string): Promise<void>;
}

/** Resolves `spec` to a revision. */
export async function resolve(spec: SourceSpec, ports: SourcePorts): Promise<Resolved> {
  if (spec.kind === "checkout") {
    // git starts first and runs while the tree is read (the walk is synchronous).
    const revision = ports.provenance(spec.path);
    const tree = await ports.readCheckout(spec.path).catch(async (error) => {
      await revision.catch(() => {}); // the read's failure is the one to report
      throw error;
    });
    return {
      revision: await revision,
      repository: spec.path,
      ref: null,
      read: () => Promise.resolve(tree),
      dispose: () => Promise.resolve(),
    };
  }
  const stateDir = spec.into === "temp" ? await ports.makeTempDir() : spec.stateDir;
  const dispose = () => spec.into === "temp" ? ports.removeDir(stateDir) : Promise.resolve();
  try {
    const { commit, mirror } = await ports.fetch({
      url: spec.url,
      rev: spec.rev,
      revFrom: spec.revFrom,
      stateDir,
      timeoutSeconds: spec.fetchTimeoutSeconds,
      sshKey: spec.sshKey,
    });
    if (spec.allowedSigners !== null) {
      // A refused signature is the commit's fault: it says which commit, to back it off.
      await ports.verifySignature(mirror, commit, spec.allowedSigners).catch((error) => {
        throw error instanceof CoreOpsError ? error.of(commit) : error;
      });
    }
    return {
      revision: commit,
      repository: redactUrl(spec.url),
      ref: spec.rev,
      read: () => ports.readCommit(mirror, commit),
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
