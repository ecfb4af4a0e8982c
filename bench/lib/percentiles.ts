/** Latency summaries for the sandbox and relay benches (median() for run-to-run medians is in proc-stats.ts). */

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Spread {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, count: 0 };
  return { p50: percentile(values, 50), p99: percentile(values, 99), max: values.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY), count: values.length };
}

/** Fixed-point text for a figure, '-' when it could not be measured. */
export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
