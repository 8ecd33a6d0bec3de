/**
 * Smoke tests of `examples/`: each example runs as a child process, exactly as its README
 * says (`node --import tsx examples/<name>/main.ts`), against a fresh database, and its output
 * is checked for specific values. The examples import `steadfast` through the package's own
 * `exports` (dist/), so the build runs first.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freshDatabase } from "../helpers/db.js";
import { build, killChildren, runExample } from "./run.js";

before(() => build(), { timeout: 120_000 });
after(killChildren);

describe("examples/drizzle", () => {
  it("creates, inserts, selects, commits a transfer and rolls back an overdraft", async () => {
    const target = await freshDatabase("ex_drizzle");
    const run = await runExample("examples/drizzle/main.ts", { DATABASE_URL: target.url });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n").slice(0, 6), [
      "created table drizzle_example_accounts",
      "inserted: 3",
      "rows: 3 (alice=100, bob=50, carol=0)",
      "transfer committed: alice=70, bob=80, carol=0",
      "overdraft rolled back (insufficient funds): alice=70, bob=80, carol=0",
      "total: 150",
    ]);
    const left = await target.sql("select to_regclass('drizzle_example_accounts') as t");
    assert.equal(left[0]?.t, null, "the example drops its table");
  });
});

describe("examples/kysely", () => {
  it("creates with the schema builder, inserts, selects and commits a transaction", async () => {
    const target = await freshDatabase("ex_kysely");
    const run = await runExample("examples/kysely/main.ts", { DATABASE_URL: target.url });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      "created table kysely_example_pets",
      "inserted: 3",
      "rows: 3 (Kiki, Rex, Tom)",
      "cats: Kiki, Tom",
      "transaction committed: visits=2",
    ]);
    const left = await target.sql("select to_regclass('kysely_example_pets') as t");
    assert.equal(left[0]?.t, null, "the example drops its table");
  });
});
