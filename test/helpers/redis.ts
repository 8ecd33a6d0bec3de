import { after } from "node:test";
import { Redis } from "ioredis";
import { TEST_REDIS_URL } from "./env.js";

let counter = 0;

/** A Redis connection plus a key prefix owned by one test file; its keys are deleted afterwards. */
export interface TestRedis {
  readonly url: string;
  readonly prefix: string;
  readonly client: Redis;
}

/** Opens a Redis connection with a unique key prefix and cleans the prefix up with `after()`. */
export async function freshRedis(label = "t"): Promise<TestRedis> {
  const prefix = `sf:test:${label}:${process.pid}:${counter++}:${Date.now().toString(36)}:`;
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  after(async () => {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    client.disconnect();
  });
  return { url: TEST_REDIS_URL, prefix, client };
}
