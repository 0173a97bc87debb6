/**
 * Sample agent runs for the metrics textfile tests: a success, a failure, and
 * a revision label with quotes, a backslash and a newline (on a paused host).
 *
 * @module
 */
import type { RunMetrics } from "../../src/report/metrics.ts";

/** A success, a failure and an odd revision label. */
export const METRICS_RUNS: RunMetrics[] = [
  {
    finishedAt: 1764115200,
    success: true,
    durationSeconds: 4.2,
    appliedRevision: "0123456789abcdef0123456789abcdef01234567",
    driftFiles: 0,
    actions: { write: 5, reload: 1, start: 3 },
    consecutiveFailures: 0,
    paused: false,
  },
  {
    finishedAt: 1764115260.5,
    success: false,
    durationSeconds: 0.01,
    appliedRevision: null,
    driftFiles: 3,
    actions: {},
    consecutiveFailures: 7,
    paused: false,
  },
  {
    finishedAt: 1764115320,
    success: true,
    durationSeconds: 0,
    appliedRevision: '(stateless+dirty) "quoted" \\ back\nline',
    driftFiles: 0,
    actions: {},
    consecutiveFailures: 0,
    paused: true,
  },
];
