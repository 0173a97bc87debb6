/**
 * Where a no-change tick spends its time: the phase marks the agent prints
 * with `CORE_OPS_TRACE=1` (src/trace.ts), over several ticks, as a table of
 * medians — when each phase ended (ms since the process started) and how long
 * it took since the mark before.
 *
 * @module
 */
import { summarize } from "./stats.ts";

/** The marks of one run's stderr, in order: [ms since start, phase]. */
export function parseMarks(stderr: string): [number, string][] {
  const marks: [number, string][] = [];
  for (const line of stderr.split("\n")) {
    const m = /^core-ops trace: (\d+(?:\.\d+)?) (.+)$/.exec(line);
    if (m !== null) marks.push([Number(m[1]), m[2]]);
  }
  return marks;
}

/** A markdown table of the median end and duration of each phase over `stderrs`. */
export function phaseTable(title: string, stderrs: readonly string[]): string[] {
  const runs = stderrs.map(parseMarks).filter((m) => m.length > 0);
  if (runs.length === 0) return [`${title}: no phase marks (was CORE_OPS_TRACE passed?)`];
  const ends = new Map<string, number[]>();
  const took = new Map<string, number[]>();
  for (const marks of runs) {
    marks.forEach(([at, phase], i) => {
      ends.set(phase, [...ends.get(phase) ?? [], at]);
      took.set(phase, [...took.get(phase) ?? [], at - (i === 0 ? 0 : marks[i - 1][0])]);
    });
  }
  const median = (xs: number[]) => summarize(xs).median.toFixed(1);
  return [
    `${title} (median of ${runs.length} traced ticks):`,
    "",
    "| phase ended | at, ms since start | took, ms |",
    "| ----------- | ------------------ | -------- |",
    ...[...ends.keys()].map((phase) =>
      `| ${phase} | ${median(ends.get(phase)!)} | ${median(took.get(phase)!)} |`
    ),
    "",
  ];
}
