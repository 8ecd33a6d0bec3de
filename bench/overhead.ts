/**
 * Overhead: `SELECT 1` and a 1 kB-row select at concurrency 1, 16 and 64 for a fixed time, through
 * raw `pg.Pool`, Steadfast's drop-in `Pool`, Steadfast's `createDatabase` path (`db.read`),
 * `pg.Pool` wrapped in cockatiel (retry + breaker + timeout) and postgres.js — same server, same
 * process, interleaved rounds. Each client keeps its production-recommended settings (see
 * `clients()`); every pool is capped at 16 connections so 5 clients fit the server's 100.
 *
 * Run standalone: `node --import tsx bench/overhead.ts`.
 */

import { pathToFileURL } from "node:url";
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap as cockatielWrap,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
} from "cockatiel";
import pg from "pg";
import postgres from "postgres";
import { pgDriver } from "../src/drivers/pg/driver.js";
import { Pool as SteadfastPool } from "../src/drivers/pg/pool.js";
import { createDatabase } from "../src/index.js";
import { drive, median, quantile } from "./stats.js";

interface Client {
  readonly name: string;
  run(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

const QUERIES = {
  "SELECT 1": "SELECT 1",
  "1 kB row": "SELECT 42 AS id, repeat('x', 1000) AS payload, now() AS at",
} as const;

const MAX_CONNECTIONS = 16;

function clients(url: string): Client[] {
  const raw = new pg.Pool({ connectionString: url, max: MAX_CONNECTIONS });
  const dropIn = new SteadfastPool({ connectionString: url, max: MAX_CONNECTIONS });
  const db = createDatabase({
    driver: pgDriver({ connectionString: url }),
    preset: "server",
    pool: { max: MAX_CONNECTIONS, minIdle: 0 },
  });
  // cockatiel's README composition: retry with exponential backoff, a consecutive breaker,
  // and a cooperative timeout, around the raw pool.
  const wrapped = new pg.Pool({ connectionString: url, max: MAX_CONNECTIONS });
  const policy = cockatielWrap(
    cockatielRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
    cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    cockatielTimeout(30_000, TimeoutStrategy.Cooperative),
  );
  // postgres.js defaults (prepared statements on), pool size matched.
  const sql = postgres(url, { max: MAX_CONNECTIONS, onnotice: () => {} });
  return [
    { name: "pg.Pool", run: (q) => raw.query(q), end: () => raw.end() },
    { name: "steadfast Pool (drop-in)", run: (q) => dropIn.query(q), end: () => dropIn.end() },
    { name: "steadfast createDatabase", run: (q) => db.read(q), end: () => db.close() },
    {
      name: "pg.Pool + cockatiel",
      run: (q) => policy.execute(() => wrapped.query(q)),
      end: () => wrapped.end(),
    },
    { name: "postgres.js", run: (q) => sql.unsafe(q), end: () => sql.end({ timeout: 5 }) },
  ];
}

/** One row of the overhead table. */
export interface OverheadRow {
  readonly query: string;
  readonly concurrency: number;
  readonly client: string;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Median of per-round ratios to raw pg.Pool. */
  readonly ratio: number;
}

export async function runOverheadBench(options: {
  url: string;
  concurrencies?: readonly number[];
  roundMs?: number;
  rounds?: number;
}): Promise<OverheadRow[]> {
  const concurrencies = options.concurrencies ?? [1, 16, 64];
  const roundMs = options.roundMs ?? 1_500;
  const rounds = options.rounds ?? 3;
  const list = clients(options.url);
  const rows: OverheadRow[] = [];
  try {
    for (const c of list) await drive((q) => c.run(q), QUERIES["SELECT 1"], 16, 500); // warm up
    for (const [label, sql] of Object.entries(QUERIES)) {
      for (const concurrency of concurrencies) {
        const ops = new Map<string, number[]>(list.map((c) => [c.name, []]));
        const latencies = new Map<string, number[]>(list.map((c) => [c.name, []]));
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? list : [...list].reverse();
          for (const c of order) {
            const r = await drive((q) => c.run(q), sql, concurrency, roundMs);
            ops.get(c.name)?.push(r.ops);
            latencies.get(c.name)?.push(...r.latencies);
          }
        }
        const base = ops.get("pg.Pool") ?? [];
        for (const c of list) {
          const mine = ops.get(c.name) ?? [];
          const sorted = Float64Array.from(latencies.get(c.name) ?? []).sort();
          rows.push({
            query: label,
            concurrency,
            client: c.name,
            opsPerSec: Math.round(median(mine)),
            p50Ms: round3(quantile(sorted, 0.5)),
            p99Ms: round3(quantile(sorted, 0.99)),
            ratio: round3(median(mine.map((v, i) => v / (base[i] ?? Number.NaN)))),
          });
        }
      }
    }
  } finally {
    for (const c of list) await c.end();
  }
  return rows;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const url = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  console.table(await runOverheadBench({ url }));
}
