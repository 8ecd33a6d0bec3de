/**
 * Adopting an existing Supabase-style KV table (`key text primary key, value jsonb`) with
 * `db.kv({ table, adopt: true })`: no migration, existing rows readable at once, and prefix
 * scans that treat `%`, `_` and `\` as plain characters (a `LIKE 'user_%'` would not).
 *
 * The example plays both sides: it first creates the table and rows the way a Supabase edge
 * function's kv_store would have, then adopts it. It drops the table at the end.
 *
 * Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch node --import tsx examples/supabase-kv/main.ts
 */
import { isSteadfastError } from "steadfast";
import { createDatabaseFromEnv } from "steadfast/pg";

const TABLE = "kv_store_abc123";
const db = createDatabaseFromEnv({ preset: "local" });

try {
  // What already exists: Supabase's kv_store table, with rows written by other code.
  await db.write(`drop table if exists ${TABLE}`);
  await db.write(`create table ${TABLE} (key text not null primary key, value jsonb not null)`);
  await db.write(
    `insert into ${TABLE} (key, value) values ('user_1', '{"name":"Ada"}'), ('userX1', '{"name":"Xavier"}')`,
  );
  console.log(`existing table ${TABLE}: 2 rows`);

  // Adopt it as it is: only key and value are used (no namespaces, versions or TTLs).
  const kv = db.kv({ table: TABLE, adopt: true });
  console.log(`get("user_1"): ${JSON.stringify(await kv.get("user_1"))}`);

  // Keys with LIKE's wildcards (% and _) and LIKE's escape character (\) in them.
  await kv.mset({
    user_2: { name: "Grace" },
    "50%_off": { sale: "half price" },
    "50%x": { sale: "fifty percent x" },
    "500": { note: "starts with 50, no percent sign" },
    "dir\\a": { path: "dir\\a" },
    "dir\\b": { path: "dir\\b" },
    dirXa: { path: "dirXa" },
  });
  console.log(`mset: 7 keys (${(await kv.list({ limit: 100 })).items.length} in the table)`);

  // getByPrefix returns values (Supabase's API); list() returns the entries with their keys.
  const names = await kv.getByPrefix<{ name: string }>("user_");
  console.log(`getByPrefix("user_"): ${JSON.stringify(names.map((v) => v.name))}`);
  for (const prefix of ["user_", "50%", "50%_", "dir\\"]) {
    const { items } = await kv.list({ prefix });
    console.log(
      `keys with prefix ${JSON.stringify(prefix)}: ${JSON.stringify(items.map((e) => e.key))}`,
    );
  }

  // What a naive LIKE would have matched instead, for comparison.
  const like = await db.read<{ key: string }>(
    `select key from ${TABLE} where key like $1 || '%' order by key collate "C"`,
    ["user_"],
  );
  console.log(`naive LIKE 'user_%' would match: ${JSON.stringify(like.rows.map((r) => r.key))}`);

  // Steadfast-only features need Steadfast's own table: a clear error, not a silent no-op.
  try {
    await kv.set("session", { id: 1 }, { ttl: "10m" });
  } catch (error) {
    console.log(
      `set with ttl on an adopted table: ${isSteadfastError(error) ? error.code : error}`,
    );
  }
} finally {
  await db.write(`drop table if exists ${TABLE}`).catch(() => {});
  await db.close();
}
