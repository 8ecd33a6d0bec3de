import { classify } from "../errors/classify.js";
import type { Database } from "./database.js";
import type { QueryResult } from "./driver.js";

/** Runs one statement inside the transaction being built. */
type Run = <R>(sql: string, params?: readonly unknown[]) => Promise<QueryResult<R>>;

const ensured = new WeakMap<object, Promise<void>>();
const lastSweep = new WeakMap<object, number>();
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_BATCH = 1_000;

/**
 * Creates the key table once per database handle. Concurrent `CREATE TABLE IF NOT EXISTS`
 * from several processes can still collide in the catalog (23505 / 42P07): that means the
 * table exists, which is all we wanted.
 */
export function ensureKeyTable<C>(db: Database<C>): Promise<void> {
  let pending = ensured.get(db);
  if (pending === undefined) {
    const t = db.options.idempotencyTable;
    pending = db
      .write(
        `CREATE TABLE IF NOT EXISTS ${t} (
           key text PRIMARY KEY,
           result jsonb,
           created_at timestamptz NOT NULL DEFAULT now(),
           expires_at timestamptz NOT NULL
         )`,
        [],
        { idempotent: true },
      )
      .then(
        () => undefined,
        (error: unknown) => {
          const code = classify(error).sqlstate;
          if (code === "23505" || code === "42P07") return;
          ensured.delete(db);
          throw error;
        },
      );
    ensured.set(db, pending);
  }
  return pending;
}

/**
 * Claims `key` inside the current transaction. The insert takes the key's row lock, so if
 * another transaction (or a backend whose COMMIT answer we lost) holds the key, this waits until
 * that transaction ends — and then learns the truth: a committed key means "already done, here
 * is the result"; a rolled-back one lets us claim it. An expired key is claimed afresh.
 */
export async function claimKey<C>(
  db: Database<C>,
  run: Run,
  key: string,
): Promise<{ owned: true } | { owned: false; result: unknown }> {
  const t = db.options.idempotencyTable;
  const claimed = await run(
    `INSERT INTO ${t} AS k (key, expires_at) VALUES ($1, now() + make_interval(secs => $2))
     ON CONFLICT (key) DO UPDATE SET result = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()
     RETURNING 1`,
    [key, db.options.idempotencyTtl / 1000],
  );
  if ((claimed.rowCount ?? 0) > 0) return { owned: true };
  const stored = await run<{ result: unknown }>(`SELECT result FROM ${t} WHERE key = $1`, [key]);
  return { owned: false, result: stored.rows[0]?.result ?? undefined };
}

/** Stores the transaction's result with its key, before COMMIT, so a replay can return it. */
export async function storeResult<C>(
  db: Database<C>,
  run: Run,
  key: string,
  result: unknown,
): Promise<void> {
  let json: string;
  try {
    json = JSON.stringify(result === undefined ? null : result);
  } catch (error) {
    throw new TypeError(
      `A transaction with an idempotencyKey must return a JSON-serializable result (${String(error)})`,
    );
  }
  await run(`UPDATE ${db.options.idempotencyTable} SET result = $2::jsonb WHERE key = $1`, [
    key,
    json,
  ]);
}

/** Deletes a bounded batch of expired keys, at most once a minute per handle, in the background. */
export function sweepExpiredKeys<C>(db: Database<C>): void {
  const now = db.options.clock.now();
  if (now - (lastSweep.get(db) ?? Number.NEGATIVE_INFINITY) < SWEEP_INTERVAL_MS) return;
  lastSweep.set(db, now);
  const t = db.options.idempotencyTable;
  db.write(
    `DELETE FROM ${t} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${t} WHERE expires_at <= now() LIMIT ${SWEEP_BATCH}))`,
    [],
    { idempotent: true },
  ).catch(() => {
    // Best effort: the next sweep tries again, and expired keys are reclaimed on claim anyway.
  });
}
