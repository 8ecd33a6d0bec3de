import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { cachePlugin } from "../../src/server/cache-plugin.js";
import { type Service, startService } from "../../src/server/service.js";
import { startFaultProxy } from "../../src/testing/fault-proxy.js";
import { freshDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

const target = await freshDatabase("svccache");
const url = new URL(target.url);
const proxy = await startFaultProxy({ target: { host: url.hostname, port: Number(url.port) } });
const services: Service[] = [];
after(async () => {
  await Promise.all(services.map((s) => s.close()));
  await proxy.close();
});

async function get(service: Service, path: string) {
  const response = await fetch(`${service.url}${path}`);
  return {
    status: response.status,
    cacheStatus: response.headers.get("cache-status"),
    body: await response.json(),
  };
}

describe("KV reads through the stale-serving cache", () => {
  it("miss then hit; a write invalidates; during a real outage reads answer stale, and say so", async () => {
    const service = await startService({
      databaseUrl: proxy.url(target.url),
      port: 0,
      plugins: [
        cachePlugin({ ttl: "300ms", grace: "1m", softTimeout: "150ms", hardTimeout: "2s" }),
      ],
    });
    services.push(service);
    await fetch(`${service.url}/kv/app/k`, { method: "PUT", body: JSON.stringify("v1") });
    const miss = await get(service, "/kv/app/k");
    assert.equal(miss.cacheStatus, "steadfast; fwd=miss; stored");
    assert.equal(miss.body.value, "v1");
    const hit = await get(service, "/kv/app/k");
    assert.equal(hit.cacheStatus, "steadfast; hit");
    await fetch(`${service.url}/kv/app/k`, { method: "PUT", body: JSON.stringify("v2") });
    const afterWrite = await get(service, "/kv/app/k");
    assert.equal(afterWrite.body.value, "v2", "the write invalidated the cached value");
    assert.equal(afterWrite.cacheStatus, "steadfast; fwd=miss; stored");

    await proxy.refuse();
    const killed = proxy.resetAll();
    try {
      assert.ok(killed > 0, "the service's connections were really cut");
      // Once the value is past its ttl, every read must still answer — from stale.
      const stale = await waitFor("a stale answer", async () => {
        const r = await get(service, "/kv/app/k");
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.cacheStatus?.includes("stale") ? r : undefined;
      });
      assert.equal(stale.body.value, "v2");
      assert.match(
        stale.cacheStatus ?? "",
        /detail=stale-(soft-timeout|load-failed|unavailable|hard-timeout)/,
      );
      for (let i = 0; i < 20; i++) {
        const r = await get(service, "/kv/app/k");
        assert.equal(r.status, 200);
        assert.equal(r.body.value, "v2");
      }
      const health = await (await fetch(`${service.url}/health`)).json();
      assert.ok(health.checks["cache:hitRatio"], "the cache is reported in health");
    } finally {
      await proxy.resume();
    }
    // Bounded by the breaker's next probe (its break doubles while the outage lasts).
    await waitFor(
      "recovery to fresh data",
      async () => (await get(service, "/kv/app/k")).cacheStatus?.includes("stale") === false,
      { timeoutMs: 20_000 },
    );
  });
});
