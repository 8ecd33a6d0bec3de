import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { DatabaseDriver, QueryResult } from "../../src/index.js";
import { createDatabase, UnknownOutcomeError } from "../../src/index.js";
import { FakeClock, flushMicrotasks } from "../../src/testing/fake-clock.js";
import { type FakeConnection, FakeConnector } from "../pool/fake-connector.js";

// The one race a real server cannot be made to hit on demand: the deadline fires while a
// statement runs (so its connection is handed to the background reclaim), and then the
// statement comes back successfully anyway. Found by the chaos scorecard as a crash.

const unhandled: unknown[] = [];
const onUnhandled = (error: unknown) => unhandled.push(error);
process.on("unhandledRejection", onUnhandled);
after(() => process.off("unhandledRejection", onUnhandled));

interface Pending {
  readonly sql: string;
  resolve(): void;
}

function scriptedDriver(connector: FakeConnector, held: (sql: string) => boolean) {
  const pending: Pending[] = [];
  const driver: DatabaseDriver<FakeConnection> = {
    name: "scripted",
    target: "scripted",
    connector,
    query<R>(_connection: FakeConnection, sql: string): Promise<QueryResult<R>> {
      const result = { rows: [] as R[], rowCount: 0, command: sql.split(" ")[0] ?? "" };
      if (!held(sql)) return Promise.resolve(result);
      return new Promise((resolve) => pending.push({ sql, resolve: () => resolve(result) }));
    },
    // The cancel is delivered but, as on a real server racing it, changes nothing.
    cancel: () => Promise.resolve(true),
  };
  return { driver, pending };
}

describe("a statement that returns after its deadline abandoned it", () => {
  it("COMMIT: the connection is released once, by the reclaim; the caller learns the outcome is unknown", async () => {
    const clock = new FakeClock();
    const connector = new FakeConnector();
    let commits = 0;
    const { driver, pending } = scriptedDriver(
      connector,
      (sql) => sql === "COMMIT" && commits++ === 0,
    );
    const db = createDatabase({
      driver,
      clock,
      timeout: "1s",
      serverTimeout: false,
      breaker: false,
      pool: { max: 1, minIdle: 0, keepalive: 0 },
    });
    const call = db
      .transaction((tx) => tx.query("INSERT INTO t VALUES (1)").then(() => "done"))
      .catch((e: unknown) => e);
    for (let i = 0; i < 50 && pending.length === 0; i++) await flushMicrotasks();
    assert.equal(pending[0]?.sql, "COMMIT", "COMMIT is in flight");
    await clock.tick(1_000); // the deadline fires during COMMIT
    pending[0]?.resolve(); // ...and COMMIT succeeds after all
    let settled = false;
    void call.then(() => {
      settled = true;
    });
    for (let i = 0; i < 100 && !settled; i++) await clock.tick(100);
    const error = await call;
    for (let i = 0; i < 20; i++) await clock.tick(100);
    assert.ok(error instanceof UnknownOutcomeError, `got ${String(error)}`);
    assert.deepEqual(unhandled, [], "no unhandled rejection (it would end the process)");
    const pool = db.stats().pool;
    assert.equal(pool.active, 0);
    assert.equal(pool.idle + pool.destroyed["released-with-error"], 1, "released exactly once");
    // The pool still works: the connection went back once and can be handed out again.
    assert.equal(await db.transaction(async () => "again"), "again");
    await db.close({ drain: 0 });
  });
});
