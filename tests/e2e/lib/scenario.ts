/**
 * What a scenario is and the helpers that keep one to a few lines: write and
 * commit a source repository inside the guest, run core-ops there, and assert
 * on what systemd, Podman, the filesystem and journald say afterwards.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { E2eConfig } from "./config.ts";
import { type ExecOptions, type Guest, GUEST_CORE_OPS } from "./guest.ts";
import type { Result } from "./proc.ts";
import { TEST_IMAGE, TEST_IMAGE_TAR } from "./rootfs.ts";
import type { Timings } from "./timings.ts";

/**
 * Tags select scenarios with `deno task e2e --tag TAG`. `host`: the outcome
 * depends on the host's systemd or Podman behaviour (unit naming, the
 * generator's validation and crashes, verification, rollback, the agent and
 * its units, first boot), so a second test host with other versions must run
 * it too; `.ci/run` runs the whole suite on trixie and `--tag host` on sid.
 */
export const TAGS = [
  ["host", "scenarios whose outcome depends on the host's systemd or Podman"],
] as const;

/** A tag of {@link TAGS}. */
export type Tag = typeof TAGS[number][0];

/** One end-to-end check. */
export interface Scenario {
  /** Shown in the report; unique. */
  name: string;
  /** See {@link TAGS}; scenarios/mod.ts tags whole groups with {@link tagged}. */
  tags?: readonly Tag[];
  /**
   * Whether the runner boots a fresh guest for it (default true). Harness
   * self-tests set false and manage their own guests.
   */
  guest?: boolean;
  /** Longest the scenario may take, guest boot excluded (default 5 minutes). */
  timeoutMs?: number;
  /**
   * Prepares the guest's root before its boot (see `BootOptions.prepareRoot`),
   * e.g. provisioning it with Ignition for a first boot.
   */
  prepareRoot?: (root: string, env: HarnessEnv) => Promise<void>;
  /** Whether /usr/local/bin/core-ops links to the package (default true). */
  linkCoreOps?: boolean;
  run(ctx: ScenarioContext): Promise<void>;
}

/** What the runner prepared once for all scenarios. */
export interface HarnessEnv {
  cfg: E2eConfig;
  /** Pristine rootfs tree to boot guests from. */
  pristine: string;
  /** Offline package tree mounted into every guest. */
  packageDir: string;
  timings: Timings;
}

/** `scenarios` with `tag` added to each. */
export function tagged(tag: Tag, scenarios: readonly Scenario[]): Scenario[] {
  return scenarios.map((s) => ({ ...s, tags: [...new Set([...s.tags ?? [], tag])] }));
}

/** What the guest runs, read from the guest itself (never assumed from the suite). */
export interface HostVersions {
  /** systemd's major version (`systemctl --version`: `systemd 257 (257.9-1~deb13u1)`). */
  systemd: number;
  /** Podman's version (`podman --version`: `podman version 5.4.2`). */
  podman: string;
}

/** Whether the dotted version `version` is at least `major.minor`. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [ma, mi] = version.split(".").map((n) => Number.parseInt(n, 10));
  return ma > major || (ma === major && mi >= minor);
}

/** A file to write: its content, or content with a mode. */
export type FileSpec = string | { content: string; mode: number };

/** Relative path → content; parent dirs are created. */
export type Files = Record<string, FileSpec>;

/** One `journalctl -o json` entry: field → value (binary fields stay as byte arrays). */
export type JournalEntry = Record<string, string | number[] | null>;

/** A login created in the guest by {@link ScenarioContext.createLogin}. */
export interface Login {
  login: string;
  uid: number;
  /** Its home (on the plain file system the guest binds over /home). */
  home: string;
}

/** How long a lingering login's user@<uid>.service may take to become active. */
const USER_MANAGER_TIMEOUT_MS = 30_000;

/** journald's service and the sockets that start it on demand. */
const JOURNALD_UNITS = [
  "systemd-journald.socket",
  "systemd-journald-dev-log.socket",
  "systemd-journald-audit.socket",
  "systemd-journald.service",
];

