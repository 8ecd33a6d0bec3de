import type { KvTable } from "./schema.js";

/** The statements a store runs, for one table layout. */
export interface KvSql {
  readonly get: string;
  readonly has: string;
  readonly mget: string;
  readonly set: string;
  readonly insertIfAbsent: string;
  readonly updateIfVersion: string;
  readonly mset: string;
  readonly del: string;
  readonly mdel: string;
  readonly list: string;
  readonly sweep: string;
}

const SWEEP_BATCH = 1_000;

/**
 * Builds the statements. Steadfast's table: `$1` is always the namespace, keys are "C"
 * collated, expired rows are invisible. An adopted table has only `key` and `value`; its keys
 * use the database's collation, so range comparisons say `COLLATE "C"` explicitly to keep
 * prefix semantics exact (an index on `key COLLATE "C"` makes them range scans).
 */
export function kvSql(table: KvTable): KvSql {
  const t = table.name;
  if (table.layout === "adopted") {
    const k = `key COLLATE "C"`;
    return {
      get: `SELECT key, value FROM ${t} WHERE key = $1`,
      has: `SELECT 1 FROM ${t} WHERE key = $1`,
      mget: `SELECT key, value FROM ${t} WHERE key = ANY($1::text[])`,
      set: `INSERT INTO ${t} (key, value) VALUES ($1, $2::jsonb)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      insertIfAbsent: "",
      updateIfVersion: "",
      mset: `INSERT INTO ${t} (key, value) SELECT k, v::jsonb FROM unnest($1::text[], $2::text[]) AS u(k, v)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      del: `DELETE FROM ${t} WHERE key = $1 RETURNING true AS live`,
      mdel: `DELETE FROM ${t} WHERE key = ANY($1::text[]) RETURNING true AS live`,
      list: `SELECT key, value FROM ${t}
             WHERE ${k} >= $1 AND ($2::text IS NULL OR ${k} < $2) AND ($3::text IS NULL OR ${k} > $3)
             ORDER BY ${k} LIMIT $4`,
      sweep: "",
    };
  }
  const live = "(expires_at IS NULL OR expires_at > now())";
  const expiry =
    "CASE WHEN $%::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $%::float8) END";
  const exp = (n: number) => expiry.replaceAll("$%", `$${n}`);
  const upsert = `ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, version = kv.version + 1,
                  updated_at = now(), expires_at = EXCLUDED.expires_at`;
  return {
    get: `SELECT key, value, version, updated_at, expires_at FROM ${t}
          WHERE namespace = $1 AND key = $2 AND ${live}`,
    has: `SELECT 1 FROM ${t} WHERE namespace = $1 AND key = $2 AND ${live}`,
    mget: `SELECT key, value FROM ${t} WHERE namespace = $1 AND key = ANY($2::text[]) AND ${live}`,
    set: `INSERT INTO ${t} AS kv (namespace, key, value, expires_at) VALUES ($1, $2, $3::jsonb, ${exp(4)})
          ${upsert} RETURNING version`,
    // An expired row counts as absent.
    insertIfAbsent: `INSERT INTO ${t} AS kv (namespace, key, value, expires_at) VALUES ($1, $2, $3::jsonb, ${exp(4)})
          ${upsert} WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= now() RETURNING version`,
    updateIfVersion: `UPDATE ${t} SET value = $3::jsonb, version = version + 1, updated_at = now(), expires_at = ${exp(4)}
          WHERE namespace = $1 AND key = $2 AND version = $5 AND ${live} RETURNING version`,
    mset: `INSERT INTO ${t} AS kv (namespace, key, value, expires_at)
           SELECT $1, k, v::jsonb, ${exp(4)} FROM unnest($2::text[], $3::text[]) AS u(k, v)
           ${upsert}`,
    del: `DELETE FROM ${t} WHERE namespace = $1 AND key = $2 RETURNING ${live} AS live`,
    mdel: `DELETE FROM ${t} WHERE namespace = $1 AND key = ANY($2::text[]) RETURNING ${live} AS live`,
    list: `SELECT key, value, version, updated_at, expires_at FROM ${t}
           WHERE namespace = $1 AND key >= $2 AND ($3::text IS NULL OR key < $3)
             AND ($4::text IS NULL OR key > $4) AND ${live}
           ORDER BY key LIMIT $5`,
    sweep: `DELETE FROM ${t} WHERE ctid = ANY (ARRAY(
              SELECT ctid FROM ${t} WHERE expires_at IS NOT NULL AND expires_at <= now() LIMIT ${SWEEP_BATCH}))`,
  };
}
