import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pgDriver } from "../../src/drivers/pg/index.js";
import {
  CanceledError,
  CircuitOpenError,
  ConfigError,
  classify,
  createDatabase,
  TimeoutError,
  UnknownOutcomeError,
} from "../../src/index.js";
import { databaseUnderTest } from "../helpers/database.js";
import { waitFor } from "../helpers/wait.js";

const { target, proxy, database } = await databaseUnderTest("query");
await target.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE)");

/** Active statements on the test database whose text starts with `prefix`. */
async function running(prefix: string): Promise<number> {
  const rows = await target.sql<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE $2",
    [target.name, `${prefix}%`],
  );
  return Number(rows[0]?.n);
}

describe("db.read / db.write / db.query", () => {
  it("runs parameterised statements and returns rows, rowCount and command", async () => {
    const db = database();
    const inserted = await db.write<{ id: number }>(
      "INSERT INTO items (name) VALUES ($1), ($2) RETURNING id",
      ["a'b", "100%_x"],
    );
    assert.equal(inserted.rowCount, 2);
    assert.equal(inserted.command, "INSERT");
    const { rows } = await db.read<{ name: string }>(
      "SELECT name FROM items WHERE name = ANY($1) ORDER BY name",
      [["a'b", "100%_x"]],
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      ["100%_x", "a'b"],
    );
  });

  it("fails bad statements at once with a classified error, never retried", async () => {
    const db = database();
    const attempts: number[] = [];
    db.on("call", (e) => attempts.push(e.attempts));
    await assert.rejects(db.read("SELEC 1"), (e: unknown) => classify(e).code === "PG_42601");
    await assert.rejects(
      db.read("SELECT $1::int + $2::int", [1]),
      (e: unknown) => classify(e).code === "PG_08P01" && classify(e).kind === "permanent",
    );
    await assert.rejects(
      db.write("INSERT INTO items (name) VALUES ($1)", [null]),
      (e: unknown) => classify(e).code === "PG_23502",
    );
    assert.deepEqual(attempts, [1, 1, 1]);
  });

  it("takes the breaker's probe schedule from the preset unless the caller sets a break", async () => {
    const driver = () => pgDriver({ connectionString: target.url });
    const server = createDatabase({ driver: driver(), preset: "server" });
    const serverless = createDatabase({ driver: driver(), preset: "serverless" });
    const custom = createDatabase({ driver: driver(), breaker: { breakDuration: "5s" } });
    try {
      assert.equal(server.breaker?.stats().breakDurationMs, 500);
      assert.equal(serverless.breaker?.stats().breakDurationMs, 1_000);
      assert.equal(
        custom.breaker?.stats().breakDurationMs,
        5_000,
        "a longer break than the preset's cap is fine",
      );
    } finally {
      await Promise.all([server, serverless, custom].map((db) => db.close()));
    }
  });

  it("rejects invalid options with every bad field named, without echoing a password", () => {
    assert.throws(
      () =>
        createDatabase({
          driver: pgDriver({ connectionString: target.url }),
          preset: "cloud" as never,
          timeout: -5,
          pool: { maxx: 3 } as never,
          retry: { maxAttempts: 0 },
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        for (const field of ["preset", "timeout", "pool.maxx", "retry.maxAttempts"]) {
          assert.match(e.message, new RegExp(field.replace(".", "\\.")));
        }
        return true;
      },
    );
    assert.throws(
      () => pgDriver({ connectionString: "postgres://app:S3cr3t#Pa@ss@db.example:5432/app" }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.doesNotMatch(e.message, /S3cr3t/);
        assert.match(e.message, /connectionString/);
        return true;
      },
    );
    const db = database();
    assert.throws(() => db.timeoutOf("soon" as never), ConfigError);
    return assert.rejects(db.read(42 as never), ConfigError);
  });
});

describe("timeouts cancel on the server", () => {
  it("pg_sleep(10) with a 200 ms timeout: TimeoutError on time, backend canceled, connection kept", async () => {
    // serverTimeout off: only the client's CancelRequest can stop the sleep.
    const db = database({ serverTimeout: false });
    const timeouts: number[] = [];
    db.on("timeout", (e) => timeouts.push(e.timeoutMs));
    await db.read("SELECT 1");
    const started = performance.now();
    await assert.rejects(db.read("SELECT pg_sleep(10)", [], { timeout: 200 }), TimeoutError);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 195 && elapsed < 400, `returned after ${elapsed.toFixed(0)} ms`);
    assert.deepEqual(timeouts, [200], "the timeout event fired once");
    await waitFor(
      "the sleeping backend to be canceled",
      async () => (await running("SELECT pg_sleep")) === 0,
      {
        timeoutMs: 2_000,
      },
    );
    await waitFor("the canceled connection to come back", () => db.stats().pool.idle === 1);
    const { destroyed } = db.stats().pool;
    assert.equal(
      Object.values(destroyed).reduce((a, b) => a + b, 0),
      0,
    );
    console.log(`# timeout test: TimeoutError after ${elapsed.toFixed(1)} ms (limit 200 ms)`);
  });

  it("an AbortSignal cancels the same way", async () => {
    const db = database({ serverTimeout: false });
    const controller = new AbortController();
    const call = db.read("SELECT pg_sleep(10)", [], { signal: controller.signal });
    await waitFor("the sleep to start", async () => (await running("SELECT pg_sleep")) === 1);
    controller.abort();
    await assert.rejects(call, CanceledError);
    await waitFor(
      "the backend to be canceled",
      async () => (await running("SELECT pg_sleep")) === 0,
      {
        timeoutMs: 2_000,
      },
    );
  });

  it("through a blackholed network the call still returns on time, and the server stops the statement", async () => {
    const db = database({ cancelGrace: 300 }, true);
    await db.read("SELECT 1");
    const started = performance.now();
    const call = db.read("SELECT pg_sleep(10)", [], { timeout: 400 });
    await waitFor("the sleep to start", async () => (await running("SELECT pg_sleep")) === 1);
    proxy.blackhole();
    try {
      await assert.rejects(call, TimeoutError);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 600, `returned after ${elapsed.toFixed(0)} ms`);
      assert.ok(proxy.stats().faults.blackholed);
      // The CancelRequest is stuck in the blackhole too; statement_timeout is the backstop.
      await waitFor(
        "the server's statement_timeout",
        async () => (await running("SELECT pg_sleep")) === 0,
        {
          timeoutMs: 3_000,
        },
      );
      await waitFor("the stuck connection to be destroyed", () => db.stats().pool.total === 0);
      console.log(
        `# blackholed timeout: TimeoutError after ${elapsed.toFixed(1)} ms (limit 400 ms)`,
      );
    } finally {
      proxy.heal();
    }
  });
});

