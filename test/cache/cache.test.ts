import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, cacheStatus, createCache, TimeoutError } from "../../src/index.js";
import { FakeClock, flushMicrotasks } from "../../src/testing/fake-clock.js";

/** A loader whose calls the test resolves or rejects by hand. */
function controlled<V>() {
  const calls: {
    resolve: (v: V | undefined) => void;
    reject: (e: unknown) => void;
    signal: AbortSignal;
  }[] = [];
  const loader = ({ signal }: { signal: AbortSignal }) =>
    new Promise<V | undefined>((resolve, reject) => calls.push({ resolve, reject, signal }));
  return { loader, calls };
}

function setup(options: Parameters<typeof createCache>[0] = {}) {
  const clock = new FakeClock(1_000_000);
  const cache = createCache<string>({ ttl: "10s", grace: "1m", clock, ...options });
  return { clock, cache };
}

describe("cache: hits, misses and single flight", () => {
  it("loads once, then serves from memory with provenance cached", async () => {
    const { cache, clock } = setup();
    let loads = 0;
    const load = async () => `v${++loads}`;
    assert.deepEqual(await cache.getOrLoadEntry("k", load), {
      value: "v1",
      provenance: "fresh",
      ageMs: 0,
    });
    clock.advance(3_000);
    assert.deepEqual(await cache.getOrLoadEntry("k", load), {
      value: "v1",
      provenance: "cached",
      ageMs: 3_000,
    });
    assert.equal(await cache.getOrLoad("k", load), "v1");
    assert.equal(loads, 1);
    assert.equal(cache.peek("k"), "v1");
    const s = cache.stats();
    assert.equal(s.hits, 2);
    assert.equal(s.misses, 1);
  });

  it("100 concurrent misses on one key cost one load", async () => {
    const { cache } = setup();
    const { loader, calls } = controlled<string>();
    const reads = Array.from({ length: 100 }, () => cache.getOrLoad("hot", loader));
    await flushMicrotasks();
    assert.equal(calls.length, 1);
    calls[0]?.resolve("value");
    assert.deepEqual(new Set(await Promise.all(reads)), new Set(["value"]));
    assert.equal(cache.stats().singleFlightJoins, 99);
    assert.equal(cache.stats().loads, 1);
  });
});

describe("cache: stale serving", () => {
  it("serves the expired value within grace when the load fails, with its age and the reason", async () => {
    const { cache, clock } = setup();
    await cache.getOrLoad("k", async () => "old");
    clock.advance(15_000);
    const result = await cache.getOrLoadEntry("k", async () => {
      throw new Error("database down");
    });
    assert.equal(result.value, "old");
    assert.equal(result.provenance, "stale");
    assert.equal(result.reason, "load-failed");
    assert.equal(result.ageMs, 15_000);
    clock.advance(60_000); // past ttl + grace
    await assert.rejects(
      cache.getOrLoad("k", async () => {
        throw new Error("still down");
      }),
      /still down/,
    );
    assert.equal(cache.stats().staleServed, 1);
  });

  it("softTimeout: answers stale when the load is slow, and stores the late result", async () => {
    const { cache, clock } = setup({ softTimeout: "100ms", hardTimeout: "5s" });
    await cache.getOrLoad("k", async () => "old");
    clock.advance(11_000);
    const { loader, calls } = controlled<string>();
    const read = cache.getOrLoadEntry("k", loader);
    await flushMicrotasks();
    await clock.tick(100);
    const result = await read;
    assert.equal(result.provenance, "stale");
    assert.equal(result.reason, "soft-timeout");
    calls[0]?.resolve("new");
    await flushMicrotasks();
    assert.deepEqual(await cache.getOrLoadEntry("k", loader), {
      value: "new",
      provenance: "cached",
      ageMs: 0,
    });
  });

  it("hardTimeout without stale: the loader's signal aborts and the read fails with TimeoutError, or uses the fallback", async () => {
    const { cache, clock } = setup({ hardTimeout: "2s" });
    const { loader, calls } = controlled<string>();
    const read = cache.getOrLoad("slow", loader).then(
      () => undefined,
      (error: unknown) => error,
    );
    await flushMicrotasks();
    await clock.tick(2_000);
    assert.ok((await read) instanceof TimeoutError);
    assert.equal(calls[0]?.signal.aborted, true);
    const fallback = cache.getOrLoadEntry("slow2", loader, { fallback: "placeholder" });
    await flushMicrotasks();
    await clock.tick(2_000);
    const result = await fallback;
    assert.equal(result.provenance, "fallback");
    assert.equal(result.value, "placeholder");
    assert.equal(result.reason, "hard-timeout");
  });

  it("when the source is unavailable (breaker open), stale is served at once without calling the loader", async () => {
    let down: Error | undefined;
    const { cache, clock } = setup({ unavailable: () => down });
    await cache.getOrLoad("k", async () => "old");
    clock.advance(20_000);
    down = new Error("circuit open");
    let called = false;
    const result = await cache.getOrLoadEntry("k", async () => {
      called = true;
      return "new";
    });
    assert.equal(called, false);
    assert.equal(result.provenance, "stale");
    assert.equal(result.reason, "unavailable");
  });

  it("refresh-ahead: a hit late in the ttl returns the value and refreshes it once in the background", async () => {
    const { cache, clock } = setup({ refreshAhead: 0.5 });
    await cache.getOrLoad("k", async () => "v1");
    clock.advance(6_000);
    let loads = 0;
    const load = async () => `v${++loads + 1}`;
    assert.equal(await cache.getOrLoad("k", load), "v1");
    assert.equal(await cache.getOrLoad("k", load), "v1");
    await flushMicrotasks();
    assert.equal(loads, 1);
    assert.equal(await cache.getOrLoad("k", load), "v2");
  });

  it("caches 'not found' for negativeTtl only", async () => {
    const { cache, clock } = setup({ negativeTtl: "2s" });
    let loads = 0;
    const load = async () => {
      loads++;
      return undefined;
    };
    assert.equal(await cache.getOrLoad("missing", load), undefined);
    assert.equal(await cache.getOrLoad("missing", load), undefined);
    assert.equal(loads, 1);
    clock.advance(2_000);
    await cache.getOrLoad("missing", load);
    assert.equal(loads, 2);
  });
});