/** The author of every commit a scenario makes (`git -c …`). */
export const GIT_IDENTITY = ["-c", "user.name=core-ops e2e", "-c", "user.email=e2e@localhost"];

/** The handle a scenario gets: the guest plus assertion helpers. */
export class ScenarioContext {
  #versions: Promise<HostVersions> | undefined;

  constructor(readonly env: HarnessEnv, readonly guestOrNone: Guest | undefined) {}

  /** The guest's systemd and Podman versions, asked once per scenario. */
  versions(): Promise<HostVersions> {
    this.#versions ??= (async () => {
      const systemd = (await this.ok(["systemctl", "--version"])).stdout;
      const podman = (await this.ok(["podman", "--version"])).stdout;
      const s = /^systemd (\d+)/.exec(systemd);
      const p = /^podman version (\d+\.\d+(?:\.\d+)?)/m.exec(podman);
      assert.ok(s && p, `cannot read versions from:\n${systemd}\n${podman}`);
      return { systemd: Number(s[1]), podman: p[1] };
    })();
    return this.#versions;
  }

  /** The scenario's guest; only scenarios with `guest: false` have none. */
  get guest(): Guest {
    if (!this.guestOrNone) throw new Error("this scenario runs without a guest");
    return this.guestOrNone;
  }

  /** Runs a command in the guest; never throws on a non-zero exit. */
  exec(args: readonly string[], opts?: ExecOptions): Promise<Result> {
    return this.guest.exec(args, opts);
  }

  /** Runs a command in the guest and asserts it exited 0. */
  async ok(args: readonly string[], opts?: ExecOptions): Promise<Result> {
    const result = await this.exec(args, opts);
    assert.equal(result.code, 0, describe(args, result));
    return result;
  }

  /** Writes one file inside the guest (parents created, default mode 0644). */
  async writeFile(path: string, spec: FileSpec): Promise<void> {
    const { content, mode } = typeof spec === "string" ? { content: spec, mode: 0o644 } : spec;
    // Written from inside the guest: its absolute symlinks must resolve in the guest, not on the host.
    await this.ok(["install", "-D", "-m", mode.toString(8), "/dev/stdin", path], {
      stdin: content,
    });
  }

  /** Writes every file of `files` under `dir` inside the guest. */
  async writeFiles(dir: string, files: Files): Promise<void> {
    for (const [rel, spec] of Object.entries(files)) {
      assert.ok(!rel.startsWith("/") && !rel.split("/").includes(".."), `bad repo path ${rel}`);
      await this.writeFile(`${dir}/${rel}`, spec);
    }
  }

  /**
   * Creates (or updates) a git repository at `dir` inside the guest with
   * `files`, commits everything, and returns the commit SHA. Files of an
   * earlier commit that `files` does not name are kept unless `replace`.
   */
  async writeRepo(
    dir: string,
    files: Files,
    opts: { message?: string; replace?: boolean } = {},
  ): Promise<string> {
    const fresh = (await this.exec(["test", "-d", `${dir}/.git`])).code !== 0;
    if (fresh) {
      await this.ok(["mkdir", "-p", dir]);
      await this.ok(["git", "-C", dir, "init", "-q", "-b", "main"]);
    } else if (opts.replace) {
      await this.ok(["git", "-C", dir, "rm", "-r", "-q", "--ignore-unmatch", "."]);
    }
    await this.writeFiles(dir, files);
    await this.ok(["git", "-C", dir, "add", "-A"]);
    await this.ok([
      "git",
      ...GIT_IDENTITY,
      "-C",
      dir,
      "commit",
      "-q",
      "--allow-empty",
      "-m",
      opts.message ?? "e2e scenario commit",
    ]);
    return (await this.ok(["git", "-C", dir, "rev-parse", "HEAD"])).stdout.trim();
  }

  /** Stops journald with every socket that would start it again; returns when it is down. */
  async stopJournald(): Promise<void> {
    await this.ok(["systemctl", "stop", ...JOURNALD_UNITS]);
    await this.assertJournaldDown();
  }

  /** Asserts journald and its socket are down (nothing brought them back). */
  async assertJournaldDown(): Promise<void> {
    for (const unit of ["systemd-journald.service", "systemd-journald.socket"]) {
      await this.assertUnit(unit, { ActiveState: "inactive" });
    }
  }

  /** Starts journald again after {@link stopJournald}. */
  async startJournald(): Promise<void> {
    await this.ok(["systemctl", "start", "systemd-journald.socket", "systemd-journald.service"]);
  }

  /** Runs the packaged `core-ops` in the guest, the way an operator would. */
  coreOps(args: readonly string[], opts?: ExecOptions): Promise<Result> {
    return this.exec([GUEST_CORE_OPS, ...args], opts);
  }

  /** Runs `core-ops` and parses its stdout as the one JSON document `--json` promises. */
  async coreOpsJson(
    args: readonly string[],
    expectCode = 0,
    opts?: ExecOptions,
  ): Promise<Record<string, unknown>> {
    const result = await this.coreOps(args, opts);
    assert.equal(result.code, expectCode, describe(["core-ops", ...args], result));
    try {
      return JSON.parse(result.stdout);
    } catch (error) {
      assert.fail(
        `stdout of core-ops ${
          args.join(" ")
        } is not one JSON document (${error}):\n${result.stdout}`,
      );
    }
  }

  /** `systemctl show` properties of `unit` as a record. */
  async unit(
    unit: string,
    props: readonly string[] = ["LoadState", "ActiveState", "SubState"],
  ): Promise<Record<string, string>> {
    const result = await this.ok([
      "systemctl",
      "show",
      "--no-pager",
      `--property=${props.join(",")}`,
      unit,
    ]);
    return parseProperties(result.stdout);
  }

  /** Asserts that `unit` has exactly the given `systemctl show` property values. */
  async assertUnit(unit: string, expected: Record<string, string>): Promise<void> {
    const actual = await this.unit(unit, Object.keys(expected));
    assert.deepEqual(actual, expected, `systemctl show ${unit}`);
  }

  /**
   * Creates login `name` with a home, a user group and subuid/subgid ranges
   * (useradd allocates them; asserted), so that it can run rootless Podman.
   * With `linger`, enables lingering the way an operator does
   * (`loginctl enable-linger`) and waits until `user@<uid>.service` is active;
   * the wait is recorded as the `user-manager` phase. Without, the login has
   * no user manager until something opens a session for it.
   */
  async createLogin(name: string, opts: { linger: boolean }): Promise<Login> {
    await this.ok(["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name]);
    const uid = Number((await this.ok(["id", "-u", name])).stdout.trim());
    const home = (await this.ok(["getent", "passwd", name])).stdout.trim().split(":")[5];
    for (const file of ["/etc/subuid", "/etc/subgid"]) {
      const ranges = await this.readFile(file);
      assert.match(
        ranges,
        new RegExp(`^${name}:\\d+:[1-9]\\d*$`, "m"),
        `${file} has no range for ${name}`,
      );
    }
    if (opts.linger) {
      const start = performance.now();
      // From a transient unit: a command nsenter'd into the guest sits outside the guest's
      // cgroup tree, and logind, unable to tell whose it is, refuses it (EUNATCH).
      await this.ok([
        "systemd-run",
        "--wait",
        "--pipe",
        "--quiet",
        "loginctl",
        "enable-linger",
        name,
      ]);
      const unit = `user@${uid}.service`;
      for (;;) {
        const state = (await this.exec(["systemctl", "is-active", unit])).stdout.trim();
        if (state === "active") break;
        if (performance.now() - start > USER_MANAGER_TIMEOUT_MS) {
          const status = await this.exec(["systemctl", "status", "--no-pager", unit]);
          assert.fail(
            `${unit} is ${state}, not active, after lingering ${name}:\n${status.stdout}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      this.env.timings.add("user-manager", (performance.now() - start) / 1000);
    }
    return { login: name, uid, home };
  }

  /**
   * Runs `args` as `login` in its home, with the runtime dir and D-Bus of its
   * user manager (so a lingering login is needed), the way its own units see
   * them; never throws on a non-zero exit.
   */
  asLogin(login: Login, args: readonly string[], opts?: ExecOptions): Promise<Result> {
    const runtime = `/run/user/${login.uid}`;
    return this.exec([
      "runuser",
      "-u",
      login.login,
      "--",
      "env",
      "-C",
      login.home,
      `XDG_RUNTIME_DIR=${runtime}`,
      `DBUS_SESSION_BUS_ADDRESS=unix:path=${runtime}/bus`,
      ...args,
    ], opts);
  }

  /**
   * Imports {@link TEST_IMAGE} into `login`'s rootless storage (in its home):
   * root's image store is not visible to rootless Podman.
   */
  async importTestImage(login: Login): Promise<void> {
    const args = ["podman", "image", "import", "-q", TEST_IMAGE_TAR, TEST_IMAGE];
    const result = await this.asLogin(login, args);
    assert.equal(result.code, 0, describe(args, result));
  }

  /** Runs `systemctl --user -M <login>@ args…`: the login's own service manager. */
  userSystemctl(login: Login | string, args: readonly string[]): Promise<Result> {
    const name = typeof login === "string" ? login : login.login;
    return this.exec(["systemctl", "--user", "-M", `${name}@`, ...args]);
  }

  /** `systemctl --user -M <login>@ show` properties of the login's `unit` as a record. */
  async userUnit(
    login: Login,
    unit: string,
    props: readonly string[] = ["LoadState", "ActiveState", "SubState"],
  ): Promise<Record<string, string>> {
    const args = ["show", "--no-pager", `--property=${props.join(",")}`, unit];
    const result = await this.userSystemctl(login, args);
    assert.equal(
      result.code,
      0,
      describe(["systemctl", "--user", "-M", login.login, ...args], result),
    );
    return parseProperties(result.stdout);
  }

  /** Runs `podman` in the guest and asserts success. */
  podman(args: readonly string[]): Promise<Result> {
    return this.ok(["podman", ...args]);
  }

  /** Content of a file inside the guest. */
  async readFile(path: string): Promise<string> {
    return (await this.ok(["cat", "--", path])).stdout;
  }

  /** Whether `path` exists inside the guest (without following a final symlink). */
  async exists(path: string): Promise<boolean> {
    return (await this.exec(["test", "-e", path])).code === 0 ||
      (await this.exec(["test", "-L", path])).code === 0;
  }

  /**
   * A listing of everything under `paths` (path, type, size, mtime), for
   * asserting that a read-only command changed nothing on the host.
   */
  async snapshot(paths: readonly string[]): Promise<string> {
    const result = await this.exec(["find", ...paths, "-printf", "%p %y %s %T@\\n"]);
    return result.stdout.split("\n").sort().join("\n");
  }

  /** Journal entries matching journalctl `matches` (e.g. `SYSLOG_IDENTIFIER=core-ops`). */
  async journal(matches: readonly string[]): Promise<JournalEntry[]> {
    // Entries written a moment ago may still sit in journald's socket buffer.
    await this.exec(["journalctl", "--sync"]);
    const result = await this.ok(["journalctl", "--no-pager", "-o", "json", ...matches]);
    return result.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  }
}

/** `systemctl show` output (`Key=value` lines) as a record. */
function parseProperties(stdout: string): Record<string, string> {
  const record: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) record[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return record;
}

/** An assertion message showing a command's exit code and output. */
export function describe(args: readonly string[], result: Result): string {
  return `\`${
    args.join(" ")
  }\` exited ${result.code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}
