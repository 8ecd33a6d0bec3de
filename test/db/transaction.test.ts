import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, classify, UnknownOutcomeError } from "../../src/index.js";
import { databaseUnderTest } from "../helpers/database.js";
import { waitFor } from "../helpers/wait.js";

const { target, proxy, database } = await databaseUnderTest("tx");
await target.sql("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)");
await target.sql("CREATE TABLE events (id serial PRIMARY KEY, note text NOT NULL)");

async function notes(prefix: string): Promise<string[]> {
  const rows = await target.sql<{ note: string }>(
    "SELECT note FROM events WHERE starts_with(note, $1) ORDER BY id",
    [prefix],
  );
  return rows.map((r) => r.note);
}

describe("db.transaction", () => {
  it("commits the callback's statements and returns its result; rolls back when it throws", async () => {
    const db = database();
    const id = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: number }>(
        "INSERT INTO events (note) VALUES ($1) RETURNING id",
        ["basic:commit"],
      );
      return rows[0]?.id;
    });
    assert.equal(typeof id, "number");
    let runs = 0;
    await assert.rejects(
      db.transaction(async (tx) => {
        runs++;
        await tx.query("INSERT INTO events (note) VALUES ($1)", ["basic:rolled-back"]);
        throw new Error("business rule says no");
      }),
      /business rule says no/,
    );
    assert.equal(runs, 1, "an application error is not retried");
    assert.deepEqual(await notes("basic:"), ["basic:commit"]);
    assert.equal(db.stats().pool.active, 0);
  });

  it("rejects bad options clearly", async () => {
    const db = database();
    await assert.rejects(
      db.transaction(async () => 1, { isolation: "snapshot" as never, idempotencyKey: "" }),
      (e: unknown) =>
        e instanceof ConfigError && /isolation/.test(e.message) && /idempotencyKey/.test(e.message),
    );
    await assert.rejects(db.transaction("nope" as never), ConfigError);
  });

  it("SERIALIZABLE transfers under contention: conflicts are retried, money is conserved", async () => {
    await target.sql("INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 4) g");
    const db = database({
      pool: { max: 8, acquireTimeout: "20s" },
      transaction: { maxAttempts: 20 },
    });
    const conflicts: string[] = [];
    db.on("retry", (e) => conflicts.push(e.classification.code));
    const transfer = (from: number, to: number) =>
      db.transaction(
        async (tx) => {
          const { rows } = await tx.query<{ balance: number }>(
            "SELECT balance FROM accounts WHERE id = $1",
            [from],
          );
          const balance = rows[0]?.balance ?? 0;
          await tx.query("UPDATE accounts SET balance = $2 WHERE id = $1", [from, balance - 10]);
          await tx.query("UPDATE accounts SET balance = balance + 10 WHERE id = $1", [to]);
        },
        { isolation: "serializable", timeout: "20s" },
      );
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => transfer((i % 4) + 1, ((i + 1) % 4) + 1)),
    );
    const failed = results.filter((r) => r.status === "rejected");
    for (const f of failed) {
      // Only "clear errors after the retry limit" are acceptable: serialization failures.
      assert.equal(classify((f as PromiseRejectedResult).reason).code, "PG_40001");
    }
    const committed = results.length - failed.length;
    const rows = await target.sql<{ total: string; moved: string }>(
      "SELECT sum(balance) AS total, sum(abs(balance - 1000)) AS moved FROM accounts",
    );
    assert.equal(Number(rows[0]?.total), 4000, "money is conserved");
    assert.ok(conflicts.includes("PG_40001"), "there really were serialization conflicts");
    assert.ok(committed > 0);
    console.log(
      `# serializable: ${committed} committed, ${failed.length} failed after the limit, ${conflicts.length} retries`,
    );
  });

  it("a deadlock is retried: both transactions commit", async () => {
    await target.sql("INSERT INTO accounts VALUES (10, 0), (11, 0) ON CONFLICT DO NOTHING");
    const db = database({ pool: { max: 4 } });
    const retried: string[] = [];
    db.on("retry", (e) => retried.push(e.classification.code));
    let locked = 0;
    const bothLocked = () => waitFor("both first locks", () => locked >= 2, { timeoutMs: 5_000 });
    const lockInOrder = (first: number, second: number) =>
      db.transaction(async (tx) => {
        await tx.query("UPDATE accounts SET balance = balance + 1 WHERE id = $1", [first]);
        if (tx.attempt === 1) {
          locked++;
          await bothLocked();
        }
        await tx.query("UPDATE accounts SET balance = balance + 1 WHERE id = $1", [second]);
      });
    await Promise.all([lockInOrder(10, 11), lockInOrder(11, 10)]);
    assert.ok(retried.includes("PG_40P01"), `a deadlock happened and was retried (${retried})`);
    const rows = await target.sql<{ balance: number }>(
      "SELECT balance FROM accounts WHERE id IN (10, 11) ORDER BY id",
    );
    assert.deepEqual(
      rows.map((r) => r.balance),
      [2, 2],
    );
  });

  it("a connection lost before COMMIT is retried from the start", async () => {
    const db = database({}, true);
    let runs = 0;
    const result = await db.transaction(async (tx) => {
      runs++;
      await tx.query("INSERT INTO events (note) VALUES ($1)", [`lost-before:${runs}`]);
      if (runs === 1) assert.ok(proxy.resetAll() > 0, "the connection was really reset");
      await tx.query("SELECT 1");
      return runs;
    });
    assert.equal(result, 2);
    assert.deepEqual(await notes("lost-before:"), ["lost-before:2"]);
  });
});

