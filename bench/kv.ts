/**
 * KV batch reads: one `mget` of 100 keys against 100 single `get`s, in a throwaway database on
 * the bench server: statements sent (round trips) and time, median of 20 repetitions each.
 */

import { pgDriver } from "../src/drivers/pg/driver.js";
import { createDatabase } from "../src/index.js";
import { scratchDatabase } from "./database.js";
import { median } from "./stats.js";

export async function runKvBench(
  url: string,
): Promise<{ mget: { ms: number; statements: number }; gets: { ms: number; statements: number } }> {
  const scratch = await scratchDatabase(url, "kv");
  const db = createDatabase({
    driver: pgDriver({ connectionString: scratch.url }),
    preset: "local",
  });
  let statements = 0;
  db.on("call", (e) => {
    statements += e.attempts;
  });
  try {
    const kv = db.kv({ namespace: "bench" });
    const keys = Array.from({ length: 100 }, (_, i) => `key:${i}`);
    await kv.mset(keys.map((k) => [k, { k }] as const));
    const measure = async (work: () => Promise<unknown>) => {
      const times: number[] = [];
      let sent = 0;
      for (let i = 0; i < 20; i++) {
        const before = statements;
        const started = performance.now();
        await work();
        times.push(performance.now() - started);
        sent = statements - before;
      }
      return { ms: Math.round(median(times) * 100) / 100, statements: sent };
    };
    const mget = await measure(() => kv.mget(keys));
    const gets = await measure(async () => {
      for (const k of keys) await kv.get(k);
    });
    return { mget, gets };
  } finally {
    await db.close();
    await scratch.drop();
  }
}
