import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { createCache } from "../../src/cache/cache.js";
import { redisBus, redisL2 } from "../../src/redis/index.js";
import { cachePlugin } from "../../src/server/cache-plugin.js";
import { type Service, startService } from "../../src/server/service.js";
import { startFaultProxy } from "../../src/testing/fault-proxy.js";
import { freshDatabase } from "../helpers/db.js";
import { TEST_REDIS_URL } from "../helpers/env.js";
import { freshRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

const redis = await freshRedis("l2");
const closers: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

describe("Redis L2", () => {
  it("shares loaded values between instances; Dates round-trip", async () => {
    const l2a = redisL2({ url: redis.url, prefix: redis.prefix });
    const l2b = redisL2({ url: redis.url, prefix: redis.prefix });
    closers.push(
      () => l2a.close(),
      () => l2b.close(),
    );
    await Promise.all([l2a.ready(), l2b.ready()]);
    const a = createCache<{ at: Date; n: number }>({ l2: l2a });
    const b = createCache<{ at: Date; n: number }>({ l2: l2b });
    const at = new Date("2026-01-02T03:04:05.678Z");
    await a.getOrLoad("shared", async () => ({ at, n: 1 }));
    await waitFor(
      "the L2 write",
      async () => (await redis.client.exists(`${redis.prefix}shared`)) === 1,
    );
    let loadedByB = false;
    const result = await b.getOrLoadEntry("shared", async () => {
      loadedByB = true;
      return { at: new Date(), n: 2 };
    });
    assert.equal(loadedByB, false);
    assert.equal(result.provenance, "cached");
    assert.equal(result.fromL2, true);
    assert.ok(result.value?.at instanceof Date);
    assert.equal(result.value?.at.toISOString(), at.toISOString());
    await a.invalidate("shared");
    assert.equal(await redis.client.exists(`${redis.prefix}shared`), 0);
  });

  it("a Redis outage (blackholed, then refused) never fails or slows a read beyond its bound", async () => {
    const target = new URL(TEST_REDIS_URL);
    const proxy = await startFaultProxy({
      target: { host: target.hostname, port: Number(target.port || 6379) },
    });
    closers.push(() => proxy.close());
    const l2 = redisL2({
      url: `redis://127.0.0.1:${proxy.port}`,
      prefix: redis.prefix,
      timeout: "100ms",
    });
    closers.push(() => l2.close());
    await l2.ready();
    const cache = createCache<number>({ l2 });
    assert.equal(await cache.getOrLoad("up", async () => 1), 1);
    await waitFor(
      "the L2 write through the proxy",
      async () => (await redis.client.exists(`${redis.prefix}up`)) === 1,
    );
    assert.equal(l2.reachable(), true);
    proxy.blackhole();
    let n = 0;
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      assert.equal(await cache.getOrLoad(`down:${i}`, async () => ++n), n);
      assert.ok(performance.now() - started < 400, "a read never waits long on Redis");
    }
    assert.equal(l2.reachable(), false);
    assert.ok(cache.stats().l2Errors > 0, "Redis really failed");
    proxy.heal();
    await proxy.refuse();
    assert.equal(await cache.getOrLoad("refused", async () => 7), 7);
    await proxy.resume();
  });
});

describe("invalidation bus", () => {
  it("an invalidation on one instance reaches the other's memory", async () => {
    const channel = `${redis.prefix}bus`;
    const busA = redisBus({ url: redis.url, channel });
    const busB = redisBus({ url: redis.url, channel });
    closers.push(
      () => busA.close(),
      () => busB.close(),
    );
    await Promise.all([busA.ready(), busB.ready()]);
    const a = createCache<string>({ bus: busA });
    const b = createCache<string>({ bus: busB });
    await b.getOrLoad("k", async () => "old");
    await a.invalidate("k");
    await waitFor("the message to reach b", () => b.peek("k") === undefined);
  });
});

describe("two processes sharing Postgres and Redis", () => {
  it("a write through one is not served stale by the other once the bus delivers; the delay is measured", async () => {
    const db = await freshDatabase("twoproc");
    const a: Service = await startService({
      databaseUrl: db.url,
      port: 0,
      plugins: [cachePlugin({ redisUrl: redis.url, ttl: "1h" })],
    });
    closers.push(() => a.close());
    const b = await spawnServe({ DATABASE_URL: db.url, REDIS_URL: redis.url });
    closers.push(() => b.stop());
    const put = (value: string) =>
      fetch(`${a.url}/kv/app/shared`, { method: "PUT", body: JSON.stringify(value) }).then((r) =>
        r.json(),
      );
    const readB = async () => {
      const r = await fetch(`${b.url}/kv/app/shared`);
      return { value: (await r.json()).value as string, status: r.headers.get("cache-status") };
    };
    await put("v1");
    assert.equal((await readB()).value, "v1");
    assert.equal((await readB()).status, "steadfast; hit", "b holds v1 in memory (ttl 30 s)");
    const delays: number[] = [];
    for (let round = 2; round <= 6; round++) {
      await put(`v${round}`);
      const written = performance.now();
      await waitFor(`b to serve v${round}`, async () => (await readB()).value === `v${round}`, {
        timeoutMs: 5_000,
        intervalMs: 1,
      });
      delays.push(performance.now() - written);
    }
    delays.sort((x, y) => x - y);
    console.log(
      `# bus delivery to the other process: median ${delays[2]?.toFixed(1)} ms, max ${delays[4]?.toFixed(1)} ms`,
    );
    assert.ok((delays[4] ?? Infinity) < 1_000);
  });
});

async function spawnServe(
  env: Record<string, string>,
): Promise<{ url: string; stop(): Promise<void> }> {
  const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), main, "serve", "--port", "0"],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 20_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:[^"]+)"/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
