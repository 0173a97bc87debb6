/**
 * A throwaway systemd host: the pristine rootfs under a fresh overlay, booted
 * with `systemd-nspawn -b`, driven through `nsenter` into the namespaces of
 * its PID 1. Works on a host whose own PID 1 is not systemd: nspawn is told
 * not to talk to a host systemd or machined (`--register=no --keep-unit`).
 *
 * Every guest is torn down on every path out — normal end, a thrown error,
 * SIGINT/SIGTERM/SIGHUP to the harness — and a run killed harder than that is reaped
 * by the next run ({@link reapStale}).
 *
 * @module
 */
import { guestCgroup, reapCgroups, removeCgroup, spawnInCgroup } from "./cgroup.ts";
import { mustRun, type Result, run } from "./proc.ts";
import type { Timings } from "./timings.ts";

/** Where the offline package appears inside the guest. */
export const GUEST_PACKAGE_DIR = "/usr/local/lib/core-ops";
/** The command name operators use, symlinked to the package's launcher. */
export const GUEST_CORE_OPS = "/usr/local/bin/core-ops";

const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** How to boot a guest. */
export interface BootOptions {
  /** Machine name; also names the run dir. Letters, digits and dashes. */
  name: string;
  /** Pristine rootfs used as the overlay's read-only lower layer. */
  pristine: string;
  /** Parent of the guest's run dir. */
  runRoot: string;
  /** Where console output is saved for post-mortems. */
  logDir: string;
  /** Offline package tree to mount read-only at {@link GUEST_PACKAGE_DIR}. */
  packageDir?: string;
  /**
   * Whether to link {@link GUEST_CORE_OPS} to the package's launcher (default
   * true). First-boot scenarios set false: there Ignition installs that file.
   */
  linkCoreOps?: boolean;
  /**
   * Host-side hook run on the guest's root (the overlay's merged dir) after
   * the clone and before boot, e.g. to provision it with Ignition. Its
   * failure fails the boot (and tears the clone down).
   */
  prepareRoot?: (root: string) => Promise<void>;
  timings?: Timings;
}

/** How to run a command inside the guest. */
export interface ExecOptions {
  /** Environment on top of a clean PATH/LANG/HOME; nothing leaks in from the harness. */
  env?: Record<string, string>;
  /** Working directory inside the guest. */
  cwd?: string;
  stdin?: string | Uint8Array;
  /** Default 120 s: long enough for a container start, short enough to not hang CI. */
  timeoutMs?: number;
}

const live = new Set<Guest>();

/** A booted guest. Create with {@link Guest.boot}; always end with {@link Guest.shutdown}. */
export class Guest {
  /** The guest's root as seen from the host (the overlay's merged dir). */
  readonly root: string;
  #nspawn: Deno.ChildProcess | undefined;
  #cgroup: string | undefined;
  #leader = 0;
  #mounted = false;
  #consoleDone: Promise<void> = Promise.resolve();
  #down: Promise<void> | undefined;

  private constructor(
    /** Machine name. */
    readonly name: string,
    /** Run dir holding overlay layers, podman storage and pid files; removed at shutdown. */
    readonly runDir: string,
    readonly consoleLog: string,
    readonly timings: Timings | undefined,
  ) {
    this.root = `${runDir}/root`;
  }

  /** Guest PID 1 as seen from the host. */
  get leader(): number {
    return this.#leader;
  }

  /** Host pid of systemd-nspawn, or 0 before it started. */
  get nspawnPid(): number {
    return this.#nspawn?.pid ?? 0;
  }

