/**
 * The agent asks systemd for the owned units' states while git fetches: a
 * no-change tick plans with exactly those, so the two processes overlap.
 *
 * @module
 */
import { overriding, type Systemd } from "../host/systemd.ts";

/** Unit states asked for early, and the systemd that answers with them. */
export interface PrefetchedStates {
  systemd: Systemd;
  /** Settles when the early query has (whatever its outcome). */
  done: Promise<void>;
}

/**
 * Starts ONE `states(units)` query now and returns a `Systemd` that answers the
 * first `states()` call asking exactly that set with it; any other query, a
 * second one, or an early query that failed goes to `systemd` itself, so an
 * error surfaces where the run asks. The answer is observed after the lock
 * was taken, like every other observation of the run.
 */
export function prefetchStates(systemd: Systemd, units: readonly string[]): PrefetchedStates {
  const key = (list: readonly string[]) => [...new Set(list)].sort().join("\n");
  const asked = key(units);
  const early = systemd.states([...new Set(units)]).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  let used = false;
  return {
    done: early.then(() => {}),
    systemd: overriding(systemd, {
      states: async (query) => {
        if (!used && key(query) === asked) {
          used = true;
          const got = await early;
          if ("value" in got) return got.value;
        }
        return await systemd.states(query);
      },
    }),
  };
}
