import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { sql as drizzleSql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTable, serial, text } from "drizzle-orm/pg-core";
import { type Generated, Kysely, PostgresDialect } from "kysely";
import type pg from "pg";
import { Pool } from "../../src/drivers/pg/pool.js";
import { adminQuery, freshDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

const db = await freshDatabase("pg_pool");
let appCounter = 0;

function newPool(config: ConstructorParameters<typeof Pool>[0] = {}) {
  const applicationName = `sf_dropin_${process.pid}_${appCounter++}`;
  const pool = new Pool({ connectionString: db.url, application_name: applicationName, ...config });
  after(() => (pool.ending ? undefined : pool.end()));
  return { pool, applicationName };
}

async function terminateAll(applicationName: string): Promise<number> {
  const rows = await adminQuery<{ ok: boolean }>(
    "select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1",
    [applicationName],
  );
  return rows.filter((r) => r.ok).length;
}

describe("drop-in Pool: pg.Pool's API", () => {
  it("query() takes text, values, config objects and callbacks", async () => {
    const { pool } = newPool();
    const a = await pool.query("select $1::int + 1 as n", [41]);
    assert.equal(a.rows[0].n, 42);
    const b = await pool.query({ text: "select $1::text as s", values: ["x"], rowMode: "array" });
    assert.deepEqual(b.rows[0], ["x"]);
    const c = await new Promise<pg.QueryResult>((resolve, reject) =>
      pool.query("select 7 as seven", (err, res) =>
        err ? reject(err) : resolve(res as pg.QueryResult),
      ),
    );
    assert.equal(c.rows[0].seven, 7);
    const d = await new Promise<pg.QueryResult>((resolve, reject) =>
      pool.query("select $1::int as v", [3], (err, res) =>
        err ? reject(err) : resolve(res as pg.QueryResult),
      ),
    );
    assert.equal(d.rows[0].v, 3);
  });

  it("connect() hands out a client with release(), by promise and by callback", async () => {
    const { pool } = newPool({ max: 2 });
    const client = await pool.connect();
    assert.equal((await client.query("select 1 as one")).rows[0].one, 1);
    assert.equal(pool.totalCount, 1);
    assert.equal(pool.idleCount, 0);
    client.release();
    assert.equal(pool.idleCount, 1);
    assert.throws(() => client.release(), /already been released/);
    await new Promise<void>((resolve, reject) =>
      pool.connect((err, c, done) => {
        if (err || !c || !done) return reject(err);
        c.query("select 1").then(() => {
          done();
          resolve();
        }, reject);
      }),
    );
  });

  it("emits connect, acquire, release and remove, and counts waiters", async () => {
    const { pool } = newPool({ max: 1 });
    const seen: string[] = [];
    for (const event of ["connect", "acquire", "release", "remove"])
      pool.on(event, () => seen.push(event));
    const client = await pool.connect();
    const waiting = pool.connect();
    await waitFor("a waiter", () => pool.waitingCount === 1);
    client.release(new Error("done with it")); // release(err) destroys, as pg documents
    (await waiting).release();
    assert.deepEqual(seen, [
      "connect",
      "acquire",
      "release",
      "remove",
      "connect",
      "acquire",
      "release",
    ]);
    assert.equal(pool.expiredCount, 0);
  });

  it("end() closes the pool once; a second end() is an error", async () => {
    const { pool } = newPool();
    await pool.query("select 1");
    await pool.end();
    assert.ok(pool.ended);
    await assert.rejects(pool.end(), /more than once/);
    await assert.rejects(
      pool.query("select 1"),
      (e: { code?: string }) => e.code === "POOL_CLOSED",
    );
  });

  it("an idle client killed by the server never crashes the process, with or without an error listener", async () => {
    const { pool, applicationName } = newPool({ max: 3 });
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const c of clients) c.release();
    assert.equal(await terminateAll(applicationName), 3);
    await waitFor("removal of the dead clients", () => pool.totalCount === 0);
    const listened: unknown[] = [];
    pool.on("error", (err) => listened.push(err));
    await Promise.all([pool.connect(), pool.connect()]).then((cs) => {
      for (const c of cs) c.release();
    });
    assert.equal(await terminateAll(applicationName), 2);
    await waitFor("error events for the listener", () => listened.length === 2);
    assert.match(String((listened[0] as Error).message), /terminating connection/);
  });

  it("keeps the connection after a statement error, destroys it after a connection error", async () => {
    const { pool } = newPool({ max: 1 });
    const pid = (await pool.query("select pg_backend_pid() as pid")).rows[0].pid;
    await assert.rejects(
      pool.query("select * from no_such_table"),
      (e: { code?: string }) => e.code === "42P01",
    );
    assert.equal(
      (await pool.query("select pg_backend_pid() as pid")).rows[0].pid,
      pid,
      "same backend after a syntax-class error",
    );
    await assert.rejects(pool.query("select pg_terminate_backend(pg_backend_pid())"));
    const after = (await pool.query("select pg_backend_pid() as pid")).rows[0].pid;
    assert.notEqual(after, pid, "a new backend after the connection died");
  });
});