describe("retries", () => {
  it("a read whose backend is terminated mid-statement is retried and succeeds", async () => {
    const db = database();
    const retries: string[] = [];
    db.on("retry", (e) => retries.push(e.classification.code));
    const call = db.read<{ ok: number }>("SELECT 1 AS ok FROM pg_sleep(0.5)");
    await waitFor("the read to start", async () => (await running("SELECT 1 AS ok")) === 1);
    const killed = await target.sql<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT 1 AS ok%' AND state = 'active'",
      [target.name],
    );
    assert.equal(killed[0]?.ok, true);
    assert.equal((await call).rows[0]?.ok, 1);
    assert.ok(retries.length >= 1, "the read was retried");
  });

  it("a write whose backend is terminated mid-statement reports an unknown outcome instead of retrying", async () => {
    const db = database();
    const call = db.write("INSERT INTO items (name) SELECT 'late-' || pg_sleep(0.5)::text").then(
      () => undefined,
      (error: unknown) => error,
    );
    await waitFor("the write to start", async () => (await running("INSERT INTO items")) === 1);
    await target.sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'INSERT INTO items%'",
      [target.name],
    );
    assert.ok((await call) instanceof UnknownOutcomeError);
  });

  it("a write that failed before it was sent is retried: connects refused, then back", async () => {
    const db = database({ breaker: false }, true);
    await proxy.refuse();
    const call = db.write("INSERT INTO items (name) VALUES ($1)", ["after-refuse"], {
      timeout: "5s",
    });
    await waitFor("a refused connection attempt", () => db.stats().pool.connectFailures > 0);
    await proxy.resume();
    await call;
    const rows = await target.sql("SELECT 1 FROM items WHERE name = 'after-refuse'");
    assert.equal(rows.length, 1);
  });
});

describe("the circuit breaker", () => {
  it("opens while connections are refused, fails calls fast, emits events, and recovers by itself", async () => {
    const db = database(
      { breaker: { consecutiveFailures: 3, breakDuration: "200ms" }, retry: { maxAttempts: 1 } },
      true,
    );
    const states: string[] = [];
    db.on("breaker", (e) => states.push(e.to));
    await proxy.refuse();
    try {
      await waitFor("the breaker to open", async () => {
        await db.read("SELECT 1", [], { timeout: 300 }).catch(() => {});
        return db.stats().breaker === "open";
      });
      const started = performance.now();
      await assert.rejects(db.read("SELECT 1"), CircuitOpenError);
      assert.ok(performance.now() - started < 50, "an open breaker fails fast");
    } finally {
      await proxy.resume();
    }
    await waitFor("recovery", async () => {
      try {
        return (await db.read<{ ok: number }>("SELECT 1 AS ok")).rows[0]?.ok === 1;
      } catch {
        return false;
      }
    });
    assert.ok(states.includes("open") && states.at(-1) === "closed", `states: ${states}`);
  });
});
