/**
 * Helpers for scenarios that run core-ops.service under systemd itself (first
 * boot, the agent): wait for something, read the service's last run, and read
 * the agent's audit events from the journal.
 *
 * @module
 */
import type { JournalEntry, ScenarioContext } from "../lib/scenario.ts";

/** Polls `check` every second until it returns a value or `ms` pass. */
export async function waitFor<T>(
  ms: number,
  what: string,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** core-ops.service properties after its runs. */
export async function serviceRuns(t: ScenarioContext): Promise<Record<string, string>> {
  return await t.unit("core-ops.service", [
    "TriggeredBy",
    "ExecMainStartTimestampMonotonic",
    "ExecMainCode",
    "ExecMainStatus",
    "Result",
  ]);
}

/** The agent's audit events (stdout of the unit shares the identifier, so only entries with a status). */
export async function agentEvents(t: ScenarioContext): Promise<JournalEntry[]> {
  const entries = await t.journal(["SYSLOG_IDENTIFIER=core-ops"]);
  return entries.filter((e) => typeof e.CORE_OPS_STATUS === "string");
}
