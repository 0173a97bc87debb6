/**
 * Recording fakes of the host adapters, for unit tests of the run pipeline:
 * an in-memory file system and a systemd that keeps unit states, answers
 * `list-units`/`show` from them, and records every call in order.
 *
 * @module
 */
import { sha256 } from "../../src/digest.ts";
import type { FileContent, FileOwner, Files, FileStamp } from "../../src/host/files.ts";
import type { UserEntry, Users } from "../../src/host/users.ts";
import type { DryRunResult, QuadletGenerator } from "../../src/plan/dryrun.ts";
import type { JobOp, JobOutcome, Systemd, UnitProperties } from "../../src/host/systemd.ts";
import { isTemplateUnit } from "../../src/model.ts";
import type { PullPolicy, UnitState } from "../../src/model.ts";

/** An in-memory file system that records writes and removals. */
export class FakeFiles implements Files {
  readonly files = new Map<string, FileContent>();
  readonly calls: string[] = [];
  /** Paths whose write throws (e.g. a full disk). */
  readonly failWrites = new Set<string>();
  /** The clock of the files' change times (their stamps' `changedMs`). */
  now: () => number = () => 0;
  /** Each path's stamp, renewed by every write and put (as a new inode would be). */
  readonly #stamps = new Map<string, FileStamp>();
  #writes = 0;