describe("cache: invalidation and bounds", () => {
  it("by key, tag and prefix; a load in flight during an invalidation is not stored", async () => {
    const { cache } = setup();
    await cache.getOrLoad("user:1", async () => "a", { tags: ["users"] });
    await cache.getOrLoad("user:2", async () => "b", { tags: ["users"] });
    await cache.getOrLoad("post:1", async () => "c");
    await cache.invalidateTag("users");
    assert.equal(cache.peek("user:1"), undefined);
    assert.equal(cache.peek("post:1"), "c");
    await cache.invalidatePrefix("post:");
    assert.equal(cache.peek("post:1"), undefined);

    const { loader, calls } = controlled<string>();
    const read = cache.getOrLoad("k", loader);
    await flushMicrotasks();
    await cache.invalidate("k");
    calls[0]?.resolve("loaded before the write");
    assert.equal(await read, "loaded before the write");
    assert.equal(cache.peek("k"), undefined, "the old value was not kept");
  });

  it("evicts least-recently-used entries past maxEntries and maxBytes", async () => {
    const { cache } = setup({ maxEntries: 3 });
    for (const k of ["a", "b", "c"]) await cache.getOrLoad(k, async () => k);
    await cache.getOrLoad("a", async () => "a"); // a is now the most recent
    await cache.getOrLoad("d", async () => "d");
    assert.equal(cache.peek("b"), undefined);
    assert.equal(cache.peek("a"), "a");
    assert.equal(cache.stats().evictions, 1);
    const small = setup({ maxBytes: 4_096 }).cache;
    for (let i = 0; i < 20; i++) await small.getOrLoad(`k${i}`, async () => "x".repeat(500));
    assert.ok(small.stats().bytes <= 4_096);
    assert.ok(small.stats().evictions > 0);
  });

  it("warmup loads in the background and never throws", async () => {
    const { cache } = setup();
    const loaded = await cache.warmup([
      ["w1", async () => "1"],
      [
        "w2",
        async () => {
          throw new Error("nope");
        },
      ],
      ["w3", async () => "3"],
    ]);
    assert.equal(loaded, 2);
    assert.equal(cache.peek("w3"), "3");
    assert.equal(cache.stats().loadErrors, 1);
  });
});

describe("cache: Cache-Status and options", () => {
  it("renders RFC 9211 Cache-Status values", () => {
    assert.equal(cacheStatus({ value: 1, provenance: "cached", ageMs: 5 }), "steadfast; hit");
    assert.equal(
      cacheStatus({ value: 1, provenance: "fresh", ageMs: 0 }),
      "steadfast; fwd=miss; stored",
    );
    assert.equal(
      cacheStatus({ value: 1, provenance: "stale", reason: "unavailable" }),
      "steadfast; hit; detail=stale-unavailable",
    );
    assert.equal(
      cacheStatus({ value: 1, provenance: "fallback", reason: "load-failed" }),
      "steadfast; fwd=miss; detail=fallback-load-failed",
    );
  });

  it("rejects invalid options with every field named", () => {
    assert.throws(
      () =>
        createCache({
          ttl: -1,
          softTimeout: "20s",
          hardTimeout: "1s",
          maxEntries: 0,
          refreshAhead: 2,
        }),
      (e: unknown) =>
        e instanceof ConfigError &&
        ["cache.ttl", "cache.softTimeout", "cache.maxEntries", "cache.refreshAhead"].every((f) =>
          e.message.includes(f),
        ),
    );
  });
});
