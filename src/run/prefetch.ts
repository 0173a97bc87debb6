/**
 * The agent asks systemd for the owned units' states, and looks at the files
 * the converged record lists, while git asks the remote: a no-change tick
 * checks (or plans) with exactly those, so the work overlaps.
 *
 * @module
 */
import { type Files, type FileStamp, overriding as overridingFiles } from "../host/files.ts";
import { overriding as overridingSystemd, type Systemd } from "../host/systemd.ts";

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
  const early = settled(systemd.states([...new Set(units)]));
  return {
    done: early.then(() => {}),
    systemd: overridingSystemd(systemd, {
      states: answeredOnce(early, (query) => key(query) === asked, (q) => systemd.states(q)),
    }),
  };
}

/**
 * The converged record's file observations (converged.ts) taken now, while git
 * works on the other CPU: the lstat stamps of `paths` and the listing of
 * `dir`. Returns a `Files` that answers the first `stamps()` asking exactly
 * `paths` and the first `list(dir)` with them; anything else, a second call,
 * or an early call that failed goes to `files` itself. Taken after the lock,
 * like every other observation of the run.
 */
export function prefetchStamps(files: Files, dir: string, paths: readonly string[]): Files {
  // Started here, synchronous work included: what the real adapter throws is settled too.
  const list = settled(new Promise<string[]>((done) => done(files.list(dir))));
  const stamps = settled(
    new Promise<Map<string, FileStamp | null>>((done) => done(files.stamps(paths))),
  );
  const same = (query: readonly string[]) =>
    query.length === paths.length && query.every((p, i) => p === paths[i]);
  return overridingFiles(files, {
    list: answeredOnce(list, (query) => query === dir, (q) => files.list(q)),
    stamps: answeredOnce(stamps, same, (q) => files.stamps(q)),
  });
}

/** A promise's outcome as a value. */
export type Settled<T> = { value: T } | { error: unknown };

/** A promise's outcome as a value: awaited later, its rejection is never unhandled meanwhile. */
export function settled<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ value }), (error: unknown) => ({ error }));
}

/**
 * `ask`, except that the first question `matches` takes gets `early`'s answer;
 * any other question, a second one, or one whose early asking failed is asked
 * again, so an error surfaces where the run asks.
 */
function answeredOnce<Q, R>(
  early: Promise<Settled<R>>,
  matches: (query: Q) => boolean,
  ask: (query: Q) => Promise<R>,
): (query: Q) => Promise<R> {
  let used = false;
  return async (query) => {
    if (!used && matches(query)) {
      used = true;
      const got = await early;
      if ("value" in got) return got.value;
    }
    return await ask(query);
  };
}
