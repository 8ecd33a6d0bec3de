/** Shared measuring helpers of the benchmarks. */

/** Runs `concurrency` loops of `run(sql)` for `ms`; returns ops/s and sampled latencies (ms). */
export async function drive(
  run: (sql: string) => Promise<unknown>,
  sql: string,
  concurrency: number,
  ms: number,
): Promise<{ ops: number; latencies: number[] }> {
  const latencies: number[] = [];
  let count = 0;
  const started = performance.now();
  const until = started + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await run(sql);
      // Every 8th latency is enough for percentiles and keeps the array small.
      if ((count & 7) === 0) latencies.push(performance.now() - t0);
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ops: (count * 1000) / (performance.now() - started), latencies };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
