import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/errors/config-error.js";
import { circuitBreaker } from "../../src/policy/circuit-breaker.js";
import type { PoolOptions } from "../../src/pool/options.js";
import { ConnectionPool } from "../../src/pool/pool.js";
import type { ConnectGate, PoolLogger } from "../../src/pool/types.js";
import { FakeClock, flushMicrotasks } from "../../src/testing/fake-clock.js";
import { type FakeConnection, FakeConnector } from "./fake-connector.js";

function setup(options: PoolOptions = {}, hooks: { gate?: ConnectGate; logger?: PoolLogger } = {}) {
  const clock = new FakeClock();
  const connector = new FakeConnector();
  const pool = new ConnectionPool(
    connector,
    { housekeepingInterval: 100, random: () => 0.5, clock, ...options },
    hooks,
  );
  return { clock, connector, pool };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return "resolved";
}

describe("ConnectionPool: hand-out and reuse", () => {
  it("creates on demand, reuses a released connection and counts", async () => {
    const { pool, connector } = setup({ max: 2 });
    const a = await pool.acquire();
    pool.release(a);
    const b = await pool.acquire();
    assert.equal(b, a, "the released connection is reused");
    pool.release(b);
    assert.equal(connector.connectAttempts, 1);
    const s = pool.stats();
    assert.equal(s.total, 1);
    assert.equal(s.idle, 1);
    assert.equal(s.acquires, 2);
    assert.equal(s.created, 1);
  });

  it("serves waiters first-in first-out once the pool is at max", async () => {
    const { pool } = setup({ max: 1 });
    const first = await pool.acquire();
    const order: number[] = [];
    const waiting = [1, 2, 3].map((n) =>
      pool.acquire().then((c) => {
        order.push(n);
        pool.release(c);
      }),
    );
    await flushMicrotasks();
    assert.equal(pool.stats().pending, 3);
    pool.release(first);
    await Promise.all(waiting);
    assert.deepEqual(order, [1, 2, 3]);
  });

  it("fails a waiter with PoolTimeoutError carrying the counts after acquireTimeout", async () => {
    const { pool, clock } = setup({ max: 1, acquireTimeout: "2s" });
    await pool.acquire();
    const waiting = pool.acquire().catch((e: unknown) => e);
    await clock.tick(1_999);
    assert.equal(pool.stats().pending, 1);
    await clock.tick(1);
    const err = (await waiting) as {
      code: string;
      waitedMs: number;
      counts: { active: number; max: number };
    };
    assert.equal(err.code, "POOL_TIMEOUT");
    assert.equal(err.waitedMs, 2_000);
    assert.equal(err.counts.active, 1);
    assert.equal(err.counts.max, 1);
    assert.equal(pool.stats().acquireTimeouts, 1);
    assert.equal(pool.stats().pending, 0);
  });

  it("bounds the wait queue", async () => {
    const { pool } = setup({ max: 1, maxWaiters: 2 });
    await pool.acquire();
    void pool.acquire().catch(() => {});
    void pool.acquire().catch(() => {});
    assert.equal(await codeOf(pool.acquire()), "POOL_QUEUE_FULL");
  });

  it("stops waiting when the signal aborts", async () => {
    const { pool } = setup({ max: 1 });
    await pool.acquire();
    const controller = new AbortController();
    const waiting = codeOf(pool.acquire({ signal: controller.signal }));
    controller.abort();
    assert.equal(await waiting, "CANCELED");
    assert.equal(pool.stats().pending, 0);
  });

  it("rejects invalid options with every bad field named", () => {
    const clock = new FakeClock();
    assert.throws(
      () =>
        new ConnectionPool(new FakeConnector(), {
          clock,
          max: 0,
          minIdle: -1,
          acquireTimeout: "soon" as never,
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.map((i) => i.field).join(",") === "pool.max,pool.minIdle,pool.acquireTimeout",
    );
  });
});

describe("ConnectionPool: healing", () => {
  it("validates a connection idle past the window and replaces a dead one without the caller noticing", async () => {
    const { pool, clock, connector } = setup({ max: 2, validationWindow: 500, keepalive: 0 });
    const a = await pool.acquire();
    pool.release(a);
    a.alive = false; // died silently (no error event), e.g. a half-open socket
    await clock.tick(600);
    const b = await pool.acquire();
    assert.notEqual(b, a);
    assert.ok(b.alive);
    assert.equal(a.validations, 1);
    assert.ok(a.destroyed);
    assert.equal(pool.stats().destroyed["validation-failed"], 1);
    assert.equal(connector.connectAttempts, 2);
  });

  it("skips validation inside the bypass window", async () => {
    const { pool, clock } = setup({ validationWindow: 500 });
    const a = await pool.acquire();
    pool.release(a);
    await clock.tick(400);
    pool.release(await pool.acquire());
    assert.equal(a.validations, 0);
  });

  it("after a connection dies under a caller, idle ones are validated even inside the window", async () => {
    const { pool, clock } = setup({ max: 3, validationWindow: 500, keepalive: 0 });
    const [a, b, c] = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    pool.release(b);
    pool.release(c);
    b.alive = false; // terminated with the others, but its socket has not said so yet
    await clock.tick(10);
    pool.release(a, { destroy: true, error: new Error("Connection terminated unexpectedly") });
    const next = await pool.acquire();
    assert.equal(next, c, "the dead idle connection was caught by validation, not handed out");
    assert.equal(b.validations, 1);
    assert.equal(c.validations, 1);
    assert.equal(pool.stats().destroyed["validation-failed"], 1);
    pool.release(next);
    pool.release(await pool.acquire());
    assert.equal(c.validations, 1, "checked once; trusted again afterwards");
  });

  it("removes a connection that dies while idle, at once and without crashing", async () => {
    const warnings: string[] = [];
    const logger = { warn: (_: object, message: string) => warnings.push(message) };
    const { pool, connector } = setup({ max: 3 }, { logger });
    const conns = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const c of conns) pool.release(c);
    for (const c of conns) connector.kill(c);
    const s = pool.stats();
    assert.equal(s.total, 0);
    assert.equal(s.destroyed["died-idle"], 3);
    assert.equal(warnings.length, 1, "a burst of deaths is logged once");
  });

  it("destroys a connection that died while in use when it comes back", async () => {
    const { pool, connector } = setup();
    const a = await pool.acquire();
    connector.kill(a);
    pool.release(a);
    assert.ok(a.destroyed);
    assert.equal(pool.stats().destroyed.broken, 1);
  });

  it("destroys a connection released with an error or mid-transaction", async () => {
    const { pool } = setup({ max: 2 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(a, { destroy: true });
    b.inTransaction = true;
    pool.release(b);
    assert.ok(a.destroyed && b.destroyed);
    assert.equal(pool.stats().destroyed["released-with-error"], 1);
    assert.equal(pool.stats().destroyed["not-reusable"], 1);
  });

  it("refuses a double release", async () => {
    const { pool } = setup();
    const a = await pool.acquire();
    pool.release(a);
    assert.throws(() => pool.release(a), /not checked out/);
  });
});

describe("ConnectionPool: lifetimes with a fake clock", () => {
  it("retires at maxLifetime minus jitter on release, never while in use", async () => {
    // random() = 0.5 and jitter 0.1 → this connection retires at 95% of 10 s.
    const { pool, clock } = setup({
      maxLifetime: "10s",
      lifetimeJitter: 0.1,
      validationWindow: 60_000,
    });
    const a = await pool.acquire();
    await clock.tick(9_600);
    assert.ok(!a.destroyed, "in use: never retired");
    pool.release(a);
    assert.ok(a.destroyed, "retired on release once past its lifetime");
    assert.equal(pool.stats().destroyed["max-lifetime"], 1);
  });

  it("retires idle connections past their lifetime during housekeeping", async () => {
    const { pool, clock } = setup({
      maxLifetime: "10s",
      lifetimeJitter: 0,
      validationWindow: 60_000,
      keepalive: 0,
    });
    const a = await pool.acquire();
    pool.release(a);
    await clock.tick(9_900);
    assert.ok(!a.destroyed);
    await clock.tick(100);
    assert.ok(a.destroyed);
  });

  it("closes idle connections above minIdle after idleTimeout and keeps minIdle warm", async () => {
    const { pool, clock, connector } = setup({
      max: 4,
      minIdle: 1,
      idleTimeout: "30s",
      keepalive: 0,
    });
    await clock.tick(0);
    assert.equal(pool.stats().idle, 1, "minIdle is filled in the background");
    const conns = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const c of conns) pool.release(c);
    // While all three were out, minIdle kept one more idle connection ready (HikariCP semantics).
    assert.equal(pool.stats().idle, 4);
    await clock.tick(29_900);
    assert.equal(pool.stats().idle, 4);
    await clock.tick(200);
    assert.equal(pool.stats().total, 1, "idle ones retire down to minIdle");
    assert.equal(pool.stats().destroyed["idle-timeout"], 3);
    assert.equal(connector.open.length, 1);
  });

  it("pings idle connections with keepalive and drops the ones that fail", async () => {
    const { pool, clock } = setup({ keepalive: "2m", idleTimeout: 0, maxLifetime: 0 });
    const a = await pool.acquire();
    pool.release(a);
    await clock.tick(120_100);
    assert.equal(a.validations, 1);
    a.alive = false;
    await clock.tick(120_100);
    assert.ok(a.destroyed);
    assert.equal(pool.stats().destroyed["keepalive-failed"], 1);
  });

  it("warns once with the acquiring stack about a leaked connection", async () => {
    const warnings: { fields: { stack?: string }; message: string }[] = [];
    const logger = {
      warn: (fields: object, message: string) => warnings.push({ fields, message }),
    };
    const { pool, clock } = setup({ leakDetectionThreshold: "5s" }, { logger });
    await pool.acquire();
    await clock.tick(5_000);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? "", /possible leak/);
    assert.match(warnings[0]?.fields.stack ?? "", /pool\.test\.ts/);
    await clock.tick(60_000);
    assert.equal(warnings.length, 1);
  });
});

describe("ConnectionPool: when the database is down", () => {
  it("spaces connection attempts with backoff and bounds concurrent attempts", async () => {
    const { pool, clock, connector } = setup({
      max: 10,
      maxConcurrentCreates: 2,
      createBackoffBase: 100,
      createBackoffCap: 1_000,
      acquireTimeout: "10s",
    });
    connector.connectOutcome = "fail";
    const waiters = Array.from({ length: 10 }, () => pool.acquire().catch((e: unknown) => e));
    await flushMicrotasks();
    assert.ok(
      connector.connectAttempts <= 2,
      `at most 2 attempts at once, saw ${connector.connectAttempts}`,
    );
    await clock.tick(9_999);
    // After the first failures one attempt at a time, backing off to the 1 s cap (jittered to
    // 750 ms here): about 17 attempts in 10 s, not hundreds.
    const attempts = connector.connectAttempts;
    assert.ok(attempts >= 10 && attempts <= 18, `attempts bounded by backoff, saw ${attempts}`);
    connector.connectOutcome = "ok";
    await clock.tick(1_001);
    const results = await Promise.all(waiters);
    assert.ok(results.every((r) => (r as { code?: string }).code === "POOL_TIMEOUT"));
    const cause = (results[0] as { cause?: { code?: string } }).cause;
    assert.equal(cause?.code, "ECONNREFUSED", "the timeout names the connect error that caused it");
  });

  it("fails waiters at once on a permanent connect error", async () => {
    const { pool, connector } = setup();
    connector.connectOutcome = "fail";
    connector.connectError = Object.assign(
      new Error('password authentication failed for user "app"'),
      {
        code: "28P01",
      },
    );
    assert.equal(await codeOf(pool.acquire()), "28P01");
  });

  it("with the circuit breaker as gate: waiters fail fast while open, and its probe reconnects", async () => {
    const clock = new FakeClock();
    const connector = new FakeConnector();
    connector.connectOutcome = "fail";
    let pool: ConnectionPool<FakeConnection> | undefined;
    const breaker = circuitBreaker({
      clock,
      consecutiveFailures: 3,
      breakDuration: "5s",
      probe: () => (pool as ConnectionPool<FakeConnection>).probe(),
    });
    pool = new ConnectionPool(
      connector,
      { clock, random: () => 0.5, createBackoffBase: 100, acquireTimeout: "30s" },
      { gate: breaker },
    );
    const first = codeOf(pool.acquire());
    await clock.tick(2_000);
    assert.equal(breaker.state, "open", "three failed connects opened the breaker");
    assert.equal(await first, "CIRCUIT_OPEN", "the waiter failed fast instead of waiting 30 s");
    const attempts = connector.connectAttempts;
    assert.equal(attempts, 3);
    assert.equal(await codeOf(pool.acquire()), "CIRCUIT_OPEN");
    assert.equal(connector.connectAttempts, attempts, "no new attempt while open");
    connector.connectOutcome = "ok";
    await clock.tick(5_000);
    assert.equal(breaker.state, "closed", "the breaker's own probe closed it");
    assert.equal(connector.connectAttempts, attempts + 1, "recovery was probed by one connect");
    assert.equal(pool.stats().idle, 1, "the probe's connection joined the pool");
    const conn = await pool.acquire();
    pool.release(conn);
  });

  it("ready() rejects with the connection error after its timeout, and resolves once one works", async () => {
    const { pool, clock, connector } = setup();
    connector.connectOutcome = "fail";
    const failing = pool.ready({ timeout: "1s" }).catch((e: unknown) => e);
    await clock.tick(1_000);
    assert.equal(((await failing) as { code?: string }).code, "ECONNREFUSED");
    connector.connectOutcome = "ok";
    await clock.tick(10_000);
    await pool.ready({ timeout: "1s" });
  });
});

describe("ConnectionPool: reset and close", () => {
  it("reset() retires idle connections now and in-use ones on release", async () => {
    const { pool } = setup({ max: 2 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(a);
    pool.reset();
    assert.ok(a.destroyed);
    assert.ok(!b.destroyed, "in use: untouched until released");
    pool.release(b);
    assert.ok(b.destroyed);
    assert.equal(pool.stats().destroyed.reset, 2);
    const c = await pool.acquire();
    assert.ok(c !== a && c !== b);
  });

  it("close() refuses new acquires, drains in-use connections, and is idempotent", async () => {
    const { pool, clock } = setup({ max: 2 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    const waiter = codeOf(pool.acquire());
    const closed = pool.close({ drain: "5s" });
    assert.equal(pool.close(), closed);
    assert.equal(await waiter, "POOL_CLOSED");
    assert.equal(await codeOf(pool.acquire()), "POOL_CLOSED");
    pool.release(a);
    assert.ok(a.destroyed);
    let done = false;
    void closed.then(() => {
      done = true;
    });
    await clock.tick(4_000);
    assert.ok(!done, "still draining while b is in use");
    await clock.tick(1_000);
    await closed;
    assert.ok(b.destroyed, "force-closed after the drain time");
    assert.equal(pool.stats().total, 0);
  });

  it("close() resolves as soon as the last connection comes back", async () => {
    const { pool } = setup();
    const a: FakeConnection = await pool.acquire();
    const closed = pool.close({ drain: "1m" });
    pool.release(a);
    await closed;
    assert.equal(pool.stats().total, 0);
  });
});