  /**
   * Clones the rootfs, boots it and waits until systemd reports the system up
   * (`running` or `degraded`). On any failure the partial guest is torn down
   * before the error propagates.
   */
  static async boot(opts: BootOptions): Promise<Guest> {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(opts.name)) {
      throw new Error(`invalid guest name ${JSON.stringify(opts.name)}`);
    }
    await Deno.mkdir(opts.logDir, { recursive: true });
    const guest = new Guest(
      opts.name,
      `${opts.runRoot}/${opts.name}`,
      `${opts.logDir}/${opts.name}.console.log`,
      opts.timings,
    );
    live.add(guest);
    try {
      await guest.#measure("clone", () => guest.#prepare(opts));
      if (opts.prepareRoot) {
        const prepare = opts.prepareRoot;
        await guest.#measure("prepare-root", () => prepare(guest.root));
        await guest.#carryHomes();
      }
      await guest.#measure("boot", () => guest.#start(opts));
      return guest;
    } catch (error) {
      await guest.shutdown();
      throw error;
    }
  }

  async #measure<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    return this.timings ? await this.timings.measure(phase, fn) : await fn();
  }

  async #prepare(opts: BootOptions): Promise<void> {
    await Deno.remove(this.runDir, { recursive: true }).catch(() => {});
    for (const dir of ["root", "upper", "work", "home"]) {
      await Deno.mkdir(`${this.runDir}/${dir}`, { recursive: true });
    }
    // Copy-free clone: each guest writes only into its own upper layer.
    await mustRun("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${opts.pristine},upperdir=${this.runDir}/upper,workdir=${this.runDir}/work`,
      this.root,
    ]);
    this.#mounted = true;
    // Podman's overlay graph driver refuses an overlayfs upper layer, so its
    // storage (only the test image, a few MiB) is copied to a plain dir.
    await mustRun("cp", ["-a", `${opts.pristine}/var/lib/containers`, `${this.runDir}/storage`]);
    if (opts.packageDir) {
      await Deno.mkdir(`${this.root}/usr/local/bin`, { recursive: true });
      await Deno.mkdir(`${this.root}${GUEST_PACKAGE_DIR}`, { recursive: true });
      if (opts.linkCoreOps !== false) {
        await Deno.symlink(`${GUEST_PACKAGE_DIR}/bin/core-ops`, `${this.root}${GUEST_CORE_OPS}`);
      }
    }
  }

  /**
   * Homes made before boot (by `prepareRoot`, e.g. a login Ignition creates)
   * land in the overlay's /home, which the bind of `<run dir>/home` hides at
   * boot: they are copied onto the bind, owners and modes kept.
   */
  async #carryHomes(): Promise<void> {
    const homes = await Array.fromAsync(Deno.readDir(`${this.root}/home`));
    if (homes.length === 0) return;
    await mustRun("cp", ["-a", `${this.root}/home/.`, `${this.runDir}/home/`]);
  }

  async #start(opts: BootOptions): Promise<void> {
    const args = [
      "-q",
      "-D",
      this.root,
      "-M",
      this.name,
      "-b",
      // No host systemd/machined to register with: keep our own cgroup.
      "--register=no",
      "--keep-unit",
      // Podman's bridges and nftables rules stay inside the guest.
      "--private-network",
      // crun needs keyctl (session keyring) and bpf (device cgroup).
      "--system-call-filter=@keyring bpf",
      "--console=passive",
      `--bind=${this.runDir}/storage:/var/lib/containers`,
      // Rootless Podman keeps its storage in the login's home, and its overlay
      // driver refuses an overlayfs below: homes live on the run dir's file system.
      `--bind=${this.runDir}/home:/home`,
    ];
    if (opts.packageDir) args.push(`--bind-ro=${opts.packageDir}:${GUEST_PACKAGE_DIR}`);
    // Its own cgroup: guests sharing one would manage each other's units (see cgroup.ts).
    this.#cgroup = await guestCgroup(this.name);
    const nspawn = await spawnInCgroup(this.#cgroup, () =>
      new Deno.Command("systemd-nspawn", {
        args,
        // The host mixes cgroup v1 and v2; the guest gets pure cgroup v2.
        env: { SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn());
    this.#nspawn = nspawn;
    await Deno.writeTextFile(`${this.runDir}/nspawn.pid`, `${nspawn.pid}\n`);
    this.#consoleDone = captureConsole(nspawn, this.consoleLog);

    let exited = false;
    nspawn.status.then(() => exited = true);
    const deadline = Date.now() + 30_000;
    while (this.#leader === 0) {
      if (exited) {
        throw new Error(`systemd-nspawn exited during boot:\n${await this.#consoleTail()}`);
      }
      if (Date.now() > deadline) throw new Error("guest PID 1 did not appear within 30 s");
      this.#leader = await findChild(nspawn.pid, "systemd");
      if (this.#leader === 0) await sleep(50);
    }

    // systemctl can only answer once PID 1's private bus socket exists.
    while ((await this.exec(["test", "-S", "/run/systemd/private"])).code !== 0) {
      if (exited) throw new Error(`guest halted during boot:\n${await this.#consoleTail()}`);
      if (Date.now() > deadline) throw new Error("guest systemd did not come up within 30 s");
      await sleep(50);
    }
    const state = await this.exec(["systemctl", "is-system-running", "--wait"], {
      timeoutMs: 120_000,
    });
    const value = state.stdout.trim();
    if (value !== "running" && value !== "degraded") {
      const failed = await this.exec(["systemctl", "--failed", "--no-pager"]);
      throw new Error(`guest did not boot (state ${value || state.code}):\n${failed.stdout}`);
    }
    if (value === "degraded") {
      const failed = await this.exec(["systemctl", "--failed", "--no-pager", "--plain"]);
      console.warn(`  note: guest ${this.name} booted degraded:\n${failed.stdout}`);
    }
  }

  async #consoleTail(): Promise<string> {
    await this.#consoleDone;
    const text = await Deno.readTextFile(this.consoleLog).catch(() => "");
    return text.trimEnd().split("\n").slice(-30).join("\n");
  }

  /**
   * Runs `args` inside the guest with all of PID 1's namespaces and a clean
   * environment, as root. Never throws for a non-zero exit: callers assert.
   */
  exec(args: readonly string[], opts: ExecOptions = {}): Promise<Result> {
    if (this.#leader === 0) throw new Error(`guest ${this.name} is not running`);
    const env = Object.entries({
      PATH: GUEST_PATH,
      LANG: "C.UTF-8",
      TERM: "dumb",
      HOME: "/root",
      ...opts.env,
    }).map(([k, v]) => `${k}=${v}`);
    const chdir = opts.cwd ? ["-C", opts.cwd] : [];
    return run(
      "nsenter",
      ["-t", String(this.#leader), "-a", "env", "-i", ...chdir, ...env, ...args],
      { stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? 120_000 },
    );
  }

  /**
   * Halts the guest and removes every trace of it: SIGTERM to nspawn (which
   * asks systemd for a clean poweroff), SIGKILL after 30 s, unmount the
   * overlay, delete the run dir. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#down ??= this.#measure("teardown", () => this.#teardown());
    return this.#down;
  }

  async #teardown(): Promise<void> {
    const nspawn = this.#nspawn;
    if (nspawn) {
      const status = nspawn.status;
      let done = false;
      status.then(() => done = true);
      try {
        nspawn.kill("SIGTERM");
      } catch {
        // Already gone: nothing to signal.
      }
      const deadline = Date.now() + 30_000;
      while (!done && Date.now() < deadline) await sleep(50);
      if (!done) {
        try {
          nspawn.kill("SIGKILL");
        } catch {
          // Exited between the check and the kill.
        }
      }
      await status;
      await this.#consoleDone;
    }
    if (this.#cgroup) await removeCgroup(this.#cgroup);
    if (this.#mounted) {
      const result = await run("umount", [this.root]);
      // A busy mount must still go; lazily detaching it is the last resort.
      if (result.code !== 0) await mustRun("umount", ["-l", this.root]);
      this.#mounted = false;
    }
    // Never delete recursively through a live mount: that would reach into whatever it shows.
    const left = await leftovers(this.runDir);
    if (left.length > 0) throw new Error(`guest ${this.name} left behind:\n${left.join("\n")}`);
    await Deno.remove(this.runDir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    live.delete(this);
  }
}

async function captureConsole(child: Deno.ChildProcess, path: string): Promise<void> {
  const file = await Deno.open(path, { create: true, write: true, truncate: true });
  try {
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) await file.write(chunk);
    };
    await Promise.all([pump(child.stdout), pump(child.stderr)]);
  } finally {
    file.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pid of a child of `parent` whose command name is `comm`, or 0. */
async function findChild(parent: number, comm: string): Promise<number> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    const close = stat.lastIndexOf(")");
    if (close < 0) continue;
    const name = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    if (ppid === parent && name === comm) return Number(entry.name);
  }
  return 0;
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * What a guest rooted at `dir` could have left behind on the host: mounts at
 * or under `dir` and processes whose command line mentions it (nspawn's does,
 * through `-D`). Empty means clean.
 */
export async function leftovers(dir: string): Promise<string[]> {
  const found: string[] = [];
  // Deno grants /proc/self only with --allow-all; a child in our mount namespace reads the same table.
  const mountinfo = (await mustRun("cat", ["/proc/self/mountinfo"])).stdout;
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    if (fields.length < 5) continue;
    const mountPoint = unescapeMountPath(fields[4]);
    if (mountPoint === dir || mountPoint.startsWith(`${dir}/`)) found.push(`mount ${mountPoint}`);
  }
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const raw = await Deno.readFile(`/proc/${entry.name}/cmdline`).catch(() => undefined);
    if (!raw || raw.length === 0) continue;
    const argv = new TextDecoder().decode(raw).split("\0").filter((a) => a !== "");
    if (argv.some((a) => a.includes(dir))) found.push(`process ${entry.name}: ${argv.join(" ")}`);
  }
  return found;
}

const cleanups = new Set<() => Promise<void>>();

/** Registers extra cleanup (e.g. a helper process) to run when the harness is interrupted. */
export function onInterrupt(cleanup: () => Promise<void>): void {
  cleanups.add(cleanup);
}

/** Removes a cleanup registered with {@link onInterrupt}. */
export function offInterrupt(cleanup: () => Promise<void>): void {
  cleanups.delete(cleanup);
}

/** Tears down every guest still running and runs registered cleanups; used on SIGINT/SIGTERM/SIGHUP. */
export async function shutdownAll(): Promise<void> {
  await Promise.allSettled([...cleanups].map((cleanup) => cleanup()));
  await Promise.allSettled([...live].map((g) => g.shutdown()));
}

let stopping = false;

/** Whether SIGINT/SIGTERM/SIGHUP arrived: the run is being torn down and will exit. */
export function interrupted(): boolean {
  return stopping;
}

/**
 * Makes Ctrl-C, SIGTERM and SIGHUP tear down live guests before the harness exits,
 * instead of leaving a booted guest and a mounted overlay behind. `after`
 * runs once the guests are down (e.g. to remove the run's own dir).
 */
export function installInterruptTeardown(
  onSignal: (signal: string) => void = () => {},
  after: () => Promise<void> = () => Promise.resolve(),
): void {
  // SIGHUP too: a closed terminal or a dying parent shell must not cut teardown short.
  const codes = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
  for (const signal of ["SIGHUP", "SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      // Later signals (CI sends TERM after INT) must not interrupt the teardown under way.
      if (stopping) return;
      stopping = true;
      onSignal(signal);
      shutdownAll()
        .then(after)
        .finally(() => Deno.exit(codes[signal]));
    });
  }
}

/** Whether `pid` is a live e2e harness process (pids get reused, so the command line is checked). */
async function isLiveHarness(pid: number): Promise<boolean> {
  const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
  // The suite, the demo and the benchmarks all boot guests under a run dir of their own.
  return ["tests/e2e/", "tools/demo.ts", "bench/"].some((entry) => cmdline.includes(entry));
}

/**
 * Cleans up after harness runs that were killed too hard to clean up after
 * themselves (SIGKILL, OOM, a lost CI machine): stops their nspawn, unmounts,
 * removes. `runsDir` holds one dir per harness run, named by its pid; runs
 * whose harness is still alive (a concurrent `deno task e2e`) are left alone.
 */
export async function reapStale(runsDir: string): Promise<string[]> {
  const reaped: string[] = [];
  for (const entry of await listDir(runsDir)) {
    const dir = `${runsDir}/${entry}`;
    if (/^\d+$/.test(entry) && await isLiveHarness(Number(entry))) continue;
    for (const guest of await listDir(dir)) {
      await reapGuestDir(`${dir}/${guest}`);
      reaped.push(`${dir}/${guest}`);
    }
    await reapGuestDir(dir);
  }
  // Last: only once their guests are down can the cgroups of dead runs go.
  await reapCgroups(isLiveHarness);
  return reaped;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).filter((e) => e.isDirectory).map((e) =>
      e.name
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return [];
    }
    throw error;
  }
}

async function reapGuestDir(dir: string): Promise<void> {
  const pidText = await Deno.readTextFile(`${dir}/nspawn.pid`).catch(() => "");
  const pid = Number(pidText.trim());
  if (pid > 0) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    // Only a pid that is still *our* nspawn for this dir: pids get reused.
    if (cmdline.includes("systemd-nspawn") && cmdline.includes(dir)) {
      Deno.kill(pid, "SIGTERM");
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && await Deno.stat(`/proc/${pid}`).catch(() => undefined)) {
        await sleep(100);
      }
      if (await Deno.stat(`/proc/${pid}`).catch(() => undefined)) Deno.kill(pid, "SIGKILL");
    }
  }
  for (const line of await leftovers(dir)) {
    if (!line.startsWith("mount ")) continue;
    const point = line.slice("mount ".length);
    if ((await run("umount", [point])).code !== 0) await run("umount", ["-l", point]);
  }
  const left = await leftovers(dir);
  if (left.length > 0) throw new Error(`cannot clean stale guest dir ${dir}:\n${left.join("\n")}`);
  await Deno.remove(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
