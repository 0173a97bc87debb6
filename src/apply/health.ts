/**
 * Health rules, one small rule per unit kind (SPEC §2), as pure functions of
 * what `systemctl show` says: is the unit healthy, still on its way, or
 * failed? The settle window and the deadline are the verifier's business
 * (`verify.ts`); a rule only judges one observation.
 *
 * @module
 */
import type { UnitKind } from "../model.ts";
import type { UnitProperties } from "../host/systemd.ts";

/** One observation's verdict. */
export type Health =
  /** Up as its kind requires; `active` says whether it must still settle. */
  | { status: "healthy"; active: boolean }
  | { status: "progressing"; message: string }
  | { status: "failed"; message: string };

/** What a rule needs to know besides the unit's own properties. */
export interface HealthContext {
  kind: UnitKind;
  /** The socket/timer/path that activates the unit, and its properties, if any. */
  trigger?: { unit: string; props: UnitProperties | undefined };
}

const TRANSITIONAL = new Set(["activating", "deactivating", "reloading", "refreshing"]);

/** States of a unit: `ActiveState (SubState), Result=…` for messages. */
export function describeState(props: UnitProperties): string {
  const parts = [`${props.ActiveState ?? "?"} (${props.SubState ?? "?"})`];
  if (props.Result && props.Result !== "success") parts.push(`Result=${props.Result}`);
  if (props.ExecMainStatus && props.ExecMainStatus !== "0") {
    parts.push(`ExecMainStatus=${props.ExecMainStatus}`);
  }
  return parts.join(", ");
}

function loaded(props: UnitProperties): Health | null {
  const load = props.LoadState ?? "";
  if (load === "loaded") return null;
  if (load === "not-found") {
    // systemd answers for any name: not-found means the unit does not exist.
    return { status: "failed", message: "LoadState=not-found: the unit does not exist" };
  }
  const why = props.LoadError ? `: ${props.LoadError}` : "";
  return { status: "failed", message: `LoadState=${load || "unknown"}${why}` };
}

/** A `Type=oneshot` service without `RemainAfterExit=yes`: inactive after a successful run. */
export function isPlainOneshot(props: UnitProperties): boolean {
  return props.Type === "oneshot" && props.RemainAfterExit !== "yes";
}

/** Quadlet kinds that systemd runs as `Type=oneshot` with `RemainAfterExit=yes`. */
const SETUP_KINDS = new Set<UnitKind>(["volume", "network", "image", "build"]);

/** Judges one observation of a unit by its kind's rule. */
export function assess(props: UnitProperties, ctx: HealthContext): Health {
  const notLoaded = loaded(props);
  if (notLoaded) return notLoaded;
  const active = props.ActiveState ?? "";
  const state = describeState(props);
  if (active === "failed") return { status: "failed", message: state };
  if (TRANSITIONAL.has(active)) return { status: "progressing", message: state };

  // volume/network/image/build: set-up oneshots; loaded and not failed is enough.
  if (SETUP_KINDS.has(ctx.kind)) return { status: "healthy", active: active === "active" };

  if (active === "active") return { status: "healthy", active: true };
  // Below: the unit is inactive.
  if (ctx.kind === "service" && isPlainOneshot(props)) {
    return props.Result === "success"
      ? { status: "healthy", active: false }
      : { status: "failed", message: state };
  }
  if (ctx.trigger) {
    const trigger = ctx.trigger.props;
    if (trigger && trigger.ActiveState === "active") return { status: "healthy", active: false };
    return {
      status: "failed",
      message: `inactive, and its trigger ${ctx.trigger.unit} is ${
        trigger ? describeState(trigger) : "unknown"
      }`,
    };
  }
  return { status: "failed", message: `not active: ${state}` };
}
