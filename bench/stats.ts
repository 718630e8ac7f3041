/** Summaries of repeated measurements: medians and spreads (pure, tested in test/bench). */

export interface Summary {
  median: number;
  min: number;
  max: number;
  count: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarize(values: readonly number[]): Summary {
  return {
    median: median(values),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
    count: values.length,
  };
}

/** The order of contenders in round `round`: rotated so no contender always runs first (caches, heap state). */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const shift = items.length ? round % items.length : 0;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * The nearest-rank percentile (`p` in 0–100): the smallest value that at least p% of the values are at or
 * below. p50 of [1, 2, 3, 4] is 2, p99 of 1,000 values is the 990th smallest: an actual sample, never an
 * interpolation between two.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0 || !(p >= 0 && p <= 100)) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}
