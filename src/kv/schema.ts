import type { Database } from "../db/database.js";
import { classify } from "../errors/classify.js";
import { ConfigError } from "../errors/config-error.js";

/** The table layout a store works with. */
export interface KvTable {
  /** The table's name, a plain (optionally schema-qualified) SQL identifier. */
  readonly name: string;
  /**
   * `"steadfast"`: Steadfast's own table (namespace, key in "C" collation, jsonb value,
   * version, timestamps, expiry). `"adopted"`: an existing Supabase-style table with just
   * `key text primary key, value jsonb`, used as it is (no namespaces, versions or expiry).
   */
  readonly layout: "steadfast" | "adopted";
}

/** Schema version Steadfast's own table is at; kept in the table's comment. */
export const KV_SCHEMA_VERSION = 1;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

/** @internal Validates a table name (it is spliced into SQL, so it must be an identifier). */
export function checkTableName(name: unknown): string {
  if (typeof name !== "string" || !IDENTIFIER.test(name)) {
    throw new ConfigError([
      {
        field: "kv.table",
        expected: "a lower-case SQL identifier such as steadfast_kv or public.kv_store_abc123",
        received: typeof name === "string" ? JSON.stringify(name.slice(0, 70)) : typeof name,
      },
    ]);
  }
  return name;
}

const ready = new WeakMap<object, Map<string, Promise<void>>>();

/**
 * Creates (or checks) the table once per database handle. Steadfast's table keys on
 * `(namespace, key COLLATE "C")`, so a prefix scan is a range scan of the primary key, and
 * keeps an expiry index for the sweeper. An adopted table is only checked to exist with
 * `key` and `value` columns.
 */
export function ensureTable<C>(db: Database<C>, table: KvTable): Promise<void> {
  let perDb = ready.get(db);
  if (!perDb) {
    perDb = new Map();
    ready.set(db, perDb);
  }
  let pending = perDb.get(table.name);
  if (!pending) {
    pending = (
      table.layout === "adopted" ? checkAdopted(db, table.name) : create(db, table.name)
    ).catch((error: unknown) => {
      perDb?.delete(table.name);
      throw error;
    });
    perDb.set(table.name, pending);
  }
  return pending;
}

async function create<C>(db: Database<C>, name: string): Promise<void> {
  const index = `${name.replace(".", "_")}_expires_idx`.slice(0, 63);
  try {
    await db.transaction(async (tx) => {
      await tx.query(`CREATE TABLE IF NOT EXISTS ${name} (
        namespace text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value jsonb NOT NULL,
        version bigint NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        PRIMARY KEY (namespace, key)
      )`);
      await tx.query(
        `CREATE INDEX IF NOT EXISTS ${index} ON ${name} (expires_at) WHERE expires_at IS NOT NULL`,
      );
      await tx.query(`COMMENT ON TABLE ${name} IS 'steadfast-kv v${KV_SCHEMA_VERSION}'`);
    });
  } catch (error) {
    // Two processes creating the table at once collide in the catalog: it exists now.
    const code = classify(error).sqlstate;
    if (code !== "23505" && code !== "42P07") throw error;
  }
}

async function checkAdopted<C>(db: Database<C>, name: string): Promise<void> {
  const { rows } = await db.read<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_name = $1 AND table_schema = COALESCE($2, current_schema())
        AND column_name IN ('key', 'value')`,
    name.includes(".") ? [name.split(".")[1], name.split(".")[0]] : [name, null],
  );
  if (rows.length !== 2) {
    throw new ConfigError([
      {
        field: "kv.table",
        expected: "an existing table with columns key (text, primary key) and value (jsonb)",
        received: `${name} (${rows.length === 0 ? "missing" : "without both columns"})`,
      },
    ]);
  }
}
