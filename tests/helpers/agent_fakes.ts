/**
 * Recording fakes of the agent's host adapters, for unit tests of the agent
 * pipeline: each implements the same interface as the real adapter, records
 * what it was asked, and fails the way the real one does when told to.
 *
 * @module
 */
import { CoreOpsError, Exit } from "../../src/errors.ts";
import type { Fetched, FetchRequest, GitMirror } from "../../src/host/mirror.ts";
import type { AuditEvent, Delivery, EventSink } from "../../src/host/journal.ts";
import type { RunLock, RunLocker } from "../../src/host/lock.ts";
import type { SignatureVerifier, VerifiedSignature } from "../../src/host/signature.ts";

/** A run lock in memory: `held` paths refuse with exit 75, like a second process would. */
export class FakeLocker implements RunLocker {
  readonly held = new Set<string>();
  readonly log: string[] = [];

  acquire(path: string): Promise<RunLock> {
    if (this.held.has(path)) {
      this.log.push(`refused ${path}`);
      return Promise.reject(
        new CoreOpsError(Exit.tempFail, "transient", [{
          message: "another core-ops run holds the run lock; this run changed nothing",
          location: { file: path },
        }]),
      );
    }
    this.held.add(path);
    this.log.push(`acquired ${path}`);
    return Promise.resolve({
      path,
      release: () => {
        if (this.held.delete(path)) this.log.push(`released ${path}`);
        return Promise.resolve();
      },
    });
  }
}

/** A remote as data: ref → commit; or an error to throw. */
export class FakeGitMirror implements GitMirror {
  readonly refs = new Map<string, string>();
  readonly fetches: FetchRequest[] = [];
  /** Thrown by the next fetch instead of resolving (e.g. an unreachable remote). */
  failNext: CoreOpsError | null = null;

  fetch(request: FetchRequest): Promise<Fetched> {
    this.fetches.push(request);
    const failure = this.failNext;
    this.failNext = null;
    if (failure !== null) return Promise.reject(failure);
    const commit = this.refs.get(request.rev);
    if (commit === undefined) {
      return Promise.reject(
        new CoreOpsError(Exit.noInput, "source", [{
          message: `${request.url} has no branch or tag "${request.rev}"`,
        }]),
      );
    }
    return Promise.resolve({ commit, mirror: `${request.stateDir}/mirror.git` });
  }
}

/** Signatures as data: commits in `signed` pass, every other commit is refused with 65. */
export class FakeSignatureVerifier implements SignatureVerifier {
  readonly signed = new Map<string, VerifiedSignature>();
  readonly verified: string[] = [];

  verify(_gitDir: string, commit: string, allowedSigners: string): Promise<VerifiedSignature> {
    this.verified.push(commit);
    const signature = this.signed.get(commit);
    if (signature !== undefined) return Promise.resolve(signature);
    return Promise.reject(
      new CoreOpsError(Exit.dataErr, "validation", [{
        message: `commit ${commit} is not signed`,
        location: { file: allowedSigners },
      }]),
    );
  }
}

/** Records events; `journald` false makes them "go to stderr", as with journald down. */
export class RecordingEventSink implements EventSink {
  readonly events: AuditEvent[] = [];
  journald = true;

  emit(event: AuditEvent): Promise<Delivery> {
    this.events.push(event);
    return Promise.resolve(this.journald ? "journal" : "stderr");
  }
}
