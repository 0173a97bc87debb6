/**
 * systemd/core-ops.timer keeps the schedule SPEC §8 names: a tick 5 minutes
 * after the last run started, at most 30 s of random delay, a first run after
 * boot, Persistent. The e2e suite checks that systemd reads it the same way.
 */
import assert from "node:assert/strict";

const TIMER = new URL("../../systemd/core-ops.timer", import.meta.url);

/** The `[Timer]` section's assignments, in file order (comments and blanks left out). */
function timerSettings(text: string): [string, string][] {
  const settings: [string, string][] = [];
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = line.match(/^\[(.+)\]$/);
    if (header) {
      section = header[1];
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(eq > 0, `not an assignment: ${line}`);
    if (section === "Timer") settings.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return settings;
}

Deno.test("core-ops.timer: SPEC §8 schedule (5min, 30s random delay), boot run, Persistent", async () => {
  const settings = timerSettings(await Deno.readTextFile(TIMER));
  const keys = settings.map(([key]) => key);
  assert.equal(new Set(keys).size, keys.length, `a setting appears twice: ${keys.join(", ")}`);
  const value = Object.fromEntries(settings);
  assert.equal(value.OnUnitActiveSec, "5min");
  assert.equal(value.RandomizedDelaySec, "30s");
  assert.equal(value.OnBootSec, "2min");
  assert.equal(value.Persistent, "true");
});
