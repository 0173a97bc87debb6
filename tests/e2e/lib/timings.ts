/**
 * Phase timings of an e2e run (debootstrap, pack, boot, teardown, …), so the
 * CI budget can be watched from the log of every run rather than guessed.
 *
 * @module
 */

/** Accumulates how long each named phase took, possibly many times. */
export class Timings {
  readonly #phases = new Map<string, number[]>();

  /** Records one occurrence of `phase` lasting `seconds`. */
  add(phase: string, seconds: number): void {
    const list = this.#phases.get(phase) ?? [];
    list.push(seconds);
    this.#phases.set(phase, list);
  }

  /** Runs `fn` and records its duration under `phase`, also when it throws. */
  async measure<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.add(phase, (performance.now() - start) / 1000);
    }
  }

  /** A table: phase, count, total and mean seconds, in first-seen order. */
  render(): string {
    const rows = [...this.#phases].map(([phase, list]) => {
      const total = list.reduce((a, b) => a + b, 0);
      return `  ${phase.padEnd(18)} ${String(list.length).padStart(3)}x ${
        total.toFixed(2).padStart(8)
      }s total ${(total / list.length).toFixed(2).padStart(7)}s mean`;
    });
    return ["phase timings:", ...rows].join("\n");
  }
}
