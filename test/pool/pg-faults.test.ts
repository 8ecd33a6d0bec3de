import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import { Pool } from "../../src/drivers/pg/pool.js";
import { circuitBreaker } from "../../src/policy/circuit-breaker.js";
import { startFaultProxy } from "../../src/testing/fault-proxy.js";
import { startThrowawayCluster } from "../../src/testing/throwaway-cluster.js";
import { adminQuery, freshDatabase, type TestDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

const db: TestDatabase = await freshDatabase("pool_faults");
let appCounter = 0;

/** A drop-in Pool on the test database with a unique application_name to find its backends. */
function poolFor(url: string, config: ConstructorParameters<typeof Pool>[0] = {}) {
  const applicationName = `sf_pool_${process.pid}_${appCounter++}`;
  const pool = new Pool({ connectionString: url, application_name: applicationName, ...config });
  after(() => pool.end().catch(() => {}));
  return { pool, applicationName };
}

async function backendPids(applicationName: string): Promise<number[]> {
  const rows = await adminQuery<{ pid: number }>(
    "select pid from pg_stat_activity where application_name = $1",
    [applicationName],
  );
  return rows.map((r) => r.pid);
}

/** Fills the pool with `n` connections by holding them all at once. */
async function warm(pool: Pool, n: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
  for (const c of clients) c.release();
}

describe("pool under real faults", () => {
  it("pg_terminate_backend of every idle pooled backend: the next queries all succeed", async () => {
    const { pool, applicationName } = poolFor(db.url, { max: 5 });
    await warm(pool, 5);
    const pids = await backendPids(applicationName);
    assert.equal(pids.length, 5);
    const terminated = await adminQuery<{ ok: boolean }>(
      "select pg_terminate_backend(pid) as ok from unnest($1::int[]) pid",
      [pids],
    );
    assert.ok(
      terminated.every((r) => r.ok),
      "every backend was really terminated",
    );
    await waitFor(
      "the pool to notice the five deaths",
      () => pool.stats().destroyed["died-idle"] === 5,
    );
    const results = await Promise.all(
      Array.from({ length: 20 }, () => pool.query("select pg_backend_pid() as pid")),
    );
    assert.equal(results.length, 20);
    const newPids = new Set(results.map((r) => r.rows[0].pid as number));
    assert.ok(
      [...newPids].every((pid) => !pids.includes(pid)),
      "served by new backends only",
    );
  });

  it("idle_session_timeout shorter than the pool's idle time: a burst of 50 after the gap all succeed", async () => {
    await db.sql(`alter database "${db.name}" set idle_session_timeout = '300ms'`);
    after(() => db.sql(`alter database "${db.name}" reset idle_session_timeout`));
    const { pool } = poolFor(db.url, { max: 10, idleTimeoutMillis: 60_000 });
    await warm(pool, 10);
    await waitFor(
      "the server to cut every idle session",
      () => pool.stats().destroyed["died-idle"] >= 10,
      {
        timeoutMs: 5_000,
      },
    );
    const burst = await Promise.allSettled(
      Array.from({ length: 50 }, () => pool.query("select 1 as one")),
    );
    const failures = burst.filter((r) => r.status === "rejected");
    assert.equal(
      failures.length,
      0,
      `failures: ${failures.map((f) => String((f as PromiseRejectedResult).reason)).join("; ")}`,
    );
  });

  it("a blackholed network: acquire never waits past its timeout, and the pool heals after", async () => {
    const target = new URL(db.url);
    const proxy = await startFaultProxy({
      target: { host: target.hostname, port: Number(target.port) },
    });
    after(() => proxy.close());
    const { pool } = poolFor(proxy.url(db.url), {
      max: 2,
      connectionTimeoutMillis: 1_000,
      steadfast: { validationWindow: 0, validationTimeout: 300 },
    });
    await warm(pool, 2);
    proxy.blackhole();
    const started = performance.now();
    const result = await pool.query("select 1").then(
      () => "resolved",
      (e: { code?: string }) => e.code,
    );
    const elapsed = performance.now() - started;
    assert.equal(result, "POOL_TIMEOUT");
    assert.ok(
      elapsed < 1_300,
      `acquire returned after ${Math.round(elapsed)} ms, its timeout is 1000 ms`,
    );
    assert.ok(
      pool.stats().destroyed["validation-failed"] >= 2,
      "the blackholed idle connections failed validation",
    );
    assert.ok(proxy.stats().faults.blackholed);
    proxy.heal();
    const healedAt = performance.now();
    await waitFor("a query to succeed after heal", () => pool.query("select 1").then(() => true), {
      timeoutMs: 3_000,
    });
    assert.ok(performance.now() - healedAt < 2_000);
  });

  it("connections refused for 4 s: callers fail fast once the breaker opens, attempts stay bounded", async () => {
    const target = new URL(db.url);
    const proxy = await startFaultProxy({
      target: { host: target.hostname, port: Number(target.port) },
    });
    after(() => proxy.close());
    let dropIn: Pool | undefined;
    const breaker = circuitBreaker({
      consecutiveFailures: 3,
      breakDuration: "500ms",
      maxBreakDuration: "2s",
      probe: () => (dropIn as Pool).steadfast.probe(),
    });
    const { pool } = poolFor(proxy.url(db.url), {
      max: 4,
      connectionTimeoutMillis: 2_000,
      steadfast: { gate: breaker },
    });
    dropIn = pool;
    await warm(pool, 4);
    assert.equal(proxy.resetAll(), 4, "every pooled connection was really reset");
    await proxy.refuse();
    await waitFor("the pool to drop the reset connections", () => pool.totalCount === 0);
    const attemptsBefore = pool.stats().connectFailures + pool.stats().created;
    const outageEnds = performance.now() + 4_000;
    const slowFailures: number[] = [];
    const codes = new Map<string, number>();
    while (performance.now() < outageEnds) {
      const started = performance.now();
      const openAtStart = breaker.state === "open";
      const code = await pool.query("select 1").then(
        () => "ok",
        (e: { code?: string }) => e.code ?? "error",
      );
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (openAtStart && performance.now() - started > 50)
        slowFailures.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
    const attempts = pool.stats().connectFailures + pool.stats().created - attemptsBefore;
    assert.ok(
      (codes.get("CIRCUIT_OPEN") ?? 0) > 50,
      `callers failed fast with the breaker's error: ${[...codes]}`,
    );
    assert.deepEqual(slowFailures, [], "once open, calls fail in well under 50 ms");
    assert.equal(codes.get("ok"), undefined, "nothing succeeded while refused");
    assert.ok(attempts <= 10, `connection attempts during the outage: ${attempts}`);
    await proxy.resume();
    const resumedAt = performance.now();
    await waitFor(
      "a query to succeed after the outage",
      () => pool.query("select 1").then(() => true),
      { timeoutMs: 4_000 },
    );
    assert.equal(breaker.state, "closed");
    assert.ok(performance.now() - resumedAt < 3_000);
  });

  it("exhaustion: FIFO service, PoolTimeoutError for those past their timeout, nothing leaked", async () => {
    const { pool, applicationName } = poolFor(db.url, { max: 3, connectionTimeoutMillis: 500 });
    await warm(pool, 3);
    const finished: number[] = [];
    const calls = Array.from({ length: 9 }, (_, i) =>
      pool.query("select pg_sleep(0.3)").then(
        () => {
          finished.push(i);
          return "ok";
        },
        (e: { code?: string }) => e.code ?? "error",
      ),
    );
    const outcomes = await Promise.all(calls);
    assert.deepEqual(
      outcomes.slice(0, 6),
      ["ok", "ok", "ok", "ok", "ok", "ok"],
      "the first two waves are served",
    );
    assert.deepEqual(
      outcomes.slice(6),
      ["POOL_TIMEOUT", "POOL_TIMEOUT", "POOL_TIMEOUT"],
      "the third wave times out",
    );
    assert.deepEqual(
      finished.slice(0, 3).sort(),
      [0, 1, 2],
      "the first three callers finish first (FIFO)",
    );
    const stats = pool.stats();
    assert.equal(stats.active, 0);
    assert.equal(stats.pending, 0);
    assert.ok(stats.total <= 3);
    assert.ok((await backendPids(applicationName)).length <= 3);
  });

  it("a real server restart under load: the pool recovers by itself", async () => {
    const cluster = await startThrowawayCluster();
    after(() => cluster.destroy());
    const { pool } = poolFor(cluster.url, { max: 4, connectionTimeoutMillis: 2_000 });
    await warm(pool, 4);
    let stop = false;
    let ok = 0;
    let failed = 0;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await pool.query("select 1").then(
          () => ok++,
          () => failed++,
        );
      }
    });
    await waitFor("load to run", () => ok > 50);
    const pidBefore = cluster.postmasterPid();
    await cluster.restart("fast");
    const pidAfter = cluster.postmasterPid();
    assert.notEqual(pidAfter, pidBefore, "the postmaster really restarted");
    const okAtRestart = ok;
    await waitFor("queries to succeed again after the restart", () => ok > okAtRestart + 50, {
      timeoutMs: 10_000,
    });
    stop = true;
    await Promise.all(workers);
    assert.ok(
      pool.stats().destroyed["died-idle"] +
        pool.stats().destroyed.broken +
        pool.stats().destroyed["validation-failed"] >
        0,
    );
    const check = new pg.Client({ connectionString: cluster.url });
    await check.connect();
    await check.end();
  });
});
