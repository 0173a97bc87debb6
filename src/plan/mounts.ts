/**
 * Which changed config files a unit mounts, answered by lookup: every file is
 * indexed under each directory above it, so a unit's mount paths are a few
 * map lookups instead of a scan of every changed file (that scan made
 * planning quadratic in the repo size — bench/, issue 11).
 *
 * @module
 */

/**
 * Indexes `items` by the path `pathOf` gives and every directory above it.
 * The returned function yields, in the order of `items`, those whose path is
 * one of `mounts` or lies below one of them — exactly the items for which
 * `mountsPath(mounts, pathOf(item))` (units.ts) holds.
 */
export function mountIndex<T>(
  items: readonly T[],
  pathOf: (item: T) => string,
): (mounts: readonly string[]) => T[] {
  const byAncestor = new Map<string, number[]>();
  items.forEach((item, i) => {
    // "/etc/a/b" is filed under "/etc/a/b", "/etc/a", "/etc" and "" (what "/" mounts).
    let key = pathOf(item);
    for (;;) {
      const list = byAncestor.get(key);
      if (list) list.push(i);
      else byAncestor.set(key, [i]);
      const slash = key.lastIndexOf("/");
      if (slash < 0) break;
      key = key.slice(0, slash);
    }
  });
  return (mounts) => {
    const hits = new Set<number>();
    for (const p of mounts) {
      const dir = p.endsWith("/") ? p.slice(0, -1) : p;
      for (const i of byAncestor.get(dir) ?? []) hits.add(i);
    }
    return [...hits].sort((a, b) => a - b).map((i) => items[i]);
  };
}
