/**
 * A cgroup of its own for every guest. systemd-nspawn with `--keep-unit`
 * (there is no host systemd to ask for a scope) puts the guest under the cgroup
 * of whoever started it, at `<that cgroup>/payload`. Every harness process
 * sits in the same cgroup, so every guest on the machine — of this run, of a
 * concurrent run on the other suite, of another engineer's run — would share
 * one `/payload` tree, and their systemd instances would manage each other's
 * units: a cgroup removed under a starting unit ("Failed to join unit cgroup",
 * "Failed to spawn executor: No such file or directory"), a Podman pod slice
 * "already loaded", a service SIGKILLed when another guest stopped its
 * namesake. The harness therefore starts nspawn from a fresh cgroup per guest.
 *
 * @module
 */

/** Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `.../unified` on a hybrid host). */
async function unifiedMount(): Promise<string> {
  const mountinfo = await Deno.readTextFile("/proc/self/mountinfo");
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (right?.split(" ")[0] === "cgroup2") return left.split(" ")[4];
  }
  throw new Error("no cgroup2 hierarchy mounted: systemd-nspawn guests need one");
}

/** This process's cgroup v2 dir (the `0::` line of /proc/self/cgroup). */
async function ownCgroup(mount: string): Promise<string> {
  const lines = (await Deno.readTextFile("/proc/self/cgroup")).split("\n");
  const path = lines.find((l) => l.startsWith("0::"))?.slice(3);
  if (path === undefined) throw new Error("this process has no cgroup v2 membership");
  return `${mount}${path === "/" ? "" : path}`;
}

const PARENT = "core-ops-e2e";

/** The cgroup dir for guest `name` of this harness process. */
export async function guestCgroup(name: string): Promise<string> {
  return `${await unifiedMount()}/${PARENT}/${Deno.pid}-${name}`;
}

/**
 * Creates `dir` and runs `spawn` with this process moved into it, so that
 * the child it spawns starts there; then moves this process back.
 */
export async function spawnInCgroup<T>(dir: string, spawn: () => T): Promise<T> {
  const home = await ownCgroup(await unifiedMount());
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/cgroup.procs`, `${Deno.pid}\n`);
  try {
    return spawn();
  } finally {
    await Deno.writeTextFile(`${home}/cgroup.procs`, `${Deno.pid}\n`);
  }
}

/** Whether any process still runs in `dir` or below (`populated 1` in its cgroup.events). */
async function populated(dir: string): Promise<boolean> {
  const events = await Deno.readTextFile(`${dir}/cgroup.events`).catch(() => "populated 0");
  return /^populated 1$/m.test(events);
}

/**
 * Removes a guest's cgroup tree once nothing runs in it (processes of a big
 * guest may still be exiting after nspawn did: waits up to 10 s), deepest
 * first; best effort.
 */
export async function removeCgroup(dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (await populated(dir) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const dirs: string[] = [];
  const walk = async (d: string): Promise<void> => {
    dirs.push(d);
    for await (const entry of Deno.readDir(d)) {
      if (entry.isDirectory) await walk(`${d}/${entry.name}`);
    }
  };
  try {
    await walk(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const d of dirs.reverse()) await Deno.remove(d).catch(() => {});
}

/** Removes the guest cgroups of harness processes that are gone (killed too hard to clean up). */
export async function reapCgroups(isLive: (pid: number) => Promise<boolean>): Promise<void> {
  const parent = `${await unifiedMount()}/${PARENT}`;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return; // never made on this machine
  }
  for (const entry of entries) {
    const pid = Number(entry.name.split("-")[0]);
    if (entry.isDirectory && pid > 0 && !await isLive(pid)) {
      await removeCgroup(`${parent}/${entry.name}`);
    }
  }
}
