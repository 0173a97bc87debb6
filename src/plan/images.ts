/**
 * Pre-pull (SPEC §9): the images to pull before anything is stopped or
 * started. A container restarted onto a new image would otherwise pull it in
 * its own `ExecStart`, after the old container stopped: the service is down
 * for the whole pull. Pulled first, the old container keeps serving, and a
 * pull that fails leaves the host as it was.
 *
 * A container gets a pull when it is new or its image reference changed, and
 * not when its image is a quadlet `.image`/`.build` unit (that unit, started
 * first in bring-up order, is its pull) or its `Pull=` is `never`. The pull
 * follows the container's `Pull=` policy (default `missing`, as Podman's).
 *
 * @module
 */
import type { Action, PullPolicy } from "../model.ts";
import { lastValue, parseUnitFile, type UnitFile } from "../source/unitfile.ts";
import type { UnitInfo } from "./units.ts";

/** The image a container's files name (the last `Image=`), or `null`. */
export function imageReference(files: readonly UnitFile[]): string | null {
  return lastValue(files, "Container", "Image") ?? null;
}

/** Whether `image` names a quadlet `.image` or `.build` unit instead of an image. */
function isQuadletImage(image: string): boolean {
  return /\.(image|build)$/.test(image);
}

const POLICIES = new Set<string>(["always", "missing", "newer"] satisfies PullPolicy[]);

/**
 * The pull actions for `activation` (the plan's starts and restarts):
 * `deployed` maps a container unit to the image its files on the host name
 * now (`null`: no file there); a unit missing from it is not replaced by
 * this plan's writes. One action per image, in activation order.
 */
export function pullActions(
  units: readonly UnitInfo[],
  activation: readonly Action[],
  deployed: ReadonlyMap<string, string | null>,
): Action[] {
  const byUnit = new Map(units.map((u) => [u.unit, u]));
  const pulls = new Map<string, { action: Action; units: string[] }>();
  for (const action of activation) {
    if (action.op !== "start" && action.op !== "restart") continue;
    const info = byUnit.get(action.target);
    if (info === undefined || info.kind !== "container") continue;
    const files = info.artifacts.map((a) => parseUnitFile(new TextDecoder().decode(a.content)));
    const image = imageReference(files);
    if (image === null || isQuadletImage(image)) continue;
    const policy = (lastValue(files, "Container", "Pull") ?? "missing").toLowerCase();
    if (!POLICIES.has(policy)) continue; // never (or a value the generator refused)
    const before = deployed.get(info.unit);
    const isNew = action.reason === "new" || before === null;
    if (!isNew && (before === undefined || before === image)) continue;
    const why = isNew ? "new container" : `image was ${before}`;
    // Each login has its own image store (SPEC §7): one pull per image and store.
    const login = info.artifacts[0].user?.login ?? null;
    const key = `${login ?? ""}\u0000${image}`;
    const seen = pulls.get(key);
    if (seen) {
      seen.units.push(`${info.unit} (${why})`);
      continue;
    }
    const pull: Action = { op: "pull", target: image, reason: "", policy: policy as PullPolicy };
    if (login !== null) pull.user = login;
    pulls.set(key, {
      action: pull,
      units: [`${info.unit} (${why})`],
    });
  }
  return [...pulls.values()].map(({ action, units }) => ({
    ...action,
    reason: `for ${units.join(", ")}`,
  }));
}