describe("COMMIT in flight when the connection is lost", () => {
  /**
   * Delays the server's answers, sends COMMIT, waits until the commit is visible on the server
   * (or provably not), then resets the connection before the answer arrives.
   */
  async function loseCommitAnswer(visible: () => Promise<boolean>): Promise<void> {
    await waitFor("the commit to happen on the server", visible, { timeoutMs: 5_000 });
    assert.ok(proxy.resetAll() > 0, "the connection was really reset");
    proxy.latency(0);
  }

  it("without an idempotency key: UnknownOutcomeError (and the commit did happen)", async () => {
    const db = database({ breaker: false }, true);
    const committed = () =>
      target.sql("SELECT 1 FROM events WHERE note = 'unknown:1'").then((r) => r.length === 1);
    const call = db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO events (note) VALUES ('unknown:1')");
        proxy.latency(2_000, { direction: "downstream" });
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    await loseCommitAnswer(committed);
    const error = await call;
    assert.ok(error instanceof UnknownOutcomeError, String(error));
    assert.deepEqual(await notes("unknown:"), ["unknown:1"]);
  });

  it("with an idempotency key: the retry finds the commit and returns the stored result, fn ran once", async () => {
    const db = database({ breaker: false }, true);
    const resolved: boolean[] = [];
    db.on("outcome-resolved", (e) => resolved.push(e.committed));
    let runs = 0;
    const key = "order:committed";
    const committed = () =>
      target
        .sql("SELECT 1 FROM steadfast_idempotency_keys WHERE key = $1 AND result IS NOT NULL", [
          key,
        ])
        .then((r) => r.length === 1);
    const call = db.transaction(
      async (tx) => {
        runs++;
        await tx.query("INSERT INTO events (note) VALUES ('keyed:1')");
        if (runs === 1) proxy.latency(2_000, { direction: "downstream" });
        return { order: 42 };
      },
      { idempotencyKey: key },
    );
    await loseCommitAnswer(committed);
    assert.deepEqual(await call, { order: 42 });
    assert.equal(runs, 1);
    assert.deepEqual(resolved, [true]);
    assert.deepEqual(await notes("keyed:"), ["keyed:1"]);
    // A later call with the same key does not run fn at all.
    const again = await db.transaction(
      async () => {
        runs++;
        return { order: 0 };
      },
      { idempotencyKey: key },
    );
    assert.deepEqual(again, { order: 42 });
    assert.equal(runs, 1);
  });

  it("with an idempotency key and a COMMIT that failed on the server: fn runs again, exactly one effect", async () => {
    // A deferred constraint trigger that terminates its own backend makes COMMIT itself fail
    // after the statement was sent: the client sees a lost connection, the server rolled back.
    await target.sql(`
      CREATE TABLE fragile (id int);
      CREATE FUNCTION die_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM events WHERE note = 'died') THEN
          PERFORM pg_terminate_backend(pg_backend_pid());
        END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER die AFTER INSERT ON fragile DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION die_once();`);
    const db = database({ breaker: false });
    const resolved: boolean[] = [];
    db.on("outcome-resolved", (e) => resolved.push(e.committed));
    let runs = 0;
    const result = await db.transaction(
      async (tx) => {
        runs++;
        await tx.query("INSERT INTO fragile VALUES ($1)", [runs]);
        if (runs === 2) await tx.query("INSERT INTO events (note) VALUES ('died')");
        return runs;
      },
      { idempotencyKey: "fragile:1" },
    );
    assert.equal(result, 2);
    assert.deepEqual(resolved, [false]);
    const rows = await target.sql<{ id: number }>("SELECT id FROM fragile");
    assert.deepEqual(
      rows.map((r) => r.id),
      [2],
    );
  });

  it("an expired key lets the work run again", async () => {
    const db = database();
    let runs = 0;
    const work = () => db.transaction(async () => ++runs, { idempotencyKey: "expiring" });
    assert.equal(await work(), 1);
    assert.equal(await work(), 1);
    await target.sql(
      "UPDATE steadfast_idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'expiring'",
    );
    assert.equal(await work(), 2);
  });
});
