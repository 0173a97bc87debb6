/**
 * Retry with backoff for failed revisions (SPEC §4): a revision that failed
 * is retried after `retry-initial`, doubling per failure, capped at
 * `retry-max`; a new commit on the ref is tried at once; `--retry-now`
 * overrides. Transient failures (fetch, lock) never count against a revision.
 * Pure.
 *
 * @module
 */

/** The backoff record of the failing revision, kept in state.json. */
export interface RetryRecord {
  revision: string;
  /** How many runs of this revision failed. */
  failures: number;
  /** ISO time before which the revision is not tried again. */
  next_attempt: string;
}

/** Backoff settings, in seconds. */
export interface RetryPolicy {
  initialSeconds: number;
  maxSeconds: number;
}

/** Whether to run `revision` now, or why not. */
export type RetryDecision =
  | { run: true }
  | { run: false; failures: number; nextAttempt: string };

/** Decides whether a tick applies `revision`, given the backoff record. */
export function decide(
  record: RetryRecord | null,
  revision: string,
  now: number,
  retryNow: boolean,
): RetryDecision {
  if (retryNow || record === null || record.revision !== revision) return { run: true };
  if (now >= Date.parse(record.next_attempt)) return { run: true };
  return { run: false, failures: record.failures, nextAttempt: record.next_attempt };
}

/** The backoff record after `revision` failed (again) at `now`. */
export function afterFailure(
  record: RetryRecord | null,
  revision: string,
  now: number,
  policy: RetryPolicy,
): RetryRecord {
  const failures = record?.revision === revision ? record.failures + 1 : 1;
  const delay = Math.min(policy.initialSeconds * 2 ** (failures - 1), policy.maxSeconds);
  return { revision, failures, next_attempt: new Date(now + delay * 1000).toISOString() };
}
