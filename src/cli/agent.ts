/**
 * `core-ops agent`: the unattended run a systemd timer starts. Settings come
 * from flags > `CORE_OPS_*` > agent.toml > defaults; every run — also one that
 * fails on its settings — leaves exactly one audit event.
 *
 * @module
 */
import { type AgentPorts, runAgent } from "../run/agent.ts";
import { pausePoint } from "../host/faults.ts";
import { applySummary, stepLine } from "../report/run_text.ts";
import { CoreOpsError, RunFailed, usage } from "../errors.ts";
import { type EventSink, journal } from "../host/journal.ts";
import { buildIdentity } from "../host/program.ts";
import { hostSources } from "../host/sources.ts";
import { clearTrigger, triggerPath } from "../host/trigger.ts";
import { auditEvent, eventFromError, type RunEvent } from "../report/event.ts";
import { metricsOf, renderMetrics } from "../report/metrics.ts";
import { CONFIG_ENV, DEFAULT_CONFIG_PATH } from "../settings/table.ts";
import {
  checkWritable,
  hostname,
  settingsCommand,
  settingsFrom,
  settingSource,
} from "./options.ts";
import { type HostAdapters, REAL_HOST } from "./adapters.ts";
import type { Output } from "./output.ts";
import { mark } from "../trace.ts";

/** The host adapters `agent` drives; tests pass fakes. */
export interface AgentAdapters extends HostAdapters {
  events: EventSink;
  sources: typeof hostSources;
  clearTrigger: (path: string) => Promise<void>;
}

const REAL: AgentAdapters = {
  ...REAL_HOST,
  events: journal,
  sources: hostSources,
  clearTrigger,
};

/** Builds the `agent` command. */
export function agentCommand(out: Output, adapters: AgentAdapters = REAL) {
  return settingsCommand("agent")
    .description("the unattended run: fetch, verify, apply, record (started by core-ops.timer)")
    .option("--config <path>", `agent config [${CONFIG_ENV}, default ${DEFAULT_CONFIG_PATH}]`)
    .option("--retry-now", "try a failed revision now, ignoring its backoff")
    .action(async (flags) => {
      const started = Date.now();
      const emit = async (event: RunEvent) => {
        await adapters.events.emit(auditEvent(event));
      };
      let settings;
      try {
        settings = await settingsFrom(flags, "agent", flags.config);
        if (settings.repo === null || settings.rev === null) {
          throw usage(
            "the agent needs a repository and a ref",
            "set repo and rev in /etc/core-ops/agent.toml (or --repo/--rev, CORE_OPS_REPO/CORE_OPS_REV)",
          );
        }
        checkWritable(settings);
        mark("settings resolved");
      } catch (error) {
        // A run that cannot even read its settings still leaves its one event.
        if (error instanceof CoreOpsError) {
          await emit(eventFromError(error, {
            runId: crypto.randomUUID(),
            revision: null,
            generation: 0,
            durationMs: Date.now() - started,
          }));
        }
        throw error;
      }
      const resolved = settings;
      const ports: AgentPorts = {
        lock: async (path) => {
          const lock = await adapters.locker.acquire(path);
          await pausePoint("after-lock");
          return lock;
        },
        clearTrigger: () => adapters.clearTrigger(triggerPath(resolved.lockPath)),
        source: {
          ...adapters.sources,
          fetch: async (request) => {
            const fetched = await adapters.sources.fetch(request);
            await pausePoint("after-fetch");
            return fetched;
          },
        },
        emit,
        writeMetrics: async (event, state) => {
          if (resolved.metricsFile === null) return;
          try {
            await adapters.files.write(
              resolved.metricsFile,
              new TextEncoder().encode(renderMetrics(metricsOf(event, state, Date.now()))),
              0o644,
            );
          } catch (error) {
            // The run's outcome stands; a monitoring file that cannot be written is a warning.
            const why = error instanceof Error ? error.message : String(error);
            out.stderr(`core-ops: warning: cannot write ${resolved.metricsFile}: ${why}\n`);
          }
        },
        files: adapters.files,
        systemd: adapters.systemd,
        generator: adapters.generator,
        buildIdentity,
      };
      const code = await runAgent(
        {
          ...resolved,
          repo: resolved.repo!,
          rev: resolved.rev!,
          revFrom: settingSource(resolved, "rev"),
          host: resolved.host ?? hostname(),
          retryNow: flags.retryNow === true,
        },
        ports,
        {
          onStep: (phase, step) => out.stdout(stepLine(phase, step)),
          onReport: (report) => out.stdout(applySummary(report)),
          // The message already starts with "core-ops: ".
          onBackoff: (message) => out.stderr(`${message}\n`),
          onPaused: (message) => out.stdout(`${message}\n`),
        },
      );
      if (code !== 0) throw new RunFailed(code);
    });
}
