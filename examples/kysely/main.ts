/**
 * Kysely (`PostgresDialect`) on Steadfast's drop-in `Pool`: the dialect takes any `pg.Pool`,
 * so the only change is where `Pool` comes from. Creates a table with Kysely's schema
 * builder, inserts and selects with typed queries, runs a transaction, and drops the table.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch node --import tsx examples/kysely/main.ts
 */
import { type Generated, Kysely, PostgresDialect, sql } from "kysely";
import { Pool } from "steadfast/pg"; // was: import { Pool } from "pg"

const connectionString = process.env.DATABASE_URL;
if (!connectionString)
  throw new Error("set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/scratch");

interface Schema {
  kysely_example_pets: { id: Generated<number>; name: string; species: string; visits: number };
}

const pool = new Pool({ connectionString, max: 5 });
// Kysely's destroy() ends the pool it was given.
const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });

try {
  await db.schema.dropTable("kysely_example_pets").ifExists().execute();
  await db.schema
    .createTable("kysely_example_pets")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("species", "text", (c) => c.notNull())
    .addColumn("visits", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  console.log("created table kysely_example_pets");

  const inserted = await db
    .insertInto("kysely_example_pets")
    .values([
      { name: "Rex", species: "dog", visits: 0 },
      { name: "Tom", species: "cat", visits: 0 },
      { name: "Kiki", species: "cat", visits: 0 },
    ])
    .returning("id")
    .execute();
  console.log(`inserted: ${inserted.length}`);

  const rows = await db.selectFrom("kysely_example_pets").selectAll().orderBy("name").execute();
  console.log(`rows: ${rows.length} (${rows.map((r) => r.name).join(", ")})`);

  const cats = await db
    .selectFrom("kysely_example_pets")
    .select(["name"])
    .where("species", "=", "cat")
    .orderBy("name")
    .execute();
  console.log(`cats: ${cats.map((c) => c.name).join(", ")}`);

  // Both updates run on one connection and commit together.
  const visits = await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("kysely_example_pets")
      .set((eb) => ({ visits: eb("visits", "+", 1) }))
      .where("species", "=", "cat")
      .execute();
    const { total } = await trx
      .selectFrom("kysely_example_pets")
      .select(sql<number>`sum(visits)::int`.as("total"))
      .executeTakeFirstOrThrow();
    return total;
  });
  console.log(`transaction committed: visits=${visits}`);
} finally {
  await db.schema.dropTable("kysely_example_pets").ifExists().execute();
  await db.destroy();
}
