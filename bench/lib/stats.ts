/**
 * Summaries and the printed table of the benchmark runner. Pure: the runner
 * measures, this only condenses samples and lays out rows.
 *
 * @module
 */

/** Median and spread of one measurement's samples. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median, min and max of `samples` (at least one). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

/** One row of the results table. */
export interface Row {
  /** Which part of the bench (1–4). */
  part: string;
  /** The test host (Debian suite) it was measured in; absent: on the bench machine itself. */
  host?: string;
  name: string;
  /** Wall time in milliseconds. */
  ms: Summary;
  /** Peak RSS in MiB, when measured. */
  rssMiB?: Summary;
  /** The comparison this row is judged by, e.g. "2.1× floor" or "+120 ms over floor". */
  ratio?: string;
  /** The target and whether it is met, e.g. "≤ 1.3× floor: met". */
  target?: string;
}

/** A row from the samples of one measurement: median and spread of time and peak RSS. */
export function sampleRow(
  part: string,
  name: string,
  samples: readonly { ms: number; rssMiB: number }[],
  extra: Partial<Row> = {},
): Row {
  return {
    part,
    name,
    ms: summarize(samples.map((s) => s.ms)),
    rssMiB: summarize(samples.map((s) => s.rssMiB)),
    ...extra,
  };
}

function ms(s: Summary): string {
  const f = (v: number) => v >= 10_000 ? (v / 1000).toFixed(1) + " s" : v.toFixed(0) + " ms";
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function mib(s: Summary | undefined): string {
  return s ? `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})` : "";
}

/** The table as GitHub markdown: one row per measurement. */
export function renderTable(rows: readonly Row[]): string {
  const header = [
    "| # | host | measurement | n | wall, median (min–max) | peak RSS MiB, median (min–max) | ratio | target |",
    "|---|---|---|---|---|---|---|---|",
  ];
  return [
    ...header,
    ...rows.map((r) =>
      `| ${r.part} | ${r.host ?? "bench machine"} | ${r.name} | ${r.ms.n} | ${ms(r.ms)} | ${
        mib(r.rssMiB)
      } | ${r.ratio ?? ""} | ${r.target ?? ""} |`
    ),
  ].join("\n");
}

/** "met" or "NOT met", for a target check. */
export function verdict(ok: boolean): string {
  return ok ? "met" : "NOT met";
}
