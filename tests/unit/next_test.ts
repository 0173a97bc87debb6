/**
 * nextState (src/state/next.ts) as a table: for each previous state and each
 * event of a run, what state.json records — status, generation, revisions,
 * failure counts, the failure record and the backoff.
 */
import assert from "node:assert/strict";
import { CoreOpsError, Exit } from "../../src/errors.ts";
import { nextChange, nextState, type RecordPolicy, type StateEvent } from "../../src/state/next.ts";
import { initialState, type RunState } from "../../src/state/store.ts";

const T0 = "2026-12-01T10:00:00.000Z";
const T1 = "2026-12-01T10:00:05.000Z";
const stamp = { runId: "run-2", started: T0, finished: T1, durationMs: 5000 };
const AGENT: RecordPolicy = {
  source: { repository: "https://git.example/infra.git", ref: "main" },
  retry: { initialSeconds: 60, maxSeconds: 3600 },
};
const HAND: RecordPolicy = { source: { repository: "/src", ref: null }, retry: null };

/** A host that applied r1 once, and whose r0 failed twice before. */
const APPLIED: RunState = {
  ...initialState(),
  generation: 3,
  status: "success",
  last_attempted_revision: "r1",
  last_applied_revision: "r1",
  last_success: "2026-11-30T00:00:00.000Z",
  retry: { revision: "r0", failures: 2, next_attempt: "2026-12-01T11:00:00.000Z" },
};
const FAILING: RunState = {
  ...APPLIED,
  status: "failed",
  consecutive_failures: 1,
  retry: { revision: "r2", failures: 1, next_attempt: "2026-12-01T09:59:00.000Z" },
};

function ran(outcome: "success" | "noop" | "failure", revision = "r2"): StateEvent {
  return {
    kind: "ran",
    stamp,
    outcome,
    revision,
    actions: outcome === "noop" ? {} : { write: 1, restart: 1 },
    drift: 0,
    failure: outcome === "failure"
      ? {
        class: "verify",
        reason: "web.service: failed",
        units: [],
        rollback: "ok",
        rollback_error: null,
      }
      : null,
    steps: [],
  };
}

function refused(error: CoreOpsError, revision: string | null = "r2"): StateEvent {
  return { kind: "refused", stamp, revision, error };
}

const layoutError = new CoreOpsError(Exit.dataErr, "validation", [{ message: "bad layout" }]);
const fetchError = new CoreOpsError(Exit.tempFail, "transient", [{ message: "unreachable" }]);
const hostFault = new CoreOpsError(Exit.failed, "apply", [{ message: "no systemd" }], {
  blame: "host",
});
const internal = new CoreOpsError(Exit.software, "internal", [{ message: "bug" }]);

interface Row {
  name: string;
  previous: RunState;
  event: StateEvent;
  policy: RecordPolicy;
  expect: Partial<RunState> & { failureClass?: string | null; retryFailures?: number | null };
}

const ROWS: Row[] = [
  {
    name: "success: next generation, applied, failures and backoff cleared",
    previous: FAILING,
    event: ran("success"),
    policy: AGENT,
    expect: {
      generation: 4,
      status: "success",
      last_applied_revision: "r2",
      last_attempted_revision: "r2",
      consecutive_failures: 0,
      last_success: T1,
      failureClass: null,
      retryFailures: null,
    },
  },
  {
    name: "noop: same generation, applied, last change kept",
    previous: APPLIED,
    event: ran("noop", "r1"),
    policy: AGENT,
    expect: { generation: 3, status: "success", last_applied_revision: "r1", retryFailures: null },
  },
  {
    name: "failure (agent): attempted, not applied, one more failure, backed off",
    previous: FAILING,
    event: ran("failure"),
    policy: AGENT,
    expect: {
      generation: 3,
      status: "failed",
      last_applied_revision: "r1",
      last_attempted_revision: "r2",
      consecutive_failures: 2,
      last_failure: T1,
      failureClass: "verify",
      retryFailures: 2,
    },
  },
  {
    name: "failure (hand apply): the agent's backoff record is left alone",
    previous: FAILING,
    event: ran("failure"),
    policy: HAND,
    expect: { status: "failed", consecutive_failures: 2, retryFailures: 1 },
  },
  {
    name: "refused by the revision (layout): an attempt, backed off",
    previous: APPLIED,
    event: refused(layoutError),
    policy: AGENT,
    expect: {
      status: "failed",
      last_attempted_revision: "r2",
      last_applied_revision: "r1",
      consecutive_failures: 1,
      failureClass: "validation",
      retryFailures: 1,
    },
  },
  {
    name: "transient (fetch): no attempt, no backoff, status kept",
    previous: APPLIED,
    event: refused(fetchError, null),
    policy: AGENT,
    expect: {
      status: "success",
      last_attempted_revision: "r1",
      consecutive_failures: 1,
      failureClass: "transient",
      retryFailures: 2,
    },
  },
  {
    name: "host fault of a revision class (no systemd): recorded as such, never backed off",
    previous: APPLIED,
    event: refused(hostFault),
    policy: AGENT,
    expect: {
      status: "success",
      last_attempted_revision: "r1",
      consecutive_failures: 1,
      failureClass: "apply",
      retryFailures: 2,
    },
  },
  {
    name: "internal error: a host fault, recorded as not the revision's",
    previous: APPLIED,
    event: refused(internal),
    policy: AGENT,
    expect: {
      status: "success",
      consecutive_failures: 1,
      failureClass: "transient",
      retryFailures: 2,
    },
  },
];

