/**
 * Testing your own app against a bad network: `startFaultProxy` sits between the app and its
 * database, and each test injects one fault — killed connections, latency, a blackhole, a
 * refusing server — then asserts the app still answers, or fails with a typed error within
 * its deadline, and recovers.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch \
 *      node --import tsx --test examples/fault-proxy-testing/app.test.ts
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CircuitOpenError, TimeoutError } from "steadfast";
import { startFaultProxy } from "steadfast/testing";
import { createInventory, TABLE } from "./app.js";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("set DATABASE_URL to a scratch database");
const server = new URL(url);
const proxy = await startFaultProxy({
  target: { host: server.hostname, port: Number(server.port || 5432) },
});
// The app connects through the proxy; its deadline is 1 s per call.
const app = createInventory(proxy.url(url), { timeout: "1s" });

before(async () => {
  await app.migrate();
  await app.restock("widget", 5);
});
after(async () => {
  await app.db.write(`drop table if exists ${TABLE}`).catch(() => {});
  await app.close();
  await proxy.close();
});

/** Runs `fn` and returns how long it took, in ms, with its result or error. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** Polls until the app answers again (bounded): recovery must not need a restart. */
async function recovered(timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await timed(() => app.stock("widget"));
    if (r.value === 5) return;
    if (Date.now() > deadline) throw new Error(`not recovered in ${timeoutMs} ms: ${r.error}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the inventory app through the fault proxy", { timeout: 30_000 }, () => {
  it("answers after every database connection is killed", async () => {
    assert.equal(await app.stock("widget"), 5);
    const killed = proxy.resetAll();
    assert.ok(killed >= 1, "the app's pooled connection was really cut");
    // The dead connection is noticed and replaced; the read is retried. No error surfaces.
    assert.equal(await app.stock("widget"), 5);
    await app.restock("widget", 5); // writes too (idempotent ones are retried after send)
  });

  it("slower under 100 ms of latency each way, still within its deadline", async () => {
    proxy.latency(100);
    try {
      const r = await timed(() => app.stock("widget"));
      assert.equal(r.value, 5, String(r.error));
      assert.ok(r.ms >= 200, `a round trip costs 2 × 100 ms, took ${r.ms}`);
    } finally {
      proxy.latency(0);
    }
  });

  it("latency beyond the deadline: a TimeoutError, on time", async () => {
    proxy.latency(1_500);
    let r: Awaited<ReturnType<typeof timed>>;
    try {
      r = await timed(() => app.stock("widget"));
    } finally {
      proxy.latency(0);
    }
    assert.ok(r.error instanceof TimeoutError, `expected a TimeoutError, got ${r.error}`);
    assert.equal(r.error.code, "TIMEOUT");
    assert.ok(r.ms < 1_500, `the 1 s deadline held (took ${Math.round(r.ms)} ms)`);
    await recovered();
  });

  it("a brief blackhole (nothing flows, nothing closes): a TimeoutError on time, then recovery", async () => {
    proxy.blackhole();
    let r: Awaited<ReturnType<typeof timed>>;
    try {
      r = await timed(() => app.stock("widget"));
    } finally {
      proxy.heal();
    }
    assert.ok(r.error instanceof TimeoutError, `expected a TimeoutError, got ${r.error}`);
    assert.ok(r.ms < 1_500, `the 1 s deadline held (took ${Math.round(r.ms)} ms)`);
    await recovered();
  });

  it("the database refuses connections: the breaker opens (CircuitOpenError), then fails fast", async () => {
    await proxy.refuse();
    proxy.resetAll();
    try {
      const errors: unknown[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await timed(() => app.stock("widget"));
        errors.push(r.error);
        assert.notEqual(r.error, undefined, "no call succeeds while the server refuses");
        assert.ok(r.ms < 1_500, `each call ends within its deadline (took ${Math.round(r.ms)} ms)`);
        if (r.error instanceof CircuitOpenError) break;
      }
      const open = errors.at(-1);
      assert.ok(open instanceof CircuitOpenError, `the breaker opened: ${String(open)}`);
      assert.equal(open.code, "CIRCUIT_OPEN");
      // While open, calls fail at once instead of waiting on a dead database.
      const fast = await timed(() => app.stock("widget"));
      assert.ok(fast.error instanceof CircuitOpenError);
      assert.ok(fast.ms < 250, `failed fast (${Math.round(fast.ms)} ms)`);
    } finally {
      await proxy.resume();
    }
    await recovered();
  });
});
