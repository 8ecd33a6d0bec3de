/**
 * Cache benchmarks: the hit path (a hot key) of Steadfast's `getOrLoad` against raw lru-cache
 * `get` and Bentocache `getOrSet` (memory driver, its documented setup), a miss storm (1,000
 * concurrent misses on one key), and memory per 100,000 small cached values.
 *
 * Run standalone: `node --import tsx bench/cache.ts` (add `--expose-gc` for the memory figure).
 */

import { pathToFileURL } from "node:url";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { LRUCache } from "lru-cache";
import { createCache } from "../src/cache/cache.js";

export interface CacheBenchResult {
  readonly hits: { readonly name: string; readonly nsPerOp: number; readonly opsPerSec: number }[];
  readonly missStormLoads: number;
  readonly bytesPer100k: number | undefined;
}

const ITERATIONS = 500_000;
const ROUNDS = 5;

export async function runCacheBench(): Promise<CacheBenchResult> {
  const lru = new LRUCache<string, { v: number }>({ max: 10_000 });
  lru.set("hot", { v: 1 });
  const ours = createCache<{ v: number }>({ ttl: "1h" });
  const load = async () => ({ v: 1 });
  await ours.getOrLoad("hot", load);
  const bento = new BentoCache({
    default: "memory",
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  });
  await bento.getOrSet({ key: "hot", factory: load, ttl: "1h" });

  const cases: { name: string; run: (n: number) => Promise<void> }[] = [
    {
      name: "lru-cache get (sync)",
      run: async (n) => {
        for (let i = 0; i < n; i++) if (lru.get("hot") === undefined) throw new Error("miss");
      },
    },
    {
      // What any async cache API pays per read: the await itself.
      name: "lru-cache get + await",
      run: async (n) => {
        for (let i = 0; i < n; i++)
          if ((await lru.get("hot")) === undefined) throw new Error("miss");
      },
    },
    {
      name: "steadfast peek (sync)",
      run: async (n) => {
        for (let i = 0; i < n; i++) if (ours.peek("hot") === undefined) throw new Error("miss");
      },
    },
    {
      name: "steadfast getOrLoad (await)",
      run: async (n) => {
        for (let i = 0; i < n; i++)
          if ((await ours.getOrLoad("hot", load)) === undefined) throw new Error("miss");
      },
    },
    {
      name: "bentocache getOrSet (await)",
      run: async (n) => {
        for (let i = 0; i < n / 10; i++)
          await bento.getOrSet({ key: "hot", factory: load, ttl: "1h" });
      },
    },
  ];
  const best = new Map<string, number>();
  for (const c of cases) await c.run(50_000);
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const n = c.name.startsWith("bento") ? ITERATIONS : ITERATIONS;
      const started = performance.now();
      await c.run(n);
      const done = c.name.startsWith("bento") ? n / 10 : n;
      const ns = ((performance.now() - started) * 1e6) / done;
      best.set(c.name, Math.min(best.get(c.name) ?? Number.POSITIVE_INFINITY, ns));
    }
  }
  await bento.disconnectAll();

  // Miss storm: 1,000 concurrent reads of a cold key.
  let loads = 0;
  const storm = createCache<number>();
  await Promise.all(
    Array.from({ length: 1_000 }, () =>
      storm.getOrLoad("cold", async () => {
        loads++;
        await new Promise((r) => setTimeout(r, 20));
        return 42;
      }),
    ),
  );

  return {
    hits: cases.map((c) => {
      const ns = best.get(c.name) ?? Number.NaN;
      return { name: c.name, nsPerOp: Math.round(ns), opsPerSec: Math.round(1e9 / ns) };
    }),
    missStormLoads: loads,
    bytesPer100k: await memoryPer100k(),
  };
}

async function memoryPer100k(): Promise<number | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = createCache<{ id: number; name: string }>({
    maxEntries: 200_000,
    maxBytes: 1 << 30,
  });
  for (let i = 0; i < 100_000; i++) cache.set(`user:${i}`, { id: i, name: `name ${i}` });
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (cache.stats().entries !== 100_000) throw new Error("entries were evicted");
  return bytes;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) console.log(await runCacheBench());