  stamps(paths: readonly string[]): Promise<Map<string, FileStamp | null>> {
    return Promise.resolve(new Map(paths.map((p) => [p, this.#stamps.get(p) ?? null])));
  }

  #stamp(path: string): void {
    this.#stamps.set(path, { id: `fake:${++this.#writes}`, changedMs: this.now() });
  }

  digests(paths: readonly string[]): Promise<Map<string, string | null>> {
    return Promise.resolve(
      new Map(paths.map((p) => {
        const f = this.files.get(p);
        return [p, f ? sha256(f.content) : null];
      })),
    );
  }

  read(path: string): Promise<FileContent | null> {
    return Promise.resolve(this.files.get(path) ?? null);
  }

  write(path: string, content: Uint8Array, mode: number, owner?: FileOwner): Promise<void> {
    if (this.failWrites.has(path)) return Promise.reject(new Error(`No space left: ${path}`));
    if (!path.includes("/state/")) this.calls.push(`write ${path}`);
    this.files.set(path, owner ? { content, mode, owner } : { content, mode });
    this.#stamp(path);
    return Promise.resolve();
  }

  remove(path: string): Promise<void> {
    if (!path.includes("/state/")) this.calls.push(`remove ${path}`);
    this.files.delete(path);
    this.#stamps.delete(path);
    return Promise.resolve();
  }

  list(dir: string): Promise<string[]> {
    return Promise.resolve([...this.files.keys()].filter((p) => p.startsWith(dir + "/")).sort());
  }

  /** Text at `path`, or undefined. */
  text(path: string): string | undefined {
    const f = this.files.get(path);
    return f ? new TextDecoder().decode(f.content) : undefined;
  }

  /** Puts `text` at `path`, as a hand edit would. */
  put(path: string, text: string, mode = 0o644): void {
    this.files.set(path, { content: new TextEncoder().encode(text), mode });
    this.#stamp(path);
  }
}

/** How a unit behaves when started in the fake. */
export type Behaviour = "runs" | "fails" | "crash-loops" | "oneshot";

/** A systemd that knows the units whose files are "deployed" and records every call. */
export class FakeSystemd implements Systemd {
  readonly units = new Map<string, Record<string, string>>();
  /** Every call, in order: `daemon-reload`, `start a.service b.service`, `show …`, `list-units …`. */
  readonly calls: string[] = [];
  /** Behaviour per unit on start/restart (default: runs). */
  readonly behaviour = new Map<string, Behaviour>();
  /** Units that exist after a daemon-reload (what the generator and systemd would load). */
  loadable: (unit: string) => boolean = () => true;
  #invocation = 0;
  #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  available(): Promise<boolean> {
    return Promise.resolve(true);
  }

  instances(templates: readonly string[]): Promise<Map<string, UnitState> | null> {
    if (templates.length === 0) return Promise.resolve(new Map());
    this.calls.push(`list-units ${templates.map((t) => t.replace("@.", "@*.")).join(" ")}`);
    const out = new Map<string, UnitState>();
    for (const [unit, p] of this.units) {
      const instanceOf = templates.some((t) => {
        const [head, tail] = t.split("@.");
        return unit !== t && unit.startsWith(`${head}@`) && unit.endsWith(`.${tail}`);
      });
      if (instanceOf) out.set(unit, { load: p.LoadState, active: p.ActiveState });
    }
    return Promise.resolve(out);
  }

  states(units: readonly string[]): Promise<Map<string, UnitState> | null> {
    this.calls.push(`list-units ${units.join(" ")}`);
    const out = new Map<string, UnitState>();
    for (const u of units) {
      if (isTemplateUnit(u)) continue;
      const p = this.units.get(u);
      out.set(
        u,
        p ? { load: p.LoadState, active: p.ActiveState } : {
          load: "not-found",
          active: "inactive",
        },
      );
    }
    return Promise.resolve(out);
  }

  show(units: readonly string[], props: readonly string[]): Promise<Map<string, UnitProperties>> {
    this.calls.push(`show ${units.join(" ")}`);
    const out = new Map<string, UnitProperties>();
    for (const u of units) {
      const p = this.#props(u);
      this.#tick(u, p);
      out.set(u, Object.fromEntries(props.map((k) => [k, p[k] ?? ""])));
    }
    return Promise.resolve(out);
  }

  daemonReload(login: string | null = null): Promise<JobOutcome> {
    this.calls.push(login === null ? "daemon-reload" : `${login}:daemon-reload`);
    for (const [unit, p] of this.units) {
      p.LoadState = this.loadable(unit) ? "loaded" : "not-found";
    }
    return Promise.resolve({ ok: true, message: "" });
  }

  job(op: JobOp, units: readonly string[]): Promise<JobOutcome> {
    this.calls.push(`${op} ${units.join(" ")}`);
    const failed: string[] = [];
    for (const u of units) {
      const p = this.#props(u);
      if (op === "stop") {
        p.ActiveState = p.ActiveState === "failed" ? "failed" : "inactive";
        p.SubState = "dead";
      } else if (op === "reset-failed") {
        if (p.ActiveState === "failed") p.ActiveState = "inactive";
      } else if (p.LoadState !== "loaded") {
        failed.push(u);
      } else {
        this.#activate(u, p);
        if (p.ActiveState === "failed") failed.push(u);
      }
    }
    return Promise.resolve(
      failed.length === 0
        ? { ok: true, message: "" }
        : { ok: false, message: `Job for ${failed.join(", ")} failed.` },
    );
  }

  journal(unit: string, lines: number): Promise<string[]> {
    return Promise.resolve([`${unit}: last ${lines} lines`]);
  }

  /** Images whose pull fails (no such image, registry down). */
  readonly failingPulls = new Set<string>();

  pull(
    image: string,
    policy: PullPolicy,
    timeoutSeconds: number,
    login: string | null = null,
  ): Promise<JobOutcome> {
    const as = login === null ? "" : ` as ${login}`;
    this.calls.push(`pull ${image} --policy=${policy} (${timeoutSeconds} s)${as}`);
    return Promise.resolve(
      this.failingPulls.has(image)
        ? { ok: false, message: `Error: ${image}: manifest unknown` }
        : { ok: true, message: "" },
    );
  }

  /** Puts `unit` in place as loaded and active, as a converged host has it. */
  running(unit: string): void {
    const p = this.#props(unit);
    p.LoadState = "loaded";
    this.#activate(unit, p);
  }

  /** Only the job calls (start/restart/stop/reset-failed/daemon-reload), in order. */
  jobs(): string[] {
    return this.calls.filter((c) => !c.startsWith("show ") && !c.startsWith("list-units "));
  }

  #props(unit: string): Record<string, string> {
    let p = this.units.get(unit);
    if (!p) {
      p = {
        Id: unit,
        LoadState: this.loadable(unit) ? "loaded" : "not-found",
        ActiveState: "inactive",
        SubState: "dead",
        Result: "success",
        NRestarts: "0",
        InvocationID: "",
        ExecMainStatus: "0",
        ActiveEnterTimestamp: "",
        Type: "simple",
        RemainAfterExit: "no",
      };
      this.units.set(unit, p);
    }
    return p;
  }

  #activate(unit: string, p: Record<string, string>): void {
    const behaviour = this.behaviour.get(unit) ?? "runs";
    p.InvocationID = `inv${++this.#invocation}`;
    p.NRestarts = "0";
    if (behaviour === "fails") {
      Object.assign(p, { ActiveState: "failed", SubState: "failed", Result: "exit-code" });
      p.ExecMainStatus = "1";
    } else if (behaviour === "oneshot") {
      Object.assign(p, { ActiveState: "inactive", SubState: "dead", Result: "success" });
      Object.assign(p, { Type: "oneshot", RemainAfterExit: "no" });
    } else {
      Object.assign(p, { ActiveState: "active", SubState: "running", Result: "success" });
      p.ActiveEnterTimestamp = stamp(this.#clock());
    }
  }

  /** A crash-looping unit restarts on every observation. */
  #tick(unit: string, p: Record<string, string>): void {
    if (this.behaviour.get(unit) !== "crash-loops" || p.ActiveState !== "active") return;
    p.NRestarts = String(Number(p.NRestarts) + 1);
    p.ActiveEnterTimestamp = stamp(this.#clock());
  }
}

/** systemd's `--timestamp=us+utc` form of `ms`. */
export function stamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-26T01:02:41.422Z
  return `Thu ${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000 UTC`;
}

/** A generator that accepts everything, or rejects with `diagnostics`. */
export function fakeGenerator(result?: DryRunResult): QuadletGenerator & { calls: number } {
  const gen = {
    calls: 0,
    dryRun() {
      gen.calls++;
      return Promise.resolve(result ?? { status: "ok" as const, generator: "fake", units: [] });
    },
  };
  return gen;
}

/** A user database of `entries` (login → uid; gid = uid, home /home/<login>); `lingering` logins linger. */
export class FakeUsers implements Users {
  readonly lookups: string[][] = [];
  constructor(
    readonly entries: Record<string, number>,
    readonly lingering: Set<string> = new Set(Object.keys(entries)),
  ) {}

  lookup(logins: readonly string[]): Promise<Map<string, UserEntry>> {
    this.lookups.push([...logins]);
    const out = new Map<string, UserEntry>();
    for (const login of logins) {
      const uid = this.entries[login];
      if (uid !== undefined) out.set(login, { login, uid, gid: uid, home: `/home/${login}` });
    }
    return Promise.resolve(out);
  }

  lingers(login: string): Promise<boolean> {
    return Promise.resolve(this.lingering.has(login));
  }
}
