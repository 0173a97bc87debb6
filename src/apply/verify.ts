/**
 * Verification after apply (SPEC §2): poll ONE batched `systemctl show` of
 * every unit the run started or restarted until each is settled or failed, or
 * the deadline passes. A unit passes only after it stayed healthy for the
 * settle window, counted from its own activation, with `NRestarts` unchanged
 * — so a container crash-looping under `Restart=always` fails instead of
 * passing between two restarts.
 *
 * @module
 */
import type { UnitKind } from "../model.ts";
import { parseTimestamp, type Systemd, VERIFY_PROPERTIES } from "../host/systemd.ts";
import { assess, describeState } from "./health.ts";

/** A unit to verify. */
export interface VerifyTarget {
  unit: string;
  kind: UnitKind;
  /** The socket/timer/path unit that activates it, if any. */
  trigger?: string;
  /**
   * A `Notify=healthy` container: its start job waited for the health check,
   * so active means healthy at once — no settle window (SPEC §9).
   */
  healthChecked?: boolean;
}

/** The verdict on one unit. */
export interface UnitVerdict {
  unit: string;
  status: "ok" | "failed";
  message: string;
  /** systemd's `Result=` and `ExecMainStatus=` at the verdict. */
  result: string | null;
  exitStatus: string | null;
}

/** Timing of verification; a clock and a sleep are injected so tests need no real time. */
export interface VerifyOptions {
  timeoutMs: number;
  settleMs: number;
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Awaited after each poll (the fault matrix pauses runs here). */
  afterPoll?: () => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Verifies `targets`; resolves to one verdict per target, in target order. */
export async function verify(
  targets: readonly VerifyTarget[],
  systemd: Systemd,
  options: VerifyOptions,
): Promise<UnitVerdict[]> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const poll = options.pollMs ?? 250;
  const deadline = now() + options.timeoutMs;
  const verdicts = new Map<string, UnitVerdict>();
  // Per unit: the NRestarts last seen, and when a change of it was last seen.
  const restarts = new Map<string, { count: string; changedAt: number }>();
  let failingSince: number | null = null;
  const names = [...new Set(targets.flatMap((t) => t.trigger ? [t.unit, t.trigger] : [t.unit]))];

  while (true) {
    const pending = targets.filter((t) => !verdicts.has(t.unit));
    if (pending.length === 0) break;
    const shown = await systemd.show(names, VERIFY_PROPERTIES);
    const at = now();
    for (const target of pending) {
      const props = shown.get(target.unit) ?? {};
      const verdict = (status: "ok" | "failed", message: string): UnitVerdict => ({
        unit: target.unit,
        status,
        message,
        result: props.Result ?? null,
        exitStatus: props.ExecMainStatus ?? null,
      });
      const seen = restarts.get(target.unit);
      const count = props.NRestarts ?? "0";
      if (!seen) restarts.set(target.unit, { count, changedAt: -Infinity });
      else if (seen.count !== count) restarts.set(target.unit, { count, changedAt: at });

      const health = assess(props, {
        kind: target.kind,
        trigger: target.trigger
          ? { unit: target.trigger, props: shown.get(target.trigger) }
          : undefined,
      });
      if (health.status === "failed") {
        verdicts.set(target.unit, verdict("failed", health.message));
      } else if (health.status === "healthy") {
        if (!health.active) {
          verdicts.set(target.unit, verdict("ok", describeState(props)));
          continue;
        }
        const since = Math.max(
          parseTimestamp(props.ActiveEnterTimestamp) ?? at,
          restarts.get(target.unit)!.changedAt,
        );
        if (target.healthChecked || at - since >= options.settleMs) {
          verdicts.set(target.unit, verdict("ok", describeState(props)));
        }
      }
    }
    if (failingSince === null && [...verdicts.values()].some((v) => v.status === "failed")) {
      failingSince = at;
    }
    await options.afterPoll?.();
    const still = targets.filter((t) => !verdicts.has(t.unit));
    if (still.length === 0) break;
    // The run has failed already: the rest get one settle window more, not the whole deadline.
    const giveUp = failingSince !== null && at - failingSince >= options.settleMs;
    if (at >= deadline || giveUp) {
      for (const t of still) {
        const props = shown.get(t.unit) ?? {};
        verdicts.set(t.unit, {
          unit: t.unit,
          status: "failed",
          message: `${
            giveUp ? "not settled when the run failed" : "not settled by the deadline"
          }: ${describeState(props)}, NRestarts=${props.NRestarts ?? "?"}`,
          result: props.Result ?? null,
          exitStatus: props.ExecMainStatus ?? null,
        });
      }
      break;
    }
    await sleep(Math.min(poll, Math.max(0, deadline - at)));
  }
  return targets.map((t) => verdicts.get(t.unit)!);
}
