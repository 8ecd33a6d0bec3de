/**
 * Drizzle ORM on Steadfast's drop-in `Pool`: the only change from a stock Drizzle setup is the
 * import of `Pool`. Creates a table, inserts and selects, then shows a committed transaction
 * and one that rolls back. It owns one table, `drizzle_example_accounts`, and drops it at the end.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx examples/drizzle/main.ts
 */
import { asc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { integer, pgTable, serial, text } from "drizzle-orm/pg-core";
import { Pool } from "steadfast/pg"; // was: import { Pool } from "pg"

const connectionString = process.env.DATABASE_URL;
if (!connectionString)
  throw new Error("set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test");

const accounts = pgTable("drizzle_example_accounts", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  balance: integer("balance").notNull(),
});

// Same options as pg.Pool; Steadfast validates idle connections, drops dead ones and bounds
// the wait for a connection (connectionTimeoutMillis defaults to 10 s, not forever).
const pool = new Pool({ connectionString, max: 5 });
const db = drizzle(pool);

async function balances(): Promise<string> {
  const rows = await db.select().from(accounts).orderBy(asc(accounts.name));
  return rows.map((r) => `${r.name}=${r.balance}`).join(", ");
}

try {
  await db.execute(sql`drop table if exists drizzle_example_accounts`);
  await db.execute(
    sql`create table drizzle_example_accounts (id serial primary key, name text not null unique, balance integer not null)`,
  );
  console.log("created table drizzle_example_accounts");

  const inserted = await db
    .insert(accounts)
    .values([
      { name: "alice", balance: 100 },
      { name: "bob", balance: 50 },
      { name: "carol", balance: 0 },
    ])
    .returning({ id: accounts.id });
  console.log(`inserted: ${inserted.length}`);

  const rows = await db.select().from(accounts);
  console.log(`rows: ${rows.length} (${await balances()})`);

  // A transfer: both updates commit together, on one connection the pool hands Drizzle.
  await db.transaction(async (tx) => {
    await tx
      .update(accounts)
      .set({ balance: sql`${accounts.balance} - 30` })
      .where(eq(accounts.name, "alice"));
    await tx
      .update(accounts)
      .set({ balance: sql`${accounts.balance} + 30` })
      .where(eq(accounts.name, "bob"));
  });
  console.log(`transfer committed: ${await balances()}`);

  // An overdraft: the second statement throws, so the first one is rolled back too.
  try {
    await db.transaction(async (tx) => {
      await tx
        .update(accounts)
        .set({ balance: sql`${accounts.balance} + 500` })
        .where(eq(accounts.name, "bob"));
      const [carol] = await tx.select().from(accounts).where(eq(accounts.name, "carol"));
      if ((carol?.balance ?? 0) < 500) throw new Error("insufficient funds");
    });
  } catch (error) {
    console.log(`overdraft rolled back (${(error as Error).message}): ${await balances()}`);
  }
  const [total] = await db
    .select({ sum: sql<number>`sum(${accounts.balance})::int` })
    .from(accounts);
  console.log(`total: ${total?.sum}`);
  console.log(`pool: total=${pool.totalCount} idle=${pool.idleCount} waiting=${pool.waitingCount}`);
} finally {
  await db.execute(sql`drop table if exists drizzle_example_accounts`);
  await pool.end();
}
