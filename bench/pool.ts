/**
 * Pool overhead: `SELECT 1` at a fixed concurrency for a fixed time through Steadfast's drop-in
 * `Pool` and through raw `pg.Pool`, same server, same process, interleaved in rounds so both see
 * the same machine weather. The figure that matters is the ratio (target ≥ 0.98).
 *
 * Run standalone: `node --import tsx bench/pool.ts`.
 */

import { pathToFileURL } from "node:url";
import pg from "pg";
import { Pool as SteadfastPool } from "../src/drivers/pg/pool.js";
import { drive, median, quantile } from "./stats.js";

/** What {@link runPoolBench} measures per client. */
export interface PoolBenchResult {
  readonly name: string;
  /** Median over rounds of queries per second. */
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface PoolBenchOptions {
  readonly url: string;
  readonly concurrency?: number;
  /** Length of one measured round per client. */
  readonly roundMs?: number;
  readonly rounds?: number;
}

interface Queryable {
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
}

/**
 * Both pools get the same size and connect timeout; Steadfast keeps its defaults for
 * validation (500 ms window), keepalive and lifetimes, so the bench measures what a user gets.
 */
export async function runPoolBench(options: PoolBenchOptions): Promise<{
  results: PoolBenchResult[];
  /** Median of the per-round ratios Steadfast ÷ pg (paired rounds cancel slow drift). */
  ratio: number;
}> {
  const concurrency = options.concurrency ?? 16;
  const roundMs = options.roundMs ?? 3000;
  const rounds = options.rounds ?? 5;
  const clients: { name: string; pool: Queryable }[] = [
    {
      name: "pg.Pool",
      pool: new pg.Pool({ connectionString: options.url, max: concurrency }),
    },
    {
      name: "steadfast Pool (drop-in)",
      pool: new SteadfastPool({ connectionString: options.url, max: concurrency }),
    },
  ];
  const samples = new Map<string, { ops: number[]; latencies: number[] }>();
  for (const c of clients) samples.set(c.name, { ops: [], latencies: [] });
  try {
    // Warm both: open every connection and let the JIT see the hot path.
    for (const c of clients) await drive((q) => c.pool.query(q), "SELECT 1", concurrency, 1000);
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first so neither always runs on the warmer machine.
      const order = round % 2 === 0 ? clients : [...clients].reverse();
      for (const c of order) {
        const { ops, latencies } = await drive(
          (q) => c.pool.query(q),
          "SELECT 1",
          concurrency,
          roundMs,
        );
        const s = samples.get(c.name);
        s?.ops.push(ops);
        s?.latencies.push(...latencies);
      }
    }
  } finally {
    for (const c of clients) await c.pool.end();
  }
  const results = clients.map(({ name }) => {
    const s = samples.get(name) ?? { ops: [], latencies: [] };
    const sorted = Float64Array.from(s.latencies).sort();
    return {
      name,
      opsPerSec: Math.round(median(s.ops)),
      p50Ms: round3(quantile(sorted, 0.5)),
      p99Ms: round3(quantile(sorted, 0.99)),
    };
  });
  const pgOps = samples.get("pg.Pool")?.ops ?? [];
  const sfOps = samples.get("steadfast Pool (drop-in)")?.ops ?? [];
  const ratio = median(sfOps.map((ops, i) => ops / (pgOps[i] ?? Number.NaN)));
  return { results, ratio: Math.round(ratio * 1000) / 1000 };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const url = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const { results, ratio } = await runPoolBench({ url });
  console.table(results);
  console.log(`ratio steadfast / pg.Pool: ${ratio}`);
}