describe("drop-in Pool under ORMs", () => {
  it("Drizzle (node-postgres): queries and transactions, with backends terminated mid-run", async () => {
    const { pool, applicationName } = newPool({ max: 4 });
    const notes = pgTable("drizzle_notes", {
      id: serial("id").primaryKey(),
      body: text("body").notNull(),
      n: integer("n"),
    });
    const orm = drizzle(pool);
    await orm.execute(
      drizzleSql`create table drizzle_notes (id serial primary key, body text not null, n int)`,
    );
    for (let round = 0; round < 5; round++) {
      await orm.insert(notes).values([{ body: `round ${round}`, n: round }]);
      await orm.transaction(async (tx) => {
        await tx.insert(notes).values({ body: `tx ${round}`, n: round });
        await tx
          .update(notes)
          .set({ n: round * 10 })
          .where(drizzleSql`body = ${`tx ${round}`}`);
      });
      // Between rounds the server kills every idle backend; the ORM's users never notice.
      await waitFor("all clients back in the pool", () => pool.idleCount === pool.totalCount);
      const killed = await terminateAll(applicationName);
      assert.ok(killed >= 1, "backends were really terminated");
      await waitFor("the pool to drop the dead backends", () => pool.totalCount === 0);
    }
    const rows = await orm.select().from(notes);
    assert.equal(rows.length, 10);
    assert.equal(
      rows.filter((r) => r.body.startsWith("tx")).reduce((sum, r) => sum + (r.n ?? 0), 0),
      100,
    );
  });

  it("Kysely (PostgresDialect): queries and transactions, with backends terminated mid-run", async () => {
    const { pool, applicationName } = newPool({ max: 4 });
    interface Schema {
      kysely_items: { id: Generated<number>; name: string; qty: number };
    }
    const k = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    await k.schema
      .createTable("kysely_items")
      .addColumn("id", "serial", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("qty", "integer", (c) => c.notNull())
      .execute();
    for (let round = 0; round < 5; round++) {
      await k
        .insertInto("kysely_items")
        .values({ name: `item ${round}`, qty: round })
        .execute();
      await k.transaction().execute(async (trx) => {
        await trx
          .insertInto("kysely_items")
          .values({ name: `tx ${round}`, qty: 1 })
          .execute();
        await trx
          .updateTable("kysely_items")
          .set({ qty: 2 })
          .where("name", "=", `tx ${round}`)
          .execute();
      });
      await waitFor("all clients back in the pool", () => pool.idleCount === pool.totalCount);
      assert.ok((await terminateAll(applicationName)) >= 1, "backends were really terminated");
      await waitFor("the pool to drop the dead backends", () => pool.totalCount === 0);
    }
    const rows = await k.selectFrom("kysely_items").selectAll().execute();
    assert.equal(rows.length, 10);
    assert.equal(
      rows.filter((r) => r.name.startsWith("tx")).reduce((s, r) => s + r.qty, 0),
      10,
    );
    // Kysely's destroy() ends the pool.
    await k.destroy();
  });
});

describe("drop-in Pool: process lifetime", () => {
  it("allowExitOnIdle lets the process exit while a client is still idle in the pool", async () => {
    const { execFile } = await import("node:child_process");
    const fixture = new URL("./fixtures/exit-on-idle.ts", import.meta.url).pathname;
    const started = performance.now();
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["--import", "tsx", fixture, db.url],
        { timeout: 20_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    assert.deepEqual(
      JSON.parse(output),
      { one: 1, total: 1 },
      "the pool still held an idle client at the end",
    );
    assert.ok(performance.now() - started < 15_000);
  });
});