for (const row of ROWS) {
  Deno.test(`nextState: ${row.name}`, () => {
    const before = structuredClone(row.previous);
    const next = nextState(row.previous, row.event, row.policy);
    assert.deepEqual(row.previous, before, "pure: the previous state is not changed");
    const { failureClass, retryFailures, ...fields } = row.expect;
    for (const [key, value] of Object.entries(fields)) {
      assert.deepEqual(next[key as keyof RunState], value, key);
    }
    if (failureClass !== undefined) assert.equal(next.failure?.class ?? null, failureClass);
    if (retryFailures !== undefined) assert.equal(next.retry?.failures ?? null, retryFailures);
    assert.equal(next.in_progress, null);
    assert.equal(next.last_run?.id, "run-2");
    assert.equal(next.last_run?.finished, T1);
  });
}

Deno.test("nextState: a started run records what it converges to; its end clears it", () => {
  const pending = [{
    path: "/q/web.container",
    sha256: "a".repeat(64),
    service: "web",
    kind: "container" as const,
    unit: "web.service",
    revision: "r2",
    source: "services/web/quadlet/web.container",
  }];
  const started = nextState(APPLIED, {
    kind: "started",
    runId: "run-2",
    revision: "r2",
    started: T0,
    pending,
  }, AGENT);
  assert.equal(started.status, "in_progress");
  assert.deepEqual(started.in_progress?.pending, pending);
  assert.equal(started.generation, APPLIED.generation);
  const done = nextState(started, ran("success"), AGENT);
  assert.equal(done.in_progress, null);
  assert.equal(done.status, "success");
});

Deno.test("nextState: the backoff doubles per failure of one revision and restarts for another", () => {
  let state = APPLIED;
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    state = nextState(state, ran("failure", "r5"), AGENT);
    delays.push((Date.parse(state.retry!.next_attempt) - Date.parse(T1)) / 1000);
  }
  assert.deepEqual(delays, [60, 120, 240]);
  state = nextState(state, ran("failure", "r6"), AGENT);
  assert.equal(state.retry?.failures, 1);
  assert.equal(state.retry?.revision, "r6");
});

Deno.test("nextState: pause, resume and a paused tick, as a table", () => {
  const PAUSE: StateEvent = { kind: "paused", at: T0, by: "alice", reason: "incident 7" };
  const PAUSED: RunState = {
    ...APPLIED,
    paused: { reason: "first", since: "2026-11-30T00:00:00.000Z", by: "bob", revision: "r1" },
  };
  const cases: [string, RunState, StateEvent, Partial<RunState>][] = [
    [
      "pause records who, when, why and the applied revision",
      APPLIED,
      PAUSE,
      { paused: { reason: "incident 7", since: T0, by: "alice", revision: "r1" } },
    ],
    ["pausing a paused host keeps the first pause", PAUSED, PAUSE, { paused: PAUSED.paused }],
    ["resume clears it", PAUSED, { kind: "resumed" }, { paused: null }],
    ["resuming a running host changes nothing", APPLIED, { kind: "resumed" }, { paused: null }],
    [
      "a paused tick is a run that applied nothing, at the applied revision",
      PAUSED,
      { kind: "held", stamp },
      {
        paused: PAUSED.paused,
        status: "success",
        generation: 3,
        consecutive_failures: 0,
        retry: APPLIED.retry,
        last_run: {
          id: "run-2",
          outcome: "paused",
          revision: "r1",
          started: T0,
          finished: T1,
          duration_ms: 5000,
          plan_summary: "none",
          actions: {},
          drift: 0,
        },
      },
    ],
  ];
  for (const [what, previous, event, expected] of cases) {
    const next = nextState(previous, event, AGENT);
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(next[key as keyof RunState], value, `${what}: ${key}`);
    }
    // Nothing else moves.
    const untouched = Object.keys(previous).filter((k) => !(k in expected));
    for (const key of untouched) {
      assert.deepEqual(
        next[key as keyof RunState],
        previous[key as keyof RunState],
        `${what}: ${key}`,
      );
    }
  }
  // A run recorded while paused (a hand apply) keeps the pause.
  const applied = nextState(PAUSED, ran("success"), HAND);
  assert.deepEqual(applied.paused, PAUSED.paused);
  assert.equal(applied.last_applied_revision, "r2");
});

Deno.test("nextChange: what executed is the last change; a no-op keeps the one before", () => {
  const step = { op: "write", target: "/etc/a", reason: "changed", status: "ok", message: "" };
  for (const outcome of ["success", "failure"] as const) {
    const event = { ...ran(outcome), steps: [step] } as Extract<StateEvent, { kind: "ran" }>;
    assert.deepEqual(nextChange(event), {
      run_id: "run-2",
      revision: "r2",
      outcome,
      finished: T1,
      steps: [step],
    });
  }
  assert.equal(nextChange(ran("noop") as Extract<StateEvent, { kind: "ran" }>), null);
});
