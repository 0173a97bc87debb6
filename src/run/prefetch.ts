/**
 * The agent asks systemd for the owned units' states, and looks at the files
 * the converged record lists, while git asks the remote: a no-change tick
 * checks (or plans) with exactly those, so the work overlaps.
 *
 * @module
 */
import type { Files } from "../host/files.ts";
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

/**
 * The converged record's file observations (converged.ts) taken now, while git
 * works on the other CPU: the lstat stamps of `paths` and the listing of
 * `dir`. Returns a `Files` that answers the first `stamps()` asking exactly
 * `paths` and the first `list(dir)` with them; anything else, a second call,
 * or an early call that failed goes to `files` itself. Taken after the lock,
 * like every other observation of the run.
 */
export function prefetchStamps(files: Files, dir: string, paths: readonly string[]): Files {
  const early = {
    list: settle(() => files.list(dir)),
    stamps: settle(() => files.stamps(paths)),
  };
  let listed = false;
  let stamped = false;
  const same = (a: readonly string[]) =>
    a.length === paths.length && a.every((p, i) => p === paths[i]);
  return {
    digests: (query) => files.digests(query),
    read: (path) => files.read(path),
    write: (path, content, mode, owner) => files.write(path, content, mode, owner),
    remove: (path) => files.remove(path),
    list: async (query) => {
      if (!listed && query === dir) {
        listed = true;
        const got = await early.list;
        if ("value" in got) return got.value;
      }
      return await files.list(query);
    },
    stamps: async (query) => {
      if (!stamped && same(query)) {
        stamped = true;
        const got = await early.stamps;
        if ("value" in got) return got.value;
      }
      return await files.stamps(query);
    },
  };
}

function settle<T>(f: () => Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return f().then((value) => ({ value }), (error: unknown) => ({ error }));
  } catch (error) {
    return Promise.resolve({ error });
  }
}
